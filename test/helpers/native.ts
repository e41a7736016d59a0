// Helpers for testing native kernels against the CPU backend: the same computation runs on both
// backends from the same seeded inputs, results are compared (normwise relative error), and the
// call counters prove the native path really ran (or really fell back) for the named kernels.
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { ready, tf } from '../../src/backend/index.js'
import { nativeBackend } from '../../src/backend/native/index.js'
import { NATIVE_FIX } from '../../src/backend/native/addon.js'
import { SeededRandom } from '../../src/util/random.js'

/** Loads Malt's backends and fails clearly when the native addon is not built. */
export async function requireNativeBackend(): Promise<void> {
  const info = await ready()
  if (!nativeBackend.available) {
    const why = info.tried.find((tried) => tried.provider.startsWith('malt-native'))?.reason ?? 'not tried'
    assert.fail(`the malt-native addon is not loaded (${why}); to fix: ${NATIVE_FIX}`)
  }
}

/** Seeded values in [low, high): the same seed gives the same tensor on every backend. */
export function seededValues(size: number, seed: number, low = -1, high = 1): Float32Array {
  const random = new SeededRandom(seed)
  const values = new Float32Array(size)
  for (let i = 0; i < size; i++) values[i] = low + (high - low) * random.next()
  return values
}

/** A float32 tensor of seeded values in [low, high). */
export function seededTensor(shape: number[], seed: number, low = -1, high = 1): tfjs.Tensor {
  return tf.tensor(seededValues(shape.reduce((a, b) => a * b, 1), seed, low, high), shape, 'float32')
}

/** max|actual − expected| / max|expected| (inf-norm relative error); NaNs must sit at the same places. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'element counts differ')
  let maxDiff = 0
  let maxMagnitude = 0
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]
    const e = expected[i]
    if (Number.isNaN(e) || Number.isNaN(a)) {
      assert.ok(Number.isNaN(e) && Number.isNaN(a), `element ${i}: ${a} vs ${e} (NaN on one side only)`)
      continue
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      assert.equal(a, e, `element ${i}: ${a} vs ${e}`)
      continue
    }
    maxDiff = Math.max(maxDiff, Math.abs(a - e))
    maxMagnitude = Math.max(maxMagnitude, Math.abs(e))
  }
  return maxMagnitude === 0 ? maxDiff : maxDiff / maxMagnitude
}

interface Outcome {
  shapes: number[][]
  dtypes: string[]
  values: Float32Array[] | Int32Array[]
}

function runOn(backendName: string, build: () => tfjs.Tensor | tfjs.Tensor[]): Outcome {
  tf.setBackend(backendName)
  const outputs = tf.tidy(() => {
    const result = build()
    return Array.isArray(result) ? result : [result]
  })
  const outcome: Outcome = {
    shapes: outputs.map((t) => t.shape),
    dtypes: outputs.map((t) => t.dtype),
    values: outputs.map((t) => t.dataSync() as Float32Array),
  }
  tf.dispose(outputs)
  return outcome
}

export interface CompareOptions {
  /** Largest normwise relative error allowed (default 1e-4, the bound). */
  tolerance?: number
  /** Kernels that must have run natively at least once, and never fallen back, during `build`. */
  native?: string[]
  /** Kernels that must have fallen back to the CPU kernel at least once during `build`. */
  fallback?: string[]
}

/**
 * Runs `build` on the CPU backend and on malt-native, asserts equal shapes and dtypes and a
 * relative error within tolerance for every output, and checks which path the named kernels took.
 * Returns the worst relative error seen.
 */
export function compareWithCpu(label: string, build: () => tfjs.Tensor | tfjs.Tensor[], options: CompareOptions = {}): number {
  const tolerance = options.tolerance ?? 1e-4
  const previous = tf.getBackend()
  try {
    const expected = runOn('cpu', build)
    nativeBackend.resetCallCounts()
    const actual = runOn('malt-native', build)
    const counts = nativeBackend.callCounts()
    for (const kernel of options.native ?? []) {
      const count = counts[kernel]
      assert.ok(count, `${label}: ${kernel} has no native kernel`)
      assert.ok(count.native > 0, `${label}: ${kernel} never ran natively (${count.fallback} fallbacks)`)
      assert.equal(count.fallback, 0, `${label}: ${kernel} fell back to the CPU kernel ${count.fallback} times`)
    }
    for (const kernel of options.fallback ?? []) {
      assert.ok((counts[kernel]?.fallback ?? 0) > 0, `${label}: ${kernel} was expected to fall back to the CPU kernel`)
    }
    assert.deepEqual(actual.shapes, expected.shapes, `${label}: output shapes`)
    assert.deepEqual(actual.dtypes, expected.dtypes, `${label}: output dtypes`)
    let worst = 0
    for (let i = 0; i < expected.values.length; i++) {
      const error = relativeError(actual.values[i], expected.values[i])
      assert.ok(error <= tolerance, `${label}: output ${i} relative error ${error.toExponential(2)} > ${tolerance}`)
      worst = Math.max(worst, error)
    }
    return worst
  } finally {
    tf.setBackend(previous)
  }
}

/**
 * Checks the gradient of `loss` at `x` on malt-native against central differences
 * (float32 arithmetic, so the bound is loose: 1e-2 normwise by default).
 */
export function checkGradientNumerically(
  label: string,
  loss: (x: tfjs.Tensor) => tfjs.Scalar,
  x: tfjs.Tensor,
  options: { epsilon?: number; tolerance?: number; maxProbes?: number } = {},
): void {
  const epsilon = options.epsilon ?? 1e-2
  const tolerance = options.tolerance ?? 1e-2
  const previous = tf.getBackend()
  tf.setBackend('malt-native')
  try {
    const analytic = tf.tidy(() => tf.grad(loss)(x).dataSync().slice())
    const base = x.dataSync().slice()
    // Probe a spread of coordinates (all of them for small tensors) to keep the test quick.
    const probes = Math.min(base.length, options.maxProbes ?? 64)
    const step = base.length / probes
    const numeric: number[] = []
    const picked: number[] = []
    for (let p = 0; p < probes; p++) {
      const index = Math.floor(p * step)
      const at = (delta: number) =>
        tf.tidy(() => {
          const shifted = base.slice()
          shifted[index] += delta
          return loss(tf.tensor(shifted, x.shape, 'float32')).dataSync()[0]
        })
      numeric.push((at(epsilon) - at(-epsilon)) / (2 * epsilon))
      picked.push(analytic[index])
    }
    const error = relativeError(picked, numeric)
    assert.ok(error <= tolerance, `${label}: gradient relative error ${error.toExponential(2)} > ${tolerance}`)
  } finally {
    tf.setBackend(previous)
  }
}
