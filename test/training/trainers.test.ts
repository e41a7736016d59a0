// The dist-keras trainers that need neither a parameter server nor a ring, trained for real on
// Fashion-MNIST by worker processes: each must reach a sensible test accuracy, report live
// metrics to the driver while it trains, and leave nothing running.
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { data, tf, trainers } from '../../src/index.js'
import type { Row } from '../../src/data/types.js'
import { useTempDir } from '../helpers/temp-dir.js'

const temp = useTempDir()
let train: Row[]
let testX: ReturnType<typeof tf.tensor2d>
let testY: number[]

before(async () => {
  train = await data.fashionMnist({ split: 'train' }).take(8000).toArray()
  const rows = await data.fashionMnist({ split: 'test' }).take(1000).toArray()
  testX = tf.tensor2d(rows.map((row) => Array.from(row.image)))
  testY = rows.map((row) => row.label)
})

function mlp(): tfjs.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  })
}

function accuracy(model: { predict(x: ReturnType<typeof tf.tensor2d>): unknown }): number {
  const predicted = tf.tidy(() => (model.predict(testX) as ReturnType<typeof tf.tensor2d>).argMax(1).dataSync())
  return testY.filter((label, i) => predicted[i] === label).length / testY.length
}

const common = () => ({ model: mlp(), loss: 'categoricalCrossentropy', metrics: ['accuracy'], batchSize: 64, features: 'image', label: 'label', oneHot: 10, home: temp.join('home') })

test('SingleTrainer trains one worker on all the data; live batch and epoch metrics reach the driver', async () => {
  const batches: number[] = []
  const epochs: Record<string, number>[] = []
  const trainer = new trainers.SingleTrainer({ ...common(), epochs: 2, callbacks: { onBatchEnd: (_w, batch) => void batches.push(batch), onEpochEnd: (_e, logs) => void epochs.push(logs) } })
  const model = await trainer.train(train)
  const acc = accuracy(model)
  assert.ok(acc > 0.72, `test accuracy ${acc}`)
  assert.equal(epochs.length, 2)
  assert.ok(epochs[1].loss < epochs[0].loss, `loss falls: ${JSON.stringify(epochs)}`)
  assert.ok(batches.length >= 12, `live batch metrics: ${batches.length}`)
  const history = trainer.history()
  assert.equal(history.workers.length, 1)
  assert.deepEqual(history.averaged.map((e) => e.epoch), [0, 1])
  assert.ok(history.averaged[1].acc > 0.6)
})

test('AveragingTrainer: two workers, the model is the mean of the replicas after each epoch', async () => {
  const trainer = new trainers.AveragingTrainer({ ...common(), numWorkers: 2, epochs: 3 })
  const model = await trainer.train(train)
  const acc = accuracy(model)
  assert.ok(acc > 0.7, `test accuracy ${acc}`)
  const history = trainer.history()
  assert.equal(history.workers.length, 2)
  assert.ok(history.workers.every((w) => w.epochs.length === 3))
})

test('EnsembleTrainer returns one independently trained model per worker', async () => {
  const models = await new trainers.EnsembleTrainer({ ...common(), numWorkers: 2, epochs: 2 }).train(train)
  assert.equal(models.length, 2)
  const accs = models.map(accuracy)
  assert.ok(accs.every((acc) => acc > 0.65), `test accuracies ${accs}`)
  assert.notDeepEqual(Array.from(models[0].getWeights()[0].dataSync().slice(0, 8)), Array.from(models[1].getWeights()[0].dataSync().slice(0, 8)), 'trained on different shards')
})

test('stop on target: the run ends once the averaged metric reaches the target', async () => {
  const trainer = new trainers.SingleTrainer({ ...common(), epochs: 20, stopOnTarget: { metric: 'accuracy', value: 0.7 } })
  await trainer.train(train)
  assert.ok(trainer.history().averaged.length < 3, `stopped after ${trainer.history().averaged.length} epochs`)
})
