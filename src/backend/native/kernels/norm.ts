// Native kernels: FusedBatchNorm (the inference formula of tf.batchNorm) and Softmax over the last
// axis, computed by native/src/norm.cc step for step as TF.js's CPU kernels compute them.
// Falls back: non-float32 tensors, empty tensors, batch-norm parameters whose ranks differ (the CPU
// kernel reports that) or whose size is not 1, the channel count (last dim of x) or the size of x
// (the CPU kernel cycles any size through x; other sizes are not broadcasts TF.js's op produces),
// and softmax over an axis other than the last (the CPU kernel reports that) or of a scalar.
import type { FusedBatchNormAttrs, SoftmaxAttrs } from '@tensorflow/tfjs'
import type { NativeAddon } from '../addon.js'
import { nativeFunction } from '../addon.js'
import { floatOutput, floatValues, type NativeKernelTable, outputArray } from './types.js'

type BatchNorm = (
  x: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  offset: Float32Array,
  scale: Float32Array,
  out: Float32Array,
  channels: number,
  varianceEpsilon: number,
) => void
type Softmax = (logits: Float32Array, out: Float32Array, columns: number) => void

// The CPU kernel's stand-ins for a missing offset or scale, and its default epsilon.
const NO_OFFSET = new Float32Array([0])
const NO_SCALE = new Float32Array([1])
const DEFAULT_VARIANCE_EPSILON = 0.001

export function normKernels(addon: NativeAddon): NativeKernelTable {
  const batchNorm = nativeFunction<BatchNorm>(addon, 'batchNorm')
  const softmax = nativeFunction<Softmax>(addon, 'softmax')

  return {
    FusedBatchNorm: ({ inputs, backend, attrs }) => {
      const { x, mean, variance, offset, scale } = inputs
      if (!x || !mean || !variance) return null
      const rank = mean.shape.length
      if (variance.shape.length !== rank || (offset && offset.shape.length !== rank) || (scale && scale.shape.length !== rank)) return null
      const xValues = floatValues(backend, x)
      const meanValues = floatValues(backend, mean)
      const varianceValues = floatValues(backend, variance)
      const offsetValues = offset ? floatValues(backend, offset) : NO_OFFSET
      const scaleValues = scale ? floatValues(backend, scale) : NO_SCALE
      if (!xValues || !meanValues || !varianceValues || !offsetValues || !scaleValues) return null
      const elements = xValues.length
      if (elements === 0) return null
      const channels = x.shape.length > 0 ? x.shape[x.shape.length - 1] : 1
      const covered = (length: number) => length === 1 || length === channels || length === elements
      if (![meanValues, varianceValues, offsetValues, scaleValues].every((values) => covered(values.length))) return null
      const epsilon = (attrs as unknown as Partial<FusedBatchNormAttrs>).varianceEpsilon ?? DEFAULT_VARIANCE_EPSILON
      const out = outputArray(elements)
      batchNorm(xValues, meanValues, varianceValues, offsetValues, scaleValues, out, channels, epsilon)
      return floatOutput(backend, x.shape, out)
    },

    Softmax: ({ inputs, backend, attrs }) => {
      const { logits } = inputs
      if (!logits) return null
      const rank = logits.shape.length
      const { dim } = attrs as unknown as SoftmaxAttrs
      if (rank === 0 || (dim !== -1 && dim !== rank - 1)) return null
      const values = floatValues(backend, logits)
      if (!values || values.length === 0) return null
      const out = outputArray(values.length)
      softmax(values, out, logits.shape[rank - 1])
      return floatOutput(backend, logits.shape, out)
    },
  }
}
