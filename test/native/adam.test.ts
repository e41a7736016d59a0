// The fused Adam update on malt-native: the same weights, moments and optimizer state as TF.js's
// own AdamOptimizer on the CPU backend, step after step; its state saves and restores as before.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { relativeError, requireNativeBackend, seededTensor } from '../helpers/native.js'

/** Trains a small dense model for `steps` Adam steps and returns its weights and optimizer weights. */
async function adamRun(backendName: string, steps: number, learningRate: number): Promise<{ weights: Float32Array[]; optimizer: { name: string; values: Float32Array }[] }> {
  tf.setBackend(backendName)
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [7], units: 5, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  })
  const optimizer = tf.train.adam(learningRate, 0.8, 0.95, 1e-6)
  model.compile({ optimizer, loss: 'meanSquaredError' })
  const x = seededTensor([16, 7], 1)
  const y = seededTensor([16, 3], 2)
  for (let step = 0; step < steps; step++) await model.trainOnBatch(x, y)
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array)
  const optimizerWeights = (await optimizer.getWeights()).map((named) => ({ name: named.name, values: named.tensor.dataSync() as Float32Array }))
  tf.dispose([x, y])
  model.dispose()
  return { weights, optimizer: optimizerWeights }
}

test('fused Adam gives the same weights and optimizer state as TF.js Adam on the CPU backend', async () => {
  await requireNativeBackend()
  const previous = tf.getBackend()
  try {
    const cpu = await adamRun('cpu', 25, 0.01)
    const native = await adamRun('malt-native', 25, 0.01)
    assert.equal(native.weights.length, cpu.weights.length)
    for (const [i, w] of native.weights.entries()) {
      assert.ok(relativeError(w, cpu.weights[i]) < 1e-5, `weight ${i}: relative error ${relativeError(w, cpu.weights[i])}`)
    }
    // Same slot names in the same order (iterations, then <var>/m…, then <var>/v…), same values.
    // Layer names carry a process-wide counter (dense_Dense3 vs dense_Dense1); compare without it.
    const shape = (name: string) => name.replace(/\d+/g, '#')
    assert.deepEqual(native.optimizer.map((o) => shape(o.name)), cpu.optimizer.map((o) => shape(o.name)))
    assert.ok(native.optimizer.some((o) => o.name.endsWith('/m')) && native.optimizer.some((o) => o.name.endsWith('/v')))
    for (const [i, o] of native.optimizer.entries()) {
      assert.ok(relativeError(o.values, cpu.optimizer[i].values) < 1e-5, `${o.name}: relative error ${relativeError(o.values, cpu.optimizer[i].values)}`)
    }
  } finally {
    tf.setBackend(previous)
  }
})

test('fused Adam state restores with setWeights and training continues identically', async () => {
  await requireNativeBackend()
  const previous = tf.getBackend()
  tf.setBackend('malt-native')
  try {
    const variable = tf.variable(seededTensor([4, 3], 9)) as tfjs.Variable
    const target = seededTensor([4, 3], 10)
    const loss = () => tf.losses.meanSquaredError(target, variable) as tfjs.Scalar
    const first = tf.train.adam(0.05)
    for (let i = 0; i < 5; i++) first.minimize(loss)
    const saved = (await first.getWeights()).map((named) => ({ name: named.name, tensor: named.tensor.clone() }))
    const savedValue = variable.clone()
    first.minimize(loss)
    const expected = variable.dataSync().slice()
    // A fresh optimizer given the saved state takes the same sixth step.
    variable.assign(savedValue)
    const second = tf.train.adam(0.05)
    await second.setWeights(saved)
    second.minimize(loss)
    assert.ok(relativeError(variable.dataSync(), expected) < 1e-6)
    assert.equal(second.iterations, 6)
  } finally {
    tf.setBackend(previous)
  }
})
