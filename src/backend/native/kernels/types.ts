// What a native kernel is: a function of TF.js kernel arguments that returns its outputs, or null
// when the case is not covered natively, in which case the CPU backend's own kernel runs.
import type * as tfjs from '@tensorflow/tfjs'
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'
import type { NativeAddon } from '../addon.js'
import { bufferPool } from '../buffer-pool.js'

export interface NativeKernelArgs {
  inputs: tfjs.NamedTensorInfoMap
  backend: MathBackendCPU
  attrs: tfjs.NamedAttrMap
}

/** Returns the kernel's output(s), or null to fall back to the CPU kernel (never a wrong answer). */
export type NativeKernel = (args: NativeKernelArgs) => tfjs.TensorInfo | tfjs.TensorInfo[] | null

/** Native kernels keyed by TF.js kernel name (e.g. `Conv2D`). */
export type NativeKernelTable = Record<string, NativeKernel>

/** A kernel group builds its table from the addon's functions. */
export type NativeKernelGroup = (addon: NativeAddon) => NativeKernelTable

/**
 * Codes of the activations fused into convolutions and matmuls, as native/src/conv.cc
 * (enum Activation) and native/src/matmul.cc (enum class Activation) number them.
 */
export const FUSED_ACTIVATION_CODES: Readonly<Record<string, number>> = Object.freeze({
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  leakyrelu: 4,
  sigmoid: 5,
  prelu: 6,
})

/** Integers up to 2^24 convert to float32 exactly. */
const EXACT_FLOAT_INTEGER = 16777216

/**
 * The values of a float32 tensor as a Float32Array, or null for other dtypes. A float32 tensor made
 * by casting an int32 or bool one shares the source's Int32Array/Uint8Array (TF.js casts upwards
 * without copying): one-hot labels, gradient masks, accuracy metrics. Those are converted when
 * every value converts exactly, so the native result equals the CPU kernel's, which reads them as
 * JS numbers; otherwise null (the CPU kernel runs).
 */
export function floatValues(backend: MathBackendCPU, tensor: tfjs.TensorInfo): Float32Array | null {
  if (tensor.dtype !== 'float32') return null
  const values = backend.data.get(tensor.dataId).values
  if (values instanceof Float32Array) return values
  if (values instanceof Uint8Array) return new Float32Array(values)
  if (values instanceof Int32Array) {
    for (let i = 0; i < values.length; i++) {
      if (values[i] > EXACT_FLOAT_INTEGER || values[i] < -EXACT_FLOAT_INTEGER) return null
    }
    return new Float32Array(values)
  }
  return null
}

/** An output array for a kernel that writes every element (may be recycled, contents arbitrary). */
export function outputArray(length: number): Float32Array {
  return bufferPool.take(length)
}

/** A zero-filled output array, for kernels that write only some elements (scatter-style gradients). */
export function zeroedOutputArray(length: number): Float32Array {
  return bufferPool.takeZeroed(length)
}

/** Wraps a freshly filled array as a float32 output; the engine owns it from here on. */
export function floatOutput(backend: MathBackendCPU, shape: number[], values: Float32Array): tfjs.TensorInfo {
  return backend.makeTensorInfo(shape, 'float32', values)
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  let size = 1
  for (const dim of shape) size *= dim
  return size
}
