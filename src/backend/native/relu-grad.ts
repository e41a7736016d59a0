// The Relu gradient in one kernel. TF.js computes it as dy * cast(step(x)): a Step kernel, a
// Cast and a Multiply, two full passes over every activation of the network and a temporary as
// large. While malt-native is the backend, Relu's gradient runs `MaltReluGrad` instead, which
// computes the same float32 values (dy times 1, 0 or NaN) in one pass. Other backends, and
// non-float32 tensors, keep TF.js's own gradient. The kernel also has a CPU-backend version, the
// fallback for the cases the native one does not take.
import * as tfjs from '@tensorflow/tfjs'
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'

export const RELU_GRAD_KERNEL = 'MaltReluGrad'

/** The CPU-backend version: TF.js's Step (alpha 0, NaN passes) times dy, rounded to float32. */
function reluGradCpu({ inputs, backend }: { inputs: tfjs.NamedTensorInfoMap; backend: unknown }): tfjs.TensorInfo {
  const cpu = backend as MathBackendCPU
  const dy = inputs.dy as tfjs.TensorInfo
  const x = inputs.x as tfjs.TensorInfo
  const dyValues = cpu.data.get(dy.dataId).values as ArrayLike<number>
  const xValues = cpu.data.get(x.dataId).values as ArrayLike<number>
  const out = new Float32Array(xValues.length)
  for (let i = 0; i < out.length; i++) {
    const value = xValues[i]
    const step = Number.isNaN(value) ? value : value > 0 ? 1 : 0
    out[i] = dyValues[i] * step
  }
  return cpu.makeTensorInfo(x.shape, 'float32', out)
}

let installed = false

/** Registers the CPU version of the kernel; must run before the native backend copies CPU kernels. */
export function registerReluGradCpuKernel(): void {
  if (tfjs.getKernel(RELU_GRAD_KERNEL, 'cpu')) return
  tfjs.registerKernel({ kernelName: RELU_GRAD_KERNEL, backendName: 'cpu', kernelFunc: reluGradCpu as unknown as tfjs.KernelFunc })
}

/** Routes Relu's gradient through the fused kernel while `backendName` is active. */
export function installFusedReluGradient(backendName: string): void {
  if (installed) return
  const original = tfjs.getGradient('Relu')
  if (!original) return
  installed = true
  tfjs.registerGradient({
    kernelName: 'Relu',
    inputsToSave: original.inputsToSave,
    outputsToSave: original.outputsToSave,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved
      const single = Array.isArray(dy) ? dy[0] : dy
      if (tfjs.getBackend() !== backendName || x.dtype !== 'float32' || single.dtype !== 'float32') {
        return original.gradFunc(dy, saved, attrs)
      }
      return { x: () => tfjs.engine().runKernel(RELU_GRAD_KERNEL, { dy: single, x }) as tfjs.Tensor }
    },
  })
}
