// The learning-rate scheme changes a live optimiser's rate: the next step moves a variable by the
// new rate, for every optimiser the trainers build.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tf, ready } from '../backend/index.js'
import { createOptimizer, OPTIMIZERS, setLearningRate } from './optimizers.js'

/** How far one step with gradient 1 moves a variable at 0. */
function step(optimizer: ReturnType<typeof createOptimizer>, variable: ReturnType<typeof tf.variable>): number {
  const before = variable.dataSync()[0]
  optimizer.applyGradients({ [variable.name]: tf.ones([1]) })
  return Math.abs(variable.dataSync()[0] - before)
}

test('setLearningRate scales the next step of every optimiser', async () => {
  await ready()
  for (const name of OPTIMIZERS) {
    // Two fresh optimisers with the same state: one at rate r, one lowered from 10r to r.
    const direct = createOptimizer({ optimizer: name, learningRate: 0.01, loss: 'meanSquaredError', metrics: [] }, 'single')
    const lowered = createOptimizer({ optimizer: name, learningRate: 0.1, loss: 'meanSquaredError', metrics: [] }, 'single')
    setLearningRate(lowered, 0.01)
    const a = tf.variable(tf.zeros([1]), true, `${name}-a`)
    const b = tf.variable(tf.zeros([1]), true, `${name}-b`)
    const moved = [step(direct, a), step(lowered, b)]
    assert.ok(moved[0] > 0, `${name} moves`)
    assert.ok(Math.abs(moved[0] - moved[1]) < 1e-7, `${name}: ${moved[0]} vs ${moved[1]}`)
    tf.dispose([a, b])
  }
})
