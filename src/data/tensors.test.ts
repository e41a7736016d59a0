// Batches of rows become tensors by column names, and a tf.data.Dataset trains a model.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { tf, ready } from '../backend/index.js'
import { Dataset } from './dataset.js'
import { rowsToTensors, toTfDataset } from './tensors.js'
import type { Row } from './types.js'

before(async () => {
  await ready()
})

test('vector and scalar feature columns stack side by side; labels become one-hot', () => {
  const rows = [
    { pixels: [1, 2], extra: 3, label: 2 },
    { pixels: new Float32Array([4, 5]), extra: 6, label: 0 },
  ]
  const { xs, ys } = rowsToTensors(rows, { features: ['pixels', 'extra'], label: 'label', oneHot: 3 })
  assert.deepEqual(xs.shape, [2, 3])
  assert.deepEqual(xs.arraySync(), [[1, 2, 3], [4, 5, 6]])
  assert.deepEqual(ys?.arraySync(), [[0, 0, 1], [1, 0, 0]])
  const plain = rowsToTensors(rows, { features: 'pixels', label: 'label', featureShape: [2, 1] })
  assert.deepEqual(plain.xs.shape, [2, 2, 1])
  assert.deepEqual(plain.ys?.arraySync(), [[2], [0]])
})

test('a missing column, a ragged vector or a bad label names the column and row', () => {
  assert.throws(() => rowsToTensors([{ a: 1 }], { features: 'b' }), /column "b" of row 0.*missing; the row has columns a/)
  assert.throws(() => rowsToTensors([{ a: [1, 2] }, { a: [1] }], { features: 'a' }), /column "a" of row 1/)
  assert.throws(() => rowsToTensors([{ a: 1, y: 'cat' }], { features: 'a', label: 'y' }), /column "y" of row 0 in the batch: expected a numeric label, received "cat"/)
  assert.throws(() => rowsToTensors([{ a: 1, y: 5 }], { features: 'a', label: 'y', oneHot: 3 }), /integer class in \[0, 3\).*5/)
})

test('toTfDataset feeds model.fitDataset and the loss goes down', async () => {
  // y = 1 when x0 + x1 > 0: a separable problem a logistic regression learns quickly.
  const rows = Array.from({ length: 256 }, (_, i) => {
    const x0 = Math.sin(i * 12.9898) * 2
    const x1 = Math.cos(i * 78.233) * 2
    return { x0, x1, y: x0 + x1 > 0 ? 1 : 0 }
  })
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, activation: 'sigmoid' })] })
  model.compile({ optimizer: tf.train.adam(0.1), loss: 'binaryCrossentropy', metrics: ['accuracy'] })
  const batches = Dataset.fromArray(rows).batch(32)
  const before = tf.memory().numTensors
  const history = await model.fitDataset(toTfDataset(batches, { features: ['x0', 'x1'], label: 'y' }), { epochs: 5, verbose: 0 })
  const losses = history.history.loss as number[]
  assert.ok(losses[4] < losses[0] * 0.7, `loss went from ${losses[0]} to ${losses[4]}`)
  assert.ok((history.history.acc as number[])[4] > 0.9)
  // Batch tensors are disposed after each step: no growth beyond the optimizer's own state.
  assert.ok(tf.memory().numTensors - before < 20, `tensor count grew by ${tf.memory().numTensors - before}`)
})

test('bad labels or a wrong featureShape throw before any tensor is made', () => {
  const before = tf.memory().numTensors
  for (let i = 0; i < 3; i++) {
    assert.throws(() => rowsToTensors([{ a: 1, y: 'cat' }], { features: 'a', label: 'y' }), /expected a numeric label/)
    assert.throws(() => rowsToTensors([{ a: [1, 2, 3], y: 1 }], { features: 'a', label: 'y', featureShape: [2, 2] }), /featureShape \[2, 2\] holds 4 values, but each row has 3/)
  }
  assert.equal(tf.memory().numTensors, before)
})

test('a pass that fitDataset abandons (batchesPerEpoch) is closed when the next pass starts', async () => {
  let open = 0
  let opened = 0
  const source = new Dataset<Row>(() => {
    open++
    opened++
    let index = 0
    let closed = false
    const close = (): void => {
      if (!closed) open--
      closed = true
    }
    return {
      next: async () => {
        if (index < 1000) return { done: false, value: { x: index++ % 7, y: index % 2 } }
        close()
        return { done: true, value: undefined }
      },
      return: async () => {
        close()
        return { done: true, value: undefined }
      },
    }
  })
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [1], units: 1, activation: 'sigmoid' })] })
  model.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy' })
  const ds = toTfDataset(source.batch(10), { features: 'x', label: 'y' })
  await model.fitDataset(ds, { epochs: 3, batchesPerEpoch: 2, verbose: 0 })
  await ds.toArray().then((all) => all.forEach((batch) => tf.dispose(batch)))
  assert.ok(opened >= 2, `opened ${opened} passes`)
  assert.equal(open, 0, 'no pass is left open after a final full pass')
})
