// Adam in one native pass per variable on malt-native. TF.js's AdamOptimizer runs 14 kernels per
// variable per step and creates scalar tensors for its constants; with the math itself native,
// that engine overhead is a large share of a small model's step. The fused path computes the same
// float32 operations in the same order (native/src/optimizer.cc) and keeps the optimizer's state
// where TF.js keeps it (slot variables `<name>/m` and `<name>/v`, accBeta1/accBeta2), so saving,
// loading and getWeights()/setWeights() are unchanged. Any other backend, or an optimizer whose
// internals do not look as expected, runs TF.js's own code.
import * as tfjs from '@tensorflow/tfjs'
import type { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'
import { nativeFunction, type NativeAddon } from './addon.js'
import { bufferPool } from './buffer-pool.js'
import { floatValues } from './kernels/types.js'

export type AdamUpdate = (
  value: Float32Array,
  m: Float32Array,
  v: Float32Array,
  gradient: Float32Array,
  outValue: Float32Array,
  outM: Float32Array,
  outV: Float32Array,
  beta1: number,
  beta2: number,
  oneMinusBeta1: number,
  oneMinusBeta2: number,
  oneMinusAccBeta1: number,
  oneMinusAccBeta2: number,
  epsilon: number,
  negLearningRate: number,
) => void

/** The AdamOptimizer fields TF.js 4.x keeps (private in its typings). */
interface AdamInternals {
  learningRate: number
  beta1: number
  beta2: number
  epsilon: number
  accBeta1: tfjs.Variable
  accBeta2: tfjs.Variable
  accumulatedFirstMoment: ({ originalName: string; variable: tfjs.Variable } | undefined)[]
  accumulatedSecondMoment: ({ originalName: string; variable: tfjs.Variable } | undefined)[]
  incrementIterations(): void
}

type VariableGradients = tfjs.NamedTensorMap | { name: string; tensor: tfjs.Tensor }[]

function looksLikeAdam(optimizer: Partial<AdamInternals>): optimizer is AdamInternals {
  return (
    typeof optimizer.learningRate === 'number' &&
    typeof optimizer.beta1 === 'number' &&
    typeof optimizer.beta2 === 'number' &&
    typeof optimizer.epsilon === 'number' &&
    optimizer.accBeta1 instanceof tfjs.Variable &&
    optimizer.accBeta2 instanceof tfjs.Variable &&
    Array.isArray(optimizer.accumulatedFirstMoment) &&
    Array.isArray(optimizer.accumulatedSecondMoment) &&
    typeof optimizer.incrementIterations === 'function'
  )
}

let installed = false

/** The addon's fused Adam function (a clear error when the build predates it). */
export function resolveAdamUpdate(addon: NativeAddon): AdamUpdate {
  return nativeFunction<AdamUpdate>(addon, 'adamUpdate')
}

/** Routes AdamOptimizer.applyGradients through the fused kernel while `backendName` is active. */
export function installFusedAdam(adamUpdate: AdamUpdate, backendName: string): void {
  if (installed) return
  installed = true
  const prototype = tfjs.AdamOptimizer.prototype as unknown as { applyGradients(gradients: VariableGradients): void }
  const original = prototype.applyGradients

  prototype.applyGradients = function applyGradients(this: Partial<AdamInternals>, variableGradients: VariableGradients): void {
    if (tfjs.getBackend() !== backendName || !looksLikeAdam(this)) {
      original.call(this, variableGradients)
      return
    }
    applyFused(this, variableGradients, adamUpdate)
  }
}

/** One Adam step over every variable with the fused kernel (TF.js's order of state updates). */
function applyFused(optimizer: AdamInternals, variableGradients: VariableGradients, adamUpdate: AdamUpdate): void {
  const backend = tfjs.backend() as MathBackendCPU
  const entries: [string, tfjs.Tensor | undefined][] = Array.isArray(variableGradients)
    ? variableGradients.map((named) => [named.name, named.tensor])
    : Object.entries(variableGradients)
  // The bias corrections as TF.js computes them: float32 scalars 1 - accBeta.
  const [accBeta1] = optimizer.accBeta1.dataSync()
  const [accBeta2] = optimizer.accBeta2.dataSync()
  const oneMinusAccBeta1 = Math.fround(1 - accBeta1)
  const oneMinusAccBeta2 = Math.fround(1 - accBeta2)
  tfjs.tidy(() => {
    entries.forEach(([name, gradient], i) => {
      const value = tfjs.engine().registeredVariables[name]
      optimizer.accumulatedFirstMoment[i] ??= {
        originalName: `${name}/m`,
        variable: tfjs.tidy(() => tfjs.zerosLike(value).variable(false)),
      }
      optimizer.accumulatedSecondMoment[i] ??= {
        originalName: `${name}/v`,
        variable: tfjs.tidy(() => tfjs.zerosLike(value).variable(false)),
      }
      if (gradient == null) return
      const m = optimizer.accumulatedFirstMoment[i]!.variable
      const v = optimizer.accumulatedSecondMoment[i]!.variable
      const arrays = [value, m, v, gradient].map((tensor) => floatValues(backend, tensor))
      const sameShape = tfjs.util.arraysEqual(gradient.shape, value.shape)
      if (!sameShape || arrays.some((array) => array === null)) {
        unfusedStep(optimizer, value, m, v, gradient, oneMinusAccBeta1, oneMinusAccBeta2)
        return
      }
      const [valueArray, mArray, vArray, gradientArray] = arrays as Float32Array[]
      const newValue = bufferPool.take(valueArray.length)
      const newM = bufferPool.take(valueArray.length)
      const newV = bufferPool.take(valueArray.length)
      adamUpdate(
        valueArray,
        mArray,
        vArray,
        gradientArray,
        newValue,
        newM,
        newV,
        optimizer.beta1,
        optimizer.beta2,
        1 - optimizer.beta1,
        1 - optimizer.beta2,
        oneMinusAccBeta1,
        oneMinusAccBeta2,
        optimizer.epsilon,
        -optimizer.learningRate,
      )
      m.assign(tfjs.tensor(newM, value.shape, 'float32'))
      v.assign(tfjs.tensor(newV, value.shape, 'float32'))
      value.assign(tfjs.tensor(newValue, value.shape, 'float32'))
    })
    optimizer.accBeta1.assign(tfjs.mul(optimizer.accBeta1, optimizer.beta1))
    optimizer.accBeta2.assign(tfjs.mul(optimizer.accBeta2, optimizer.beta2))
  })
  optimizer.incrementIterations()
}

/** TF.js's own per-variable Adam arithmetic, for a variable the fused kernel does not take. */
function unfusedStep(
  optimizer: AdamInternals,
  value: tfjs.Variable,
  m: tfjs.Variable,
  v: tfjs.Variable,
  gradient: tfjs.Tensor,
  oneMinusAccBeta1: number,
  oneMinusAccBeta2: number,
): void {
  const newM = tfjs.add(tfjs.mul(m, optimizer.beta1), tfjs.mul(gradient, 1 - optimizer.beta1))
  const newV = tfjs.add(tfjs.mul(v, optimizer.beta2), tfjs.mul(tfjs.square(gradient), 1 - optimizer.beta2))
  const mHat = tfjs.div(newM, oneMinusAccBeta1)
  const vHat = tfjs.div(newV, oneMinusAccBeta2)
  m.assign(newM)
  v.assign(newV)
  value.assign(tfjs.add(tfjs.mul(tfjs.div(mHat, tfjs.add(tfjs.sqrt(vHat), optimizer.epsilon)), -optimizer.learningRate), value))
}
