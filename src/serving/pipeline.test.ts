// A fitted data pipeline served in front of a real TF.js model: which stages run, what raw columns
// requests carry and with which types, the label inverse, missing values an Imputer fills, and the
// errors a bad pipeline (at load) or a bad row (per request) gives.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tf, ready } from '../backend/index.js'
import { Imputer, LabelIndexer, OneHotEncoder, Pipeline, SparseToDense, StandardScaler, VectorAssembler } from '../data/transformers/index.js'
import type { Row } from '../data/types.js'
import { useTempDir } from '../../test/helpers/temp-dir.js'
import { rejectsWith } from '../../test/helpers/errors.js'
import { decodePredictRequest, encodePredictResponse } from './protocols/tfserving.js'
import { exportModel } from './export.js'
import { PIPELINE_FILE, planServing } from './pipeline.js'
import { loadModelVersion } from './runtimes/index.js'
import { ServingError, type LoadedModel, type Tensor } from './types.js'

const temp = useTempDir()

/** Customers: an age with gaps, a city, an income; the label is the plan they bought. */
const TRAINING: Row[] = [
  { age: 31, city: 'Oslo', income: 52_000, plan: 'basic' },
  { age: null, city: 'Paris', income: 71_000, plan: 'premium' },
  { age: 45, city: 'Lima', income: 38_000, plan: 'basic' },
  { age: 52, city: 'Paris', income: 90_000, plan: 'premium' },
  { age: 29, city: 'Oslo', income: 43_000, plan: 'basic' },
]

function customerPipeline(): Pipeline {
  return new Pipeline([
    new LabelIndexer({ inputCol: 'plan', outputCol: 'label' }),
    new Imputer({ inputCol: 'age', strategy: 'mean' }),
    new OneHotEncoder({ inputCol: 'city', outputCol: 'cityVector' }),
    new StandardScaler({ inputCol: 'income' }),
    new VectorAssembler({ inputCols: ['age', 'cityVector', 'income'], outputCol: 'features' }),
  ])
}

/** A dense softmax layer over `inputs` features with fixed weights, so predictions are reproducible. */
function classifier(inputs: number, classes: number): ReturnType<typeof tf.sequential> {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [inputs], units: classes, activation: 'softmax' })] })
  const kernel = Array.from({ length: inputs * classes }, (_, i) => Math.sin(i + 1) / 10)
  model.layers[0].setWeights([tf.tensor2d(kernel, [inputs, classes]), tf.tensor1d(Array.from({ length: classes }, (_, i) => i / 10))])
  return model
}

/** Saves `model` with `pipeline` beside it as a version directory. */
async function version(name: string, model: ReturnType<typeof tf.sequential>, pipeline: Pipeline | object): Promise<string> {
  const dir = join(temp.join(name), '1')
  await mkdir(dir, { recursive: true })
  await model.save(`file://${dir}`)
  await writeFile(join(dir, PIPELINE_FILE), JSON.stringify(pipeline instanceof Pipeline ? pipeline.toJSON() : pipeline))
  return dir
}

let pipeline: Pipeline
let served: LoadedModel
let model: ReturnType<typeof tf.sequential>

before(async () => {
  await ready()
  pipeline = await customerPipeline().fit(TRAINING)
  model = classifier(5, 2)
  served = await loadModelVersion(await version('customers', model, pipeline))
})

after(async () => {
  await served?.dispose()
  model?.dispose()
})

/** What the pipeline and the model give in-process, row by row: the scores and the plan name. */
function expected(rows: Row[]): { scores: number[][]; plans: string[] } {
  const indexer = pipeline.stages[0] as LabelIndexer
  const scores = rows.map((row) => {
    const features = pipeline.stages.slice(1).reduce((r, stage) => stage.transform(r), row).features as Float32Array
    return Array.from(tf.tidy(() => (model.predict(tf.tensor2d(features, [1, features.length])) as ReturnType<typeof tf.tensor2d>).dataSync()))
  })
  return { scores, plans: scores.map((s) => indexer.labels![s[0] >= s[1] ? 0 : 1]) }
}

test('the served signature is the raw columns the features need, typed by the stage that reads them', () => {
  assert.deepEqual(served.inputs, [
    { name: 'age', datatype: 'FP64', shape: [-1], nullable: true },
    { name: 'city', datatype: 'BYTES', shape: [-1] },
    { name: 'income', datatype: 'FP64', shape: [-1] },
  ])
  // The model's scores, then the label inverse named after the label column.
  assert.deepEqual(served.outputs.map((spec) => [spec.name, spec.datatype, spec.shape]), [
    [model.outputs[0].sourceLayer.name, 'FP32', [-1, 2]],
    ['plan', 'BYTES', [-1]],
  ])
  const plan = planServing(pipeline, 'pipeline.json')
  assert.equal(plan.features, 'features')
  assert.deepEqual(plan.stages.map((stage) => stage.type), ['Imputer', 'OneHotEncoder', 'StandardScaler', 'VectorAssembler'], 'the label indexer does not run on requests')
})

test('a TF Serving row request with raw values (a missing age included) gives the scores and plan names the pipeline and model give in-process', async () => {
  const rows: Row[] = [
    { age: 40, city: 'Lima', income: 60_000 },
    { age: null, city: 'Oslo', income: 45_000 },
    { age: 23, city: 'Paris', income: 120_000 },
  ]
  const decoded = decodePredictRequest({ instances: rows }, served)
  const outputs = await served.predict(decoded.inputs)
  const want = expected(rows)
  const scores = outputs.get(served.outputs[0].name)!
  assert.deepEqual(scores.shape, [3, 2])
  for (const [i, row] of want.scores.entries()) row.forEach((v, j) => assert.ok(Math.abs((scores.data as Float32Array)[i * 2 + j] - v) < 1e-6, `row ${i} score ${j}`))
  assert.deepEqual(outputs.get('plan'), { name: 'plan', datatype: 'BYTES', shape: [3], data: want.plans })
  const body = JSON.parse(encodePredictResponse('row', outputs, served)) as { predictions: { plan: string }[] }
  assert.deepEqual(body.predictions.map((p) => p.plan), want.plans)
})

test('a row the pipeline refuses is a 400 naming the instance and the column; null where nothing imputes is refused by the decoder', async () => {
  const decoded = decodePredictRequest({ instances: [{ age: 40, city: 'Lima', income: 1 }, { age: 40, city: 'Tokyo', income: 1 }] }, served)
  const refused = await rejectsWith(served.predict(decoded.inputs), 'SERVING_BAD_VALUE', ['instance 1: OneHotEncoder: column "city"', 'Tokyo'])
  assert.ok(refused instanceof ServingError && refused.status === 400)
  assert.throws(() => decodePredictRequest({ instances: [{ age: 40, city: 'Lima', income: null }] }, served), (error) => error instanceof ServingError && error.status === 400 && /income.*expected a number \(FP64\), got null/.test(error.message))
  assert.throws(() => decodePredictRequest({ instances: [{ age: 40, city: 'Lima' }] }, served), (error) => error instanceof ServingError && error.status === 400 && /income/.test(error.message))
})

test('a scaler fitted on vectors takes a vector input of that length; the features feed a model without a label inverse', async () => {
  const images = Array.from({ length: 6 }, (_, i) => ({ pixels: Float32Array.from({ length: 4 }, (_, j) => i * j) }))
  const scaler = await new Pipeline([new StandardScaler({ inputCol: 'pixels', outputCol: 'features' })]).fit(images)
  const vectorModel = classifier(4, 3)
  const loaded = await loadModelVersion(await version('vectors', vectorModel, scaler))
  try {
    assert.deepEqual(loaded.inputs, [{ name: 'pixels', datatype: 'FP32', shape: [-1, 4] }])
    assert.equal(loaded.outputs.length, 1)
    const pixels = new Float32Array([0, 1, 2, 3, 0, 5, 10, 15])
    const input: Tensor = { name: 'pixels', datatype: 'FP32', shape: [2, 4], data: pixels }
    const scores = (await loaded.predict(new Map([['pixels', input]]))).get(loaded.outputs[0].name)!
    const want = tf.tidy(() => {
      const features = [pixels.subarray(0, 4), pixels.subarray(4)].map((pixels) => Array.from(scaler.transform({ pixels }).features as Float32Array))
      return Array.from((vectorModel.predict(tf.tensor2d(features)) as ReturnType<typeof tf.tensor2d>).dataSync())
    })
    want.forEach((v, i) => assert.ok(Math.abs((scores.data as Float32Array)[i] - v) < 1e-6))
  } finally {
    await loaded.dispose()
    vectorModel.dispose()
  }
})

test('pipelines that cannot be served fail the load with the file and the reason', async () => {
  const wrongClasses = classifier(5, 3)
  await rejectsWith(loadModelVersion(await version('wrong-classes', wrongClasses, pipeline)), 'SERVING_BAD_PIPELINE', ['pipeline.json: the label column "plan" has 2 labels', 'has shape [-1, 3]'])
  const sparse = new Pipeline([new SparseToDense({ inputCol: 'terms', outputCol: 'features' })])
  await rejectsWith(loadModelVersion(await version('sparse', classifier(4, 2), sparse)), 'SERVING_BAD_PIPELINE', ['column "terms" is read first by a SparseToDense stage, which cannot take a raw request column'])
  const unfitted = customerPipeline()
  await rejectsWith(loadModelVersion(await version('unfitted', classifier(5, 2), unfitted)), 'SERVING_BAD_PIPELINE', ['stage 0 (LabelIndexer) is not fitted'])
  await rejectsWith(loadModelVersion(await version('not-a-pipeline', classifier(5, 2), { type: 'Nope' })), 'SERVING_BAD_PIPELINE', ['pipeline.json: unknown transformer type "Nope"'])
})

test('exportModel copies the pipeline as pipeline.json, and refuses one the server could not serve before writing anything', async () => {
  const source = temp.join('export-source')
  await classifier(5, 2).save(`file://${source}`)
  const prep = temp.join('prep.json')
  await pipeline.save(prep)
  const repository = temp.join('export-repo')
  const exported = await exportModel({ source, repository, name: 'customers', pipeline: prep })
  assert.deepEqual(exported.files.at(-1), PIPELINE_FILE)
  assert.deepEqual(JSON.parse(await readFile(join(exported.dir, PIPELINE_FILE), 'utf8')), pipeline.toJSON())

  const unfitted = temp.join('unfitted.json')
  await customerPipeline().save(unfitted)
  await rejectsWith(exportModel({ source, repository, name: 'customers', pipeline: unfitted }), 'SERVING_BAD_PIPELINE', ['unfitted.json', 'is not fitted'])
  await rejectsWith(exportModel({ source, repository, name: 'customers', pipeline: temp.join('missing.json') }), 'SERVING_BAD_PIPELINE', ['missing.json'])
  assert.deepEqual((await readdir(join(repository, 'customers'))).sort(), ['1'], 'no version or temporary directory left')
})
