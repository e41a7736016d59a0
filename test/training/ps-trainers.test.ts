// The asynchronous dist-keras optimisers against real parameter server processes, trained for
// real on Fashion-MNIST by two worker processes each: every one must reach a sensible test
// accuracy, and the model must be the center variable the servers hold.
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { data, tf, trainers } from '../../src/index.js'
import type { Row } from '../../src/data/types.js'
import { useTempDir } from '../helpers/temp-dir.js'

const temp = useTempDir()
let train: Row[]
let testX: tfjs.Tensor2D
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

function accuracy(model: tfjs.LayersModel): number {
  const predicted = tf.tidy(() => (model.predict(testX) as tfjs.Tensor2D).argMax(1).dataSync())
  return testY.filter((label, i) => predicted[i] === label).length / testY.length
}

const common = () => ({ model: mlp(), loss: 'categoricalCrossentropy', metrics: ['accuracy'], batchSize: 64, features: 'image', label: 'label', oneHot: 10, numWorkers: 2, epochs: 2, home: temp.join('home') })

for (const [name, make, floor] of [
  ['ADAG', () => new trainers.ADAG({ ...common(), communicationWindow: 12 }), 0.62],
  ['DOWNPOUR', () => new trainers.DOWNPOUR({ ...common(), communicationWindow: 5 }), 0.62],
  ['DynSGD', () => new trainers.DynSGD({ ...common() }), 0.62],
  ['AEASGD', () => new trainers.AEASGD({ ...common(), communicationWindow: 8 }), 0.62],
  ['EAMSGD', () => new trainers.EAMSGD({ ...common(), communicationWindow: 8, learningRate: 0.05 }), 0.62],
] as const) {
  test(`${name}: two workers and a parameter server train Fashion-MNIST`, async () => {
    const trainer = make()
    const model = await trainer.train(train)
    const acc = accuracy(model)
    assert.ok(acc > floor, `${name} test accuracy ${acc}`)
    const history = trainer.history()
    assert.equal(history.workers.length, 2)
    assert.deepEqual(history.lostWorkers, [])
    assert.equal(history.averaged.length, 2)
  })
}

test('two parameter servers, each holding a slice, with float16 commits, train as well', async () => {
  const model = await new trainers.ADAG({ ...common(), parameterServers: 2, compression: 'float16' }).train(train)
  const acc = accuracy(model)
  assert.ok(acc > 0.62, `test accuracy ${acc}`)
})
