// What a native kernel is: a function of TF.js kernel arguments that returns its outputs, or null
// when the case is not covered natively, in which case the CPU backend's own kernel runs.
import type * as tfjs from '@tensorflow/tfjs'
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'
import type { NativeAddon } from '../addon.js'

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

/** The float32 values of `tensor`, or null if it is not a float32 tensor on this backend. */
export function floatValues(backend: MathBackendCPU, tensor: tfjs.TensorInfo): Float32Array | null {
  if (tensor.dtype !== 'float32') return null
  const values = backend.data.get(tensor.dataId).values
  return values instanceof Float32Array ? values : null
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
