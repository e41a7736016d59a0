// Native kernels of the matmul group: BatchMatMul (tf.matMul and the gradients of every matMul,
// which call it with transposeA or transposeB) and _FusedMatMul (matMul + bias + activation, what
// a dense layer runs outside training). Both run as one oneDNN matmul primitive; the batch dims map
// onto it the way the CPU kernel maps them (operand batch index = output batch index modulo the
// operand's batch size), and the layouts that mapping does not express fall back to the CPU kernel.
import type * as tfjs from '@tensorflow/tfjs'
import { nativeFunction, type NativeAddon } from '../addon.js'
import { floatOutput, floatValues, sizeOf, type NativeKernelArgs, type NativeKernelTable, outputArray, FUSED_ACTIVATION_CODES } from './types.js'

type MatMulFn = (
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  dims: number[],
  transposeA: boolean,
  transposeB: boolean,
  bias: Float32Array | null,
  biasDims: number[],
  activation: number,
  alpha: number,
  prelu: Float32Array | null,
  preluDims: number[],
) => void


/** How one operand's batch dims sit in the output batch [groups, batches] (each 1 or the output's). */
interface OperandBatch {
  groups: number
  batches: number
}

/** The output of a matmul and how both operands' batch dims map onto it. */
interface MatMulPlan {
  outShape: number[]
  groups: number
  batches: number
  operandA: OperandBatch
  operandB: OperandBatch
  m: number
  k: number
  n: number
}

/** Broadcast of two shapes as TF.js computes it, or null where they do not broadcast. */
function broadcastShape(first: readonly number[], second: readonly number[]): number[] | null {
  const rank = Math.max(first.length, second.length)
  const result: number[] = []
  for (let i = 0; i < rank; i++) {
    const x = first[first.length - rank + i] ?? 1
    const y = second[second.length - rank + i] ?? 1
    if (x !== y && x !== 1 && y !== 1) return null
    result.push(x === 1 ? y : x)
  }
  return result
}

/**
 * The first index from which `dims` (left-padded with 1s to the output's rank) equals the output's
 * outer dims while every dim before it is 1, or null when the operand is not laid out that way.
 * Only then does the CPU kernel's "output batch index modulo operand batch size" equal broadcasting.
 */
function suffixStart(dims: readonly number[], outer: readonly number[]): number | null {
  const padded = [...new Array<number>(outer.length - dims.length).fill(1), ...dims]
  let start = outer.length
  while (start > 0 && padded[start - 1] === outer[start - 1]) start--
  for (let i = 0; i < start; i++) if (padded[i] !== 1) return null
  return start
}

/** Maps a BatchMatMul onto the native kernel's [groups, batches] output batch, or null to fall back. */
function planMatMul(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean): MatMulPlan | null {
  const aRank = aShape.length
  const bRank = bShape.length
  if (aRank < 2 || bRank < 2) return null
  const m = transposeA ? aShape[aRank - 1] : aShape[aRank - 2]
  const k = transposeA ? aShape[aRank - 2] : aShape[aRank - 1]
  const kOfB = transposeB ? bShape[bRank - 1] : bShape[bRank - 2]
  const n = transposeB ? bShape[bRank - 2] : bShape[bRank - 1]
  // A mismatch is the CPU kernel's to report, with its own message.
  if (k !== kOfB) return null
  const outerA = aShape.slice(0, -2)
  const outerB = bShape.slice(0, -2)
  const outer = broadcastShape(outerA, outerB)
  if (outer === null) return null
  const outShape = [...outer, m, n]
  if (sizeOf(outShape) === 0 || k === 0 || sizeOf(aShape) === 0 || sizeOf(bShape) === 0) return null
  const total = sizeOf(outer)
  const batchA = sizeOf(outerA)
  const batchB = sizeOf(outerB)
  // The CPU kernel allocates max(batchA, batchB) batches: other layouts are its to handle.
  if (total !== Math.max(batchA, batchB)) return null
  const startA = suffixStart(outerA, outer)
  const startB = suffixStart(outerB, outer)
  if (startA === null || startB === null) return null
  // An operand covering only trailing batch dims repeats over the leading ones: those leading dims
  // become a separate "groups" dim where it has size 1. At most one operand can be such a partial one.
  const partial = [batchA, batchB].find((batch) => batch !== 1 && batch !== total)
  const batches = partial ?? total
  const groups = total / batches
  const operand = (batch: number): OperandBatch =>
    batch === 1 ? { groups: 1, batches: 1 } : batch === total ? { groups, batches } : { groups: 1, batches }
  return { outShape, groups, batches, operandA: operand(batchA), operandB: operand(batchB), m, k, n }
}

/**
 * The [batch, M, N] dims (each 1 or the output's) of a bias or PReLU weight tensor broadcast
 * against a [.., M, N] output without enlarging it, or null when it does not map onto them.
 */
function epilogueDims(shape: readonly number[], plan: MatMulPlan): number[] | null {
  const outRank = plan.outShape.length
  if (shape.length > outRank) return null
  const padded = [...new Array<number>(outRank - shape.length).fill(1), ...shape]
  const outerOf = padded.slice(0, -2)
  const outer = plan.outShape.slice(0, -2)
  const batch = outerOf.every((dim) => dim === 1) ? 1 : outerOf.every((dim, i) => dim === outer[i]) ? sizeOf(outer) : null
  if (batch === null) return null
  const rows = padded[outRank - 2]
  const cols = padded[outRank - 1]
  if ((rows !== 1 && rows !== plan.m) || (cols !== 1 && cols !== plan.n)) return null
  return [batch, rows, cols]
}

export function matMulKernels(addon: NativeAddon): NativeKernelTable {
  const matMul = nativeFunction<MatMulFn>(addon, 'matMul')

  interface Epilogue {
    bias: Float32Array | null
    biasDims: number[]
    activation: number
    alpha: number
    prelu: Float32Array | null
    preluDims: number[]
  }
  const NONE: Epilogue = { bias: null, biasDims: [1, 1, 1], activation: 0, alpha: 0, prelu: null, preluDims: [1, 1, 1] }

  function run(args: NativeKernelArgs, epilogue: (plan: MatMulPlan) => Epilogue | null): tfjs.TensorInfo | null {
    const { a, b } = args.inputs
    if (!a || !b) return null
    const transposeA = args.attrs.transposeA === true
    const transposeB = args.attrs.transposeB === true
    const aValues = floatValues(args.backend, a)
    const bValues = floatValues(args.backend, b)
    if (aValues === null || bValues === null) return null
    const plan = planMatMul(a.shape, b.shape, transposeA, transposeB)
    if (plan === null) return null
    const extra = epilogue(plan)
    if (extra === null) return null
    const out = outputArray(sizeOf(plan.outShape))
    const dims = [
      plan.groups,
      plan.batches,
      plan.operandA.groups,
      plan.operandA.batches,
      plan.operandB.groups,
      plan.operandB.batches,
      plan.m,
      plan.k,
      plan.n,
    ]
    const { bias, biasDims, activation, alpha, prelu, preluDims } = extra
    matMul(aValues, bValues, out, dims, transposeA, transposeB, bias, biasDims, activation, alpha, prelu, preluDims)
    return floatOutput(args.backend, plan.outShape, out)
  }

  return {
    BatchMatMul: (args) => run(args, () => NONE),

    _FusedMatMul: (args) =>
      run(args, (plan) => {
        const { bias, preluActivationWeights } = args.inputs
        const activationName = (args.attrs.activation as string | undefined) ?? 'linear'
        const activation = FUSED_ACTIVATION_CODES[activationName]
        if (activation === undefined) return null
        // Bias and PReLU weights broadcast over the output only where the batch is a single dim.
        if ((bias || activationName === 'prelu') && plan.groups !== 1) return null
        const epilogue: Epilogue = { ...NONE, activation }
        if (bias) {
          const values = floatValues(args.backend, bias)
          const dims = epilogueDims(bias.shape, plan)
          if (values === null || dims === null) return null
          epilogue.bias = values
          epilogue.biasDims = dims
        }
        if (activationName === 'leakyrelu') {
          const alpha = args.attrs.leakyreluAlpha
          if (typeof alpha !== 'number') return null
          epilogue.alpha = alpha
        }
        if (activationName === 'prelu') {
          if (!preluActivationWeights) return null
          const values = floatValues(args.backend, preluActivationWeights)
          const dims = epilogueDims(preluActivationWeights.shape, plan)
          if (values === null || dims === null) return null
          epilogue.prelu = values
          epilogue.preluDims = dims
        }
        return epilogue
      }),
  }
}
