// Native kernels: 2-D convolutions on oneDNN (native/src/conv.cc). Conv2D and depthwise
// convolution forward, both their gradients (wrt input and wrt filter), and the fused forms with a
// per-channel bias and an activation. Sizes and paddings come from backend_util.computeConv2DInfo,
// exactly as the CPU kernels compute them; anything outside what is covered here (NCHW, non-float32,
// odd bias shapes, dilated depthwise gradients, which the CPU kernels compute without the dilation)
// returns null and the CPU kernel runs.
import { backend_util } from '@tensorflow/tfjs'
import type * as tfjs from '@tensorflow/tfjs'
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'
import { nativeFunction, type NativeAddon } from '../addon.js'
import { floatOutput, floatValues, sizeOf, type NativeKernelArgs, type NativeKernelTable, outputArray, zeroedOutputArray, FUSED_ACTIVATION_CODES } from './types.js'

/** Geometry in native/src/conv.cc's order (ConvGeometry). */
type Geometry = number[]

type ConvForwardFn = (
  x: Float32Array,
  filter: Float32Array,
  bias: Float32Array | null,
  y: Float32Array,
  geometry: Geometry,
  activation: number,
  alpha: number,
  preluAlpha: Float32Array | null,
) => void
type ConvBackwardInputFn = (dy: Float32Array, filter: Float32Array, dx: Float32Array, geometry: Geometry) => void
type ConvBackwardFilterFn = (x: Float32Array, dy: Float32Array, dw: Float32Array, geometry: Geometry) => void


type Padding = tfjs.Conv2DAttrs['pad']
type RoundingMode = tfjs.Conv2DAttrs['dimRoundingMode']
type Shape4 = [number, number, number, number]

/** The attributes every convolution kernel shares (gradients have no dilations, depthwise no dataFormat). */
interface ConvAttrs {
  strides: number | [number, number]
  pad: Padding
  dataFormat?: 'NHWC' | 'NCHW'
  dilations?: number | [number, number] | null
  dimRoundingMode?: RoundingMode
}

/** The float32 values of `tensor` when it holds exactly its element count, else null. */
function denseValues(backend: MathBackendCPU, tensor: tfjs.TensorInfo): Float32Array | null {
  const values = floatValues(backend, tensor)
  return values !== null && values.length === sizeOf(tensor.shape) ? values : null
}

function isShape4(shape: readonly number[] | undefined): shape is Shape4 {
  return Array.isArray(shape) && shape.length === 4 && shape.every((dim) => Number.isInteger(dim) && dim > 0)
}

function dilationsOf(attrs: ConvAttrs): number | [number, number] {
  return attrs.dilations ?? 1
}

/** TF.js's convolution info, or null when TF.js would reject the arguments (the CPU kernel then says why). */
function convInfoOf(
  inShape: Shape4,
  filterShape: Shape4,
  attrs: ConvAttrs,
  dilations: number | [number, number],
  depthwise: boolean,
): backend_util.Conv2DInfo | null {
  // NCHW stays on the CPU kernel. Depthwise kernels have no dataFormat (always NHWC); the others
  // must name it, or their CPU kernel rejects the call.
  if (attrs.dataFormat !== 'NHWC' && !(depthwise && attrs.dataFormat === undefined)) return null
  try {
    return backend_util.computeConv2DInfo(
      inShape,
      filterShape,
      attrs.strides,
      dilations,
      attrs.pad,
      attrs.dimRoundingMode,
      depthwise,
      'channelsLast',
    )
  } catch {
    return null
  }
}

/**
 * How much of one spatial axis oneDNN sees, and its trailing (bottom/right) padding. TF.js's
 * kernels read zeros outside the input, and only the leading padding and the output size matter
 * to them: output i reads input rows [i·stride − lead, i·stride − lead + effectiveFilter). oneDNN
 * derives the output size as floor((in − filter + lead + trail) / stride) + 1, so we make
 * in + trail end exactly where the last output's window ends: trailing padding when the window
 * runs past the input, or a shorter view of the input when TF.js's output stops early (its
 * numeric `pad` sizes both axes from the filter height and stride height). Null when even the
 * first window lies wholly in the leading padding.
 */
function axisExtent(
  inSize: number,
  outSize: number,
  stride: number,
  effectiveFilter: number,
  lead: number,
): { used: number; trail: number } | null {
  const end = (outSize - 1) * stride + effectiveFilter - lead
  if (end <= 0) return null
  return end <= inSize ? { used: end, trail: 0 } : { used: inSize, trail: end - inSize }
}

/** The geometry conv.cc expects, or null for a case it does not cover. */
function geometryOf(info: backend_util.Conv2DInfo, depthwise: boolean): Geometry | null {
  const { padInfo } = info
  if (padInfo.top < 0 || padInfo.left < 0) return null
  const rows = axisExtent(info.inHeight, info.outHeight, info.strideHeight, info.effectiveFilterHeight, padInfo.top)
  const columns = axisExtent(info.inWidth, info.outWidth, info.strideWidth, info.effectiveFilterWidth, padInfo.left)
  if (rows === null || columns === null) return null
  const geometry = [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    padInfo.top,
    padInfo.left,
    rows.trail,
    columns.trail,
    depthwise ? info.inChannels : 1,
    rows.used,
    columns.used,
  ]
  if (!geometry.every((value) => Number.isInteger(value))) return null
  // Sizes, strides and dilations must be positive (empty tensors stay with the CPU kernel).
  if (!geometry.slice(0, 13).every((value) => value > 0)) return null
  return geometry
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i])
}

/**
 * A per-channel vector from a tensor that broadcasts along the channel axis of an NHWC output
 * without changing its shape: rank ≤ 4, every dimension but the last 1, the last 1 or
 * `channels` ([C], [1], a scalar, [1, 1, 1, C], …). Null for anything else.
 */
function channelVector(backend: MathBackendCPU, tensor: tfjs.TensorInfo, channels: number): Float32Array | null {
  const { shape } = tensor
  if (shape.length > 4 || !shape.slice(0, -1).every((dim) => dim === 1)) return null
  const values = denseValues(backend, tensor)
  if (values === null) return null
  if (values.length === channels) return values
  if (values.length === 1) return new Float32Array(channels).fill(values[0])
  return null
}

export function convKernels(addon: NativeAddon): NativeKernelTable {
  const convForward = nativeFunction<ConvForwardFn>(addon, 'convForward')
  const convBackwardInput = nativeFunction<ConvBackwardInputFn>(addon, 'convBackwardInput')
  const convBackwardFilter = nativeFunction<ConvBackwardFilterFn>(addon, 'convBackwardFilter')

  /** Conv2D, DepthwiseConv2dNative and their fused forms. */
  function forward({ inputs, backend, attrs }: NativeKernelArgs, depthwise: boolean, fused: boolean): tfjs.TensorInfo | null {
    const { x, filter } = inputs
    const convAttrs = attrs as unknown as ConvAttrs
    if (!x || !filter || !isShape4(x.shape) || !isShape4(filter.shape)) return null
    const dilations = dilationsOf(convAttrs)
    if (depthwise && !backend_util.eitherStridesOrDilationsAreOne(convAttrs.strides, dilations)) return null
    const info = convInfoOf(x.shape, filter.shape, convAttrs, dilations, depthwise)
    if (info === null || filter.shape[2] !== info.inChannels) return null
    const geometry = geometryOf(info, depthwise)
    const xValues = denseValues(backend, x)
    const filterValues = denseValues(backend, filter)
    if (geometry === null || xValues === null || filterValues === null) return null

    let bias: Float32Array | null = null
    let activation = FUSED_ACTIVATION_CODES.linear
    let alpha = 0
    let preluAlpha: Float32Array | null = null
    if (fused) {
      const fusedAttrs = attrs as unknown as { activation?: string | null; leakyreluAlpha?: number }
      if (inputs.bias) {
        bias = channelVector(backend, inputs.bias, info.outChannels)
        if (bias === null) return null
      }
      const name = fusedAttrs.activation ?? 'linear'
      if (!Object.hasOwn(FUSED_ACTIVATION_CODES, name)) return null
      activation = FUSED_ACTIVATION_CODES[name]
      if (name === 'leakyrelu') {
        if (typeof fusedAttrs.leakyreluAlpha !== 'number') return null
        alpha = fusedAttrs.leakyreluAlpha
      }
      if (name === 'prelu') {
        const weights = inputs.preluActivationWeights
        preluAlpha = weights ? channelVector(backend, weights, info.outChannels) : null
        if (preluAlpha === null) return null
      }
    }
    const y = outputArray(sizeOf(info.outShape))
    convForward(xValues, filterValues, bias, y, geometry, activation, alpha, preluAlpha)
    return floatOutput(backend, info.outShape, y)
  }

  /** Conv2DBackpropInput and DepthwiseConv2dNativeBackpropInput. */
  function backwardInput({ inputs, backend, attrs }: NativeKernelArgs, depthwise: boolean): tfjs.TensorInfo | null {
    const { dy, filter } = inputs
    const convAttrs = attrs as unknown as ConvAttrs & { inputShape?: number[] }
    const inputShape = convAttrs.inputShape
    if (!dy || !filter || !isShape4(inputShape) || !isShape4(filter.shape)) return null
    // Conv2DBackpropInput has no dilations; the depthwise CPU kernel ignores them in its loops,
    // so dilated depthwise gradients stay on it (same answer as the CPU backend, whatever it is).
    const dilations = depthwise ? dilationsOf(convAttrs) : 1
    if (!backend_util.tupleValuesAreOne(dilations)) return null
    const info = convInfoOf(inputShape, filter.shape, convAttrs, dilations, depthwise)
    if (info === null || filter.shape[2] !== info.inChannels || !sameShape(dy.shape, info.outShape)) return null
    const geometry = geometryOf(info, depthwise)
    const dyValues = denseValues(backend, dy)
    const filterValues = denseValues(backend, filter)
    if (geometry === null || dyValues === null || filterValues === null) return null
    const dx = zeroedOutputArray(sizeOf(inputShape))
    convBackwardInput(dyValues, filterValues, dx, geometry)
    return floatOutput(backend, [...inputShape], dx)
  }

  /** Conv2DBackpropFilter and DepthwiseConv2dNativeBackpropFilter. */
  function backwardFilter({ inputs, backend, attrs }: NativeKernelArgs, depthwise: boolean): tfjs.TensorInfo | null {
    const { x, dy } = inputs
    const convAttrs = attrs as unknown as ConvAttrs & { filterShape?: number[] }
    const filterShape = convAttrs.filterShape
    if (!x || !dy || !isShape4(x.shape) || !isShape4(filterShape)) return null
    const dilations = depthwise ? dilationsOf(convAttrs) : 1
    if (!backend_util.tupleValuesAreOne(dilations)) return null
    const info = convInfoOf(x.shape, filterShape, convAttrs, dilations, depthwise)
    if (info === null || filterShape[2] !== info.inChannels || !sameShape(dy.shape, info.outShape)) return null
    const geometry = geometryOf(info, depthwise)
    const xValues = denseValues(backend, x)
    const dyValues = denseValues(backend, dy)
    if (geometry === null || xValues === null || dyValues === null) return null
    const dw = outputArray(sizeOf(filterShape))
    convBackwardFilter(xValues, dyValues, dw, geometry)
    return floatOutput(backend, [...filterShape], dw)
  }

  return {
    Conv2D: (args) => forward(args, false, false),
    FusedConv2D: (args) => forward(args, false, true),
    DepthwiseConv2dNative: (args) => forward(args, true, false),
    FusedDepthwiseConv2D: (args) => forward(args, true, true),
    Conv2DBackpropInput: (args) => backwardInput(args, false),
    DepthwiseConv2dNativeBackpropInput: (args) => backwardInput(args, true),
    Conv2DBackpropFilter: (args) => backwardFilter(args, false),
    DepthwiseConv2dNativeBackpropFilter: (args) => backwardFilter(args, true),
  }
}
