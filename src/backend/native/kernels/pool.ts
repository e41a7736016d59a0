// Native kernels: 2-D pooling (MaxPool, MaxPoolGrad, AvgPool, AvgPoolGrad) on NHWC float32 tensors.
// The geometry comes from backend_util.computePool2DInfo with exactly the arguments the CPU kernels
// pass, so output shapes, padding and window placement are TF.js's; native/src/pool.cc matches the
// CPU kernels' arithmetic (first maximum on ties, NaN skipped, float64 sums).
// Falls back: non-float32 tensors, empty tensors, the 1×1 identity pool (the CPU kernel returns
// its input without copying), and gradients whose dy does not have the shape the geometry implies.
import { backend_util } from '@tensorflow/tfjs'
import type { AvgPoolAttrs, AvgPoolGradAttrs, MaxPoolAttrs, MaxPoolGradAttrs, TensorInfo } from '@tensorflow/tfjs'
import type { NativeAddon } from '../addon.js'
import { nativeFunction } from '../addon.js'
import { floatOutput, floatValues, sizeOf, type NativeKernelArgs, type NativeKernelTable, outputArray, zeroedOutputArray } from './types.js'

/** [batch, inH, inW, channels, outH, outW, filterH, filterW, strideH, strideW, padTop, padLeft] */
type PoolGeometry = number[]

type PoolForward = (x: Float32Array, out: Float32Array, geometry: PoolGeometry) => void
type MaxPoolGradient = (dy: Float32Array, x: Float32Array, dx: Float32Array, geometry: PoolGeometry) => void
type AvgPoolGradient = (dy: Float32Array, dx: Float32Array, geometry: PoolGeometry) => void

type WindowAttrs = Pick<MaxPoolAttrs, 'filterSize' | 'strides' | 'pad' | 'dimRoundingMode'>

interface PoolPlan {
  info: backend_util.Conv2DInfo
  geometry: PoolGeometry
}

/**
 * The pooling geometry of an NHWC input as the CPU kernel computes it, or null when the native
 * loops do not cover it (not rank 4, empty, or a non-integer output size from odd rounding input).
 */
function poolPlan(xShape: number[], attrs: WindowAttrs): PoolPlan | null {
  if (xShape.length !== 4 || sizeOf(xShape) === 0) return null
  const info = backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  )
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.dataFormat !== 'channelsLast') return null
  const geometry = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]
  if (!geometry.every((value) => Number.isSafeInteger(value))) return null
  if (geometry.slice(0, 10).some((value) => value < 1) || info.padInfo.top < 0 || info.padInfo.left < 0) return null
  return { info, geometry }
}

/** The CPU kernels return their input unchanged for a 1×1 window that keeps the shape. */
function isIdentityPool(info: backend_util.Conv2DInfo): boolean {
  return info.filterHeight === 1 && info.filterWidth === 1 && info.inShape.every((dim, i) => dim === info.outShape[i])
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i])
}

export function poolKernels(addon: NativeAddon): NativeKernelTable {
  const maxPool = nativeFunction<PoolForward>(addon, 'maxPool')
  const maxPoolGrad = nativeFunction<MaxPoolGradient>(addon, 'maxPoolGrad')
  const avgPool = nativeFunction<PoolForward>(addon, 'avgPool')
  const avgPoolGrad = nativeFunction<AvgPoolGradient>(addon, 'avgPoolGrad')

  function forward(run: PoolForward) {
    return ({ inputs, backend, attrs }: NativeKernelArgs): TensorInfo | null => {
      const x = inputs.x
      if (!x) return null
      const xValues = floatValues(backend, x)
      if (!xValues) return null
      const plan = poolPlan(x.shape, attrs as unknown as MaxPoolAttrs | AvgPoolAttrs)
      if (!plan || isIdentityPool(plan.info)) return null
      const out = outputArray(sizeOf(plan.info.outShape))
      run(xValues, out, plan.geometry)
      return floatOutput(backend, plan.info.outShape, out)
    }
  }

  return {
    MaxPool: forward(maxPool),
    AvgPool: forward(avgPool),

    MaxPoolGrad: ({ inputs, backend, attrs }) => {
      const { dy, input } = inputs
      if (!dy || !input) return null
      const dyValues = floatValues(backend, dy)
      const xValues = floatValues(backend, input)
      if (!dyValues || !xValues) return null
      const plan = poolPlan(input.shape, attrs as unknown as MaxPoolGradAttrs)
      if (!plan || !sameShape(dy.shape, plan.info.outShape)) return null
      // Zero-filled: the kernel writes only the elements some window covers.
      const dx = zeroedOutputArray(sizeOf(input.shape))
      maxPoolGrad(dyValues, xValues, dx, plan.geometry)
      return floatOutput(backend, input.shape, dx)
    },

    AvgPoolGrad: ({ inputs, backend, attrs }) => {
      const { dy, input } = inputs
      if (!dy || !input) return null
      const dyValues = floatValues(backend, dy)
      if (!dyValues) return null
      // Like the CPU kernel: no dimRoundingMode here (the gradient op does not pass one).
      const { filterSize, strides, pad } = attrs as unknown as AvgPoolGradAttrs
      const plan = poolPlan(input.shape, { filterSize, strides, pad })
      if (!plan || !sameShape(dy.shape, plan.info.outShape)) return null
      const dx = zeroedOutputArray(sizeOf(input.shape))
      avgPoolGrad(dyValues, dx, plan.geometry)
      return floatOutput(backend, input.shape, dx)
    },
  }
}
