// The synchronous trainers over a real ring all-reduce among worker processes, trained for real
// on Fashion-MNIST: AllReduce (gradients averaged every step; the replicas stay identical) and
// synchronous EASGD.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tf, trainers } from '../../src/index.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { seededMlp, useFashion } from './fixtures/fashion.js'

const temp = useTempDir()
const fashion = useFashion(8000)
const accuracy = fashion.accuracy

const common = () => ({ model: seededMlp(), loss: 'categoricalCrossentropy', metrics: ['accuracy'], batchSize: 64, features: 'image', label: 'label', oneHot: 10, numWorkers: 2, epochs: 2, home: temp.join('home') })

test('AllReduce: two workers average gradients every step; both replicas end identical and the model trains', async () => {
  const trainer = new trainers.AllReduce({ ...common(), fusionBytes: 64 * 1024 })
  const model = await trainer.train(fashion.train())
  const acc = accuracy(model)
  assert.ok(acc > 0.72, `test accuracy ${acc}`)
  const history = trainer.history()
  assert.equal(history.workers[0].epochs.length, 2)
  assert.ok(history.workers[0].epochs[1].loss < history.workers[0].epochs[0].loss)
  // The trainer checks that both replicas ended bit-identical (TRAIN_REPLICAS_DIVERGED otherwise).
})

test('EASGD (synchronous): workers meet every window over the ring and the center trains', async () => {
  const model = await new trainers.EASGD({ ...common(), communicationWindow: 8 }).train(fashion.train())
  const acc = accuracy(model)
  assert.ok(acc > 0.68, `test accuracy ${acc}`)
})

test('a lockstep trainer stops on target at an epoch barrier: both workers stop together, no ring is left waiting', async () => {
  const trainer = new trainers.AllReduce({ ...common(), epochs: 10, stopOnTarget: { metric: 'accuracy', value: 0.5 } })
  await trainer.train(fashion.train())
  const history = trainer.history()
  assert.equal(history.averaged.length, 1, `stopped after the first epoch: ${JSON.stringify(history.averaged)}`)
  assert.ok(history.workers.every((w) => w.epochs.length === 1))
})

test('AllReduce with batch normalisation: the moving statistics are averaged, so the replicas still end identical', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 32, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), kernelRegularizer: tf.regularizers.l2({ l2: 1e-4 }) }),
      tf.layers.batchNormalization(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  })
  const trained = await new trainers.AllReduce({ ...common(), model, epochs: 1 }).train(fashion.train())
  const acc = accuracy(trained)
  assert.ok(acc > 0.6, `test accuracy ${acc}`)
})
