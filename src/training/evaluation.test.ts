// The predictor and evaluators on a model whose answers are known: a dense layer with the
// identity kernel, so the predicted class is the arg-max of the input.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tf, ready } from '../backend/index.js'
import { Dataset } from '../data/dataset.js'
import { AccuracyEvaluator, ConfusionMatrixEvaluator, ModelPredictor } from './evaluation.js'

async function identityModel(): Promise<ReturnType<typeof tf.sequential>> {
  await ready()
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 3, useBias: false })] })
  model.layers[0].setWeights([tf.eye(3)])
  return model
}

const ROWS = [
  { x: [0.9, 0.1, 0], label: 0 },
  { x: [0.1, 0.8, 0.1], label: 1 },
  { x: [0, 0.2, 0.7], label: 2 },
  { x: [0.6, 0.3, 0.1], label: 2 },
  { x: [0.2, 0.7, 0.1], label: 0 },
]

test('ModelPredictor adds the scores in batches and keeps the rows and their order', async () => {
  const model = await identityModel()
  const predicted = await new ModelPredictor({ model, features: 'x', batchSize: 2 }).predict(Dataset.fromArray(ROWS)).toArray()
  assert.equal(predicted.length, 5)
  assert.deepEqual(predicted.map((row) => row.label), ROWS.map((row) => row.label))
  assert.deepEqual(Array.from(predicted[2].prediction as Float32Array).map((v) => Math.round(v * 10) / 10), [0, 0.2, 0.7])
  model.dispose()
})

test('AccuracyEvaluator and ConfusionMatrixEvaluator count the arg-max against the label', async () => {
  const model = await identityModel()
  const predicted = await new ModelPredictor({ model, features: 'x' }).predict(ROWS).toArray()
  assert.equal(await new AccuracyEvaluator().evaluate(predicted), 3 / 5)
  const confusion = await new ConfusionMatrixEvaluator({ classes: 3 }).evaluate(predicted)
  assert.deepEqual(confusion.matrix, [
    [1, 1, 0],
    [0, 1, 0],
    [1, 0, 1],
  ])
  assert.equal(confusion.accuracy, 3 / 5)
  assert.deepEqual(confusion.recall, [0.5, 1, 0.5])
  assert.deepEqual(confusion.precision, [0.5, 0.5, 1])
  await assert.rejects(new AccuracyEvaluator().evaluate([{ prediction: 'cat', label: 1 }]), /row 0: column "prediction": expected a prediction/)
  await assert.rejects(new AccuracyEvaluator().evaluate([]), /empty data set/)
  model.dispose()
})
