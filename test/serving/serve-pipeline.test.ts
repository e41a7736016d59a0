// A model served with its fitted data pipeline, as a user takes it: a pipeline (label names indexed,
// pixels standardised) fitted on real Fashion-MNIST, a model trained on its output, both exported
// with `malt models export --pipeline`, and `malt serve` answering raw pixels with class names over
// TF Serving's REST API and KServe v2.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { data, tf } from '../../src/index.js'
import { FASHION_MNIST_CLASSES } from '../../src/data/sources/mnist.js'
import { LabelIndexer, Pipeline, StandardScaler } from '../../src/data/transformers/index.js'
import type { Row } from '../../src/data/types.js'
import { runMalt } from '../helpers/cli.js'
import { startServe, type ServeProcess } from '../helpers/serve-process.js'
import { useTempDir } from '../helpers/temp-dir.js'

const temp = useTempDir()
const repo = temp.join('models')
const IMAGES = 40

let server: ServeProcess
let images: number[][]
let classNames: string[]
/** What the pipeline and model give in-process for the test images. */
let expectedNames: string[]
let expectedScores: number[][]

async function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

before(async () => {
  mkdirSync(repo, { recursive: true })
  const named = (row: { image: Float32Array; label: number }): Row => ({ image: row.image, className: FASHION_MNIST_CLASSES[row.label] })
  const train = (await data.fashionMnist({ split: 'train' }).take(3000).toArray()).map(named)
  const testRows = (await data.fashionMnist({ split: 'test' }).take(IMAGES).toArray()).map(named)
  const pipeline = await new Pipeline([
    new LabelIndexer({ inputCol: 'className', outputCol: 'label' }),
    new StandardScaler({ inputCol: 'image', outputCol: 'features' }),
  ]).fit(train)
  const prepared = train.map((row) => pipeline.transform(row))
  const classes = (pipeline.stages[0] as LabelIndexer).labels!.length
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  })
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' })
  const xs = tf.tensor2d(prepared.map((row) => Array.from(row.features as Float32Array)))
  const ys = tf.oneHot(tf.tensor1d(prepared.map((row) => row.label as number), 'int32'), classes).toFloat()
  await model.fit(xs, ys, { epochs: 3, batchSize: 64, shuffle: false, verbose: 0 })
  tf.dispose([xs, ys])

  const modelDir = temp.join('trained')
  await model.save(`file://${modelDir}`)
  await pipeline.save(temp.join('prep.json'))
  images = testRows.map((row) => Array.from(row.image as Float32Array))
  classNames = testRows.map((row) => row.className as string)
  const inverse = (pipeline.stages[0] as LabelIndexer).inverse({ inputCol: 'scores', outputCol: 'name' })
  expectedScores = testRows.map((row) => Array.from(tf.tidy(() => (model.predict(tf.tensor2d([Array.from(pipeline.transform(row).features as Float32Array)])) as ReturnType<typeof tf.tensor2d>).dataSync())))
  expectedNames = expectedScores.map((scores) => inverse.transform({ scores }).name as string)
  model.dispose()

  const exported = await runMalt(['models', 'export', '--repo', repo, '--name', 'fashion', '--from', modelDir, '--pipeline', temp.join('prep.json')])
  assert.equal(exported.code, 0, exported.stderr)
  assert.match(exported.stdout, /exported fashion version 1 to /)
  server = await startServe(['--models', repo])
})

after(async () => {
  if (server) assert.equal(await server.stop(), 0, `malt serve should exit 0 on SIGTERM; stderr:\n${server.stderr()}`)
})

test('metadata shows the raw input the pipeline reads and the class-name output', async () => {
  const metadata = (await (await fetch(`${server.url}/v2/models/fashion`)).json()) as { inputs: unknown[]; outputs: { name: string; datatype: string; shape: number[] }[] }
  assert.deepEqual(metadata.inputs, [{ name: 'image', datatype: 'FP32', shape: [-1, 784] }])
  assert.deepEqual(metadata.outputs.at(-1), { name: 'className', datatype: 'BYTES', shape: [-1] })
})

test('TF Serving: raw pixels in, class names (and the scores) out, equal to the pipeline and model in-process and mostly right', async () => {
  const response = await post('/v1/models/fashion:predict', { instances: images.map((image) => ({ image })) })
  assert.equal(response.status, 200, JSON.stringify(response.body))
  const predictions = response.body.predictions as Record<string, unknown>[]
  assert.deepEqual(predictions.map((p) => p.className), expectedNames)
  const scoreName = Object.keys(predictions[0]).find((key) => key !== 'className')!
  predictions.forEach((p, i) => (p[scoreName] as number[]).forEach((v, j) => assert.ok(Math.abs(v - expectedScores[i][j]) < 1e-5, `scores[${i}][${j}]`)))
  const right = expectedNames.filter((name, i) => name === classNames[i]).length
  assert.ok(right >= IMAGES * 0.6, `the served pipeline and model name real test images: ${right}/${IMAGES} right`)

  // The single raw input may also be sent bare, as for any one-input model; columnar too.
  const bare = await post('/v1/models/fashion:predict', { instances: images.slice(0, 3) })
  assert.deepEqual((bare.body.predictions as Record<string, unknown>[]).map((p) => p.className), expectedNames.slice(0, 3))
  const columnar = await post('/v1/models/fashion:predict', { inputs: { image: images.slice(0, 3) } })
  assert.deepEqual((columnar.body.outputs as Record<string, unknown>).className, expectedNames.slice(0, 3))
})

test('KServe v2: infer with typed tensors; the class names come back as a BYTES output', async () => {
  const response = await post('/v2/models/fashion/infer', {
    inputs: [{ name: 'image', shape: [3, 784], datatype: 'FP32', data: images.slice(0, 3).flat() }],
    outputs: [{ name: 'className' }],
  })
  assert.equal(response.status, 200, JSON.stringify(response.body))
  assert.deepEqual(response.body.outputs, [{ name: 'className', datatype: 'BYTES', shape: [3], data: expectedNames.slice(0, 3) }])
})

test('a wrong-length image is a 400 naming it; the next request works', async () => {
  const bad = await post('/v1/models/fashion:predict', { instances: [{ image: images[0].slice(1) }] })
  assert.equal(bad.status, 400)
  assert.match(String(bad.body.error), /image.*784/)
  const good = await post('/v1/models/fashion:predict', { instances: [{ image: images[0] }] })
  assert.equal(good.status, 200)
})

test('malt predict over the exported version runs the same pipeline and writes class names', async () => {
  const input = temp.join('test-images.jsonl')
  await writeFile(input, images.map((image, i) => JSON.stringify({ id: i, image })).join('\n') + '\n')
  const output = temp.join('named.csv')
  const run = await runMalt(['predict', '--model', join(repo, 'fashion', '1'), '--input', input, '--output', output])
  assert.equal(run.code, 0, run.stderr)
  const records = parse(await readFile(output, 'utf8'), { columns: true }) as { id: string; prediction: string }[]
  assert.deepEqual(records.map((r) => r.prediction), expectedNames)
  const scores = await runMalt(['predict', '--model', join(repo, 'fashion', '1'), '--input', input, '--output', temp.join('scores.jsonl'), '--scores'])
  assert.equal(scores.code, 0, scores.stderr)
  const first = JSON.parse((await readFile(temp.join('scores.jsonl'), 'utf8')).split('\n')[0]) as { prediction: number[] }
  first.prediction.forEach((v, j) => assert.ok(Math.abs(v - expectedScores[0][j]) < 1e-5))
})
