// Native kernels: element-wise ops (activations and their gradients, arithmetic with NumPy/TF
// broadcasting, AddN) for float32 tensors; int32, bool and complex tensors take the CPU kernel.
// Training runs thousands of these per step, most on tiny tensors (Adam's scalar multiplies, logits),
// so the JS side stays lean: addon functions are resolved once, op codes are plain numbers, a
// broadcast is planned into one reused Int32Array, and the output array is the only allocation in
// the common case (float32 inputs, output shape equal to an input's).
import type * as tfjs from '@tensorflow/tfjs'
import { MaltError } from '../../../errors.js'
import type { NativeAddon } from '../addon.js'
import { nativeFunction } from '../addon.js'
import { RELU_GRAD_KERNEL } from '../relu-grad.js'
import { floatValues, type NativeKernel, type NativeKernelTable, outputArray } from './types.js'

type UnaryFn = (op: number, x: Float32Array, out: Float32Array, alpha: number, beta: number) => void
type BinaryFn = (op: number, a: Float32Array, b: Float32Array, out: Float32Array, layout: Int32Array) => void
type AddNFn = (inputs: Float32Array[], out: Float32Array) => void
type OpsFn = () => { unary: string[]; binary: string[] }

/** Most dimensions a broadcast may have after collapsing; the native loop's limit. */
const MAX_COLLAPSED_RANK = 6
/** Int32Array strides and sizes: larger outputs take the CPU kernel. */
const MAX_ELEMENTS = 0x7fffffff

/** Reads a float32 input (integer-backed casts converted; see floatValues). */
const floatInput = floatValues

/** The attributes a unary op passes to the native loop; written by the readers below, not allocated per call. */
let attrAlpha = 0
let attrBeta = 0

/** The unary ops and how each reads its attributes into attrAlpha/attrBeta; false = unsupported attrs. */
const unaryAttrs: Record<string, (attrs: tfjs.NamedAttrMap) => boolean> = {
  Relu: none,
  Relu6: none,
  Elu: none,
  LeakyRelu: (attrs) => setAttrs(attrs.alpha, 0),
  Sigmoid: none,
  Tanh: none,
  Step: (attrs) => setAttrs(attrs.alpha, 0),
  Exp: none,
  Log: none,
  Log1p: none,
  Expm1: none,
  Sqrt: none,
  Rsqrt: none,
  Square: none,
  Neg: none,
  Abs: none,
  Reciprocal: none,
  ClipByValue: (attrs) => setAttrs(attrs.clipValueMin, attrs.clipValueMax),
  Softplus: none,
}

function none(): boolean {
  return true
}

function setAttrs(alpha: unknown, beta: unknown): boolean {
  if (typeof alpha !== 'number' || typeof beta !== 'number') return false
  attrAlpha = alpha
  attrBeta = beta
  return true
}

/** Binary kernels with broadcasting (inputs a, b). EluGrad (dy, y) is handled separately. */
const broadcastingOps = ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference', 'Pow']

/**
 * A broadcast of two shapes, planned for the native loop: `layout` holds
 * [rank, (size, aStride, bStride) x rank] with dim 0 innermost, after dropping size-1 dims and
 * merging neighbours that broadcast the same way ([64,26,26,16] + [16] becomes two dims: 43264 rows
 * of 16, b's stride 0 along the rows). One array, reused by every call (kernels run synchronously).
 */
const layout = new Int32Array(1 + 3 * MAX_COLLAPSED_RANK)
let plannedSize = 0

/**
 * Plans `aShape` op `bShape` into `layout` and `plannedSize`; returns the output shape, or null when
 * the shapes do not broadcast (the CPU kernel then throws TF.js's own error) or need more than
 * MAX_COLLAPSED_RANK dims. Returns an input's shape array when it is the output's (TF.js copies it).
 */
function planBroadcast(aShape: number[], bShape: number[]): number[] | null {
  const aRank = aShape.length
  const bRank = bShape.length
  const rank = aRank > bRank ? aRank : bRank
  let aIsOutput = aRank === rank
  let bIsOutput = bRank === rank
  let size = 1
  let collapsed = 0
  let lastKind = -1 // 0: both inputs span the dim, 1: a is broadcast along it, 2: b is
  let aStride = 1
  let bStride = 1
  for (let fromEnd = 1; fromEnd <= rank; fromEnd++) {
    const aDim = fromEnd <= aRank ? aShape[aRank - fromEnd] : 1
    const bDim = fromEnd <= bRank ? bShape[bRank - fromEnd] : 1
    let dim: number
    let kind: number
    if (aDim === bDim) {
      dim = aDim
      kind = 0
    } else if (aDim === 1) {
      dim = bDim
      kind = 1
      aIsOutput = false
    } else if (bDim === 1) {
      dim = aDim
      kind = 2
      bIsOutput = false
    } else {
      return null
    }
    size *= dim
    if (dim === 1) continue
    if (kind === lastKind) {
      layout[3 * collapsed - 2] *= dim
    } else {
      if (collapsed === MAX_COLLAPSED_RANK) return null
      layout[1 + 3 * collapsed] = dim
      layout[2 + 3 * collapsed] = kind === 1 ? 0 : aStride
      layout[3 + 3 * collapsed] = kind === 2 ? 0 : bStride
      collapsed++
      lastKind = kind
    }
    if (kind !== 1) aStride *= dim
    if (kind !== 2) bStride *= dim
  }
  if (size > MAX_ELEMENTS) return null
  if (collapsed === 0) {
    // Every dim is 1: a single element.
    layout[1] = 1
    layout[2] = 1
    layout[3] = 1
    collapsed = 1
  }
  layout[0] = collapsed
  plannedSize = size
  if (aIsOutput) return aShape
  if (bIsOutput) return bShape
  const shape = new Array<number>(rank)
  for (let fromEnd = 1; fromEnd <= rank; fromEnd++) {
    const aDim = fromEnd <= aRank ? aShape[aRank - fromEnd] : 1
    shape[rank - fromEnd] = aDim === 1 && fromEnd <= bRank ? bShape[bRank - fromEnd] : aDim
  }
  return shape
}

/** Plans two same-shape inputs (EluGrad): one contiguous row. */
function planSameShape(size: number): void {
  layout[0] = 1
  layout[1] = size
  layout[2] = 1
  layout[3] = 1
  plannedSize = size
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function opCodes(names: string[], wanted: readonly string[], family: string): Map<string, number> {
  const codes = new Map<string, number>()
  for (const name of wanted) {
    const code = names.indexOf(name)
    if (code < 0) {
      throw new MaltError(
        'NATIVE_STALE',
        `The malt-native addon has no ${family} op ${name}: it is older than this Malt; run npm run build:native`,
      )
    }
    codes.set(name, code)
  }
  return codes
}

export function elementwiseKernels(addon: NativeAddon): NativeKernelTable {
  const unary = nativeFunction<UnaryFn>(addon, 'elementwiseUnary')
  const binary = nativeFunction<BinaryFn>(addon, 'elementwiseBinary')
  const addN = nativeFunction<AddNFn>(addon, 'elementwiseAddN')
  const ops = nativeFunction<OpsFn>(addon, 'elementwiseOps')()
  const unaryCodes = opCodes(ops.unary, Object.keys(unaryAttrs), 'unary')
  const binaryCodes = opCodes(ops.binary, [...broadcastingOps, 'EluGrad', 'ReluGrad'], 'binary')
  const table: NativeKernelTable = {}

  for (const [name, readAttrs] of Object.entries(unaryAttrs)) {
    const code = unaryCodes.get(name) as number
    const kernel: NativeKernel = ({ inputs, backend, attrs }) => {
      const x = inputs.x
      if (x === undefined) return null
      const values = floatInput(backend, x)
      if (values === null) return null
      if (!readAttrs(attrs)) return null
      const out = outputArray(values.length)
      unary(code, values, out, attrAlpha, attrBeta)
      return backend.makeTensorInfo(x.shape, 'float32', out)
    }
    table[name] = kernel
  }

  for (const name of broadcastingOps) {
    const code = binaryCodes.get(name) as number
    const kernel: NativeKernel = ({ inputs, backend }) => {
      const { a, b } = inputs
      if (a === undefined || b === undefined) return null
      const aValues = floatInput(backend, a)
      if (aValues === null) return null
      const bValues = floatInput(backend, b)
      if (bValues === null) return null
      const shape = planBroadcast(a.shape, b.shape)
      if (shape === null) return null
      const out = outputArray(plannedSize)
      if (plannedSize > 0) binary(code, aValues, bValues, out, layout)
      return backend.makeTensorInfo(shape, 'float32', out)
    }
    table[name] = kernel
  }

  const eluGradCode = binaryCodes.get('EluGrad') as number
  table.EluGrad = ({ inputs, backend }) => {
    const { dy, y } = inputs
    if (dy === undefined || y === undefined) return null
    const dyValues = floatInput(backend, dy)
    const yValues = floatInput(backend, y)
    if (dyValues === null || yValues === null || !sameShape(dy.shape, y.shape)) return null
    planSameShape(yValues.length)
    const out = outputArray(yValues.length)
    if (yValues.length > 0) binary(eluGradCode, dyValues, yValues, out, layout)
    return backend.makeTensorInfo(y.shape, 'float32', out)
  }

  // Malt's fused Relu gradient (relu-grad.ts): dy * step(x) in one pass instead of Step + Multiply.
  const reluGradCode = binaryCodes.get('ReluGrad') as number
  table[RELU_GRAD_KERNEL] = ({ inputs, backend }) => {
    const { dy, x } = inputs
    if (dy === undefined || x === undefined) return null
    const dyValues = floatInput(backend, dy)
    const xValues = floatInput(backend, x)
    if (dyValues === null || xValues === null || !sameShape(dy.shape, x.shape)) return null
    planSameShape(xValues.length)
    const out = outputArray(xValues.length)
    if (xValues.length > 0) binary(reluGradCode, dyValues, xValues, out, layout)
    return backend.makeTensorInfo(x.shape, 'float32', out)
  }

  table.AddN = ({ inputs, backend }) => {
    // tf.addN passes its tensors as an array in place of the usual name map.
    const tensors = inputs as unknown as tfjs.TensorInfo[]
    if (!Array.isArray(tensors) || tensors.length === 0) return null
    const shape = tensors[0].shape
    const values: Float32Array[] = new Array<Float32Array>(tensors.length)
    for (let i = 0; i < tensors.length; i++) {
      const tensorValues = floatInput(backend, tensors[i])
      if (tensorValues === null || !sameShape(tensors[i].shape, shape)) return null
      values[i] = tensorValues
    }
    const out = outputArray(values[0].length)
    if (out.length > 0) addN(values, out)
    return backend.makeTensorInfo(shape, 'float32', out)
  }

  return table
}
