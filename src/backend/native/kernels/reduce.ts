// Native kernels of the reduce group: Sum, Mean, Prod, Max, Min over any set of axes and ArgMax,
// ArgMin over one, for float32 inputs (other dtypes fall back to the CPU kernels). The CPU kernels
// transpose the reduced axes innermost first, which dominates their time; the native ones reduce in
// place in one pass, in the same order and float64 accumulation, so results match bit for bit.
// Sum over the batch (and spatial) axes is the bias gradient of every dense and conv layer.
import * as tfjs from '@tensorflow/tfjs'
import { nativeFunction, type NativeAddon } from '../addon.js'
import { floatOutput, floatValues, sizeOf, type NativeKernel, type NativeKernelTable, outputArray } from './types.js'

type ReduceFn = (op: number, x: Float32Array, out: Float32Array, shape: number[], axes: number[]) => void
type ArgReduceFn = (isMax: boolean, x: Float32Array, out: Int32Array, dims: number[]) => void

/** Reduction codes of native/src/reduce.cc. */
const REDUCTIONS = { Sum: 0, Mean: 1, Prod: 2, Max: 3, Min: 4 } as const

/** The axes TF.js would reduce (negative ones counted from the end), or null if it would not accept them. */
function reductionAxes(axisAttr: unknown, shape: number[]): number[] | null {
  // No axis means every axis, as TF.js reads it.
  if (axisAttr === undefined || axisAttr === null) return shape.map((_, i) => i)
  if (typeof axisAttr !== 'number' && !Array.isArray(axisAttr)) return null
  let axes: number[]
  try {
    axes = tfjs.util.parseAxisParam(axisAttr as number | number[], shape)
  } catch {
    // Out-of-range axes: the CPU kernel reports them with its own message.
    return null
  }
  // Repeated axes make the CPU kernel's transpose ill-defined: leave them to it.
  if (new Set(axes).size !== axes.length) return null
  return axes
}

export function reduceKernels(addon: NativeAddon): NativeKernelTable {
  const reduce = nativeFunction<ReduceFn>(addon, 'reduce')
  const argReduce = nativeFunction<ArgReduceFn>(addon, 'argReduce')

  /** A reduction kernel whose axes come in attribute `axisName` (Max names it reductionIndices). */
  const reduction =
    (op: number, axisName: string): NativeKernel =>
    ({ inputs, backend, attrs }) => {
      const { x } = inputs
      if (!x) return null
      const values = floatValues(backend, x)
      if (values === null || values.length === 0) return null
      const axes = reductionAxes(attrs[axisName], x.shape)
      if (axes === null) return null
      const outShape = attrs.keepDims === true
        ? x.shape.map((dim, i) => (axes.includes(i) ? 1 : dim))
        : x.shape.filter((_, i) => !axes.includes(i))
      const out = outputArray(sizeOf(outShape))
      reduce(op, values, out, x.shape, axes)
      return floatOutput(backend, outShape, out)
    }

  const argReduction =
    (isMax: boolean): NativeKernel =>
    ({ inputs, backend, attrs }) => {
      const { x } = inputs
      if (!x) return null
      const values = floatValues(backend, x)
      if (values === null || values.length === 0 || x.shape.length === 0) return null
      const axes = reductionAxes(attrs.axis, x.shape)
      // The CPU kernel reduces the first axis it is given; it is given one.
      if (axes === null || axes.length !== 1) return null
      const axis = axes[0]
      const outShape = x.shape.filter((_, i) => i !== axis)
      const out = new Int32Array(sizeOf(outShape))
      const dims = [sizeOf(x.shape.slice(0, axis)), x.shape[axis], sizeOf(x.shape.slice(axis + 1))]
      argReduce(isMax, values, out, dims)
      return backend.makeTensorInfo(outShape, 'int32', out)
    }

  return {
    Sum: reduction(REDUCTIONS.Sum, 'axis'),
    Mean: reduction(REDUCTIONS.Mean, 'axis'),
    Prod: reduction(REDUCTIONS.Prod, 'axis'),
    Max: reduction(REDUCTIONS.Max, 'reductionIndices'),
    Min: reduction(REDUCTIONS.Min, 'axis'),
    ArgMax: argReduction(true),
    ArgMin: argReduction(false),
  }
}
