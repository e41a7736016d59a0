// GatherV2 as block copies: `model.fit` gathers every batch's rows from the whole data set with
// it, and the CPU kernel goes through a TensorBuffer index computation per element (~2 ms per
// MLP batch, as much as all the native math of the step). Copying whole slices with
// TypedArray.set is a memcpy. batchDims > 0 and strings fall back to the CPU kernel.
import { backend_util, util, type TensorInfo } from '@tensorflow/tfjs'
import type { NativeAddon } from '../addon.js'
import type { NativeKernelArgs, NativeKernelTable } from './types.js'

type Numeric = Float32Array | Int32Array | Uint8Array

function gatherV2({ inputs, backend, attrs }: NativeKernelArgs) {
  const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo }
  const batchDims = (attrs.batchDims as number | undefined) ?? 0
  if (batchDims !== 0 || indices.dtype !== 'int32' || x.dtype === 'string' || x.dtype === 'complex64') return null
  const values = backend.data.get(x.dataId).values
  const indexValues = backend.data.get(indices.dataId).values
  if (!(values instanceof Float32Array || values instanceof Int32Array || values instanceof Uint8Array)) return null
  if (!(indexValues instanceof Int32Array)) return null
  const axis = util.parseAxisParam(attrs.axis as number, x.shape)[0]
  const dimSize = x.shape[axis]
  // Out-of-range indices: the CPU kernel throws TF.js's own error message.
  for (let i = 0; i < indexValues.length; i++) {
    if (indexValues[i] < 0 || indexValues[i] >= dimSize) return null
  }
  const info = backend_util.segment_util.collectGatherOpShapeInfo(
    x as unknown as Parameters<typeof backend_util.segment_util.collectGatherOpShapeInfo>[0],
    indices as unknown as Parameters<typeof backend_util.segment_util.collectGatherOpShapeInfo>[1],
    axis,
    0,
  )
  const slice = info.sliceSize
  const count = indexValues.length
  const out = new (values.constructor as { new (length: number): Numeric })(info.outerSize * count * slice)
  const source = values as Numeric
  for (let outer = 0; outer < info.outerSize; outer++) {
    const sourceBase = outer * dimSize * slice
    const outBase = outer * count * slice
    for (let i = 0; i < count; i++) {
      const from = sourceBase + indexValues[i] * slice
      if (slice === 1) out[outBase + i] = source[from]
      else out.set(source.subarray(from, from + slice), outBase + i * slice)
    }
  }
  return backend.makeTensorInfo(info.outputShape, x.dtype, out)
}

export function gatherKernels(_addon: NativeAddon): NativeKernelTable {
  return { GatherV2: gatherV2 }
}
