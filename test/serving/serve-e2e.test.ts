// The whole serving path as a user takes it: a model trained by Malt in an experiment, exported
// with `malt models export`, served by `malt serve`, and answered over TF Serving's REST API and
// KServe v2 by plain HTTP clients written from the specs (fetch, curl, Python's urllib).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { data, experiment, tf } from '../../src/index.js'
import { runMalt } from '../helpers/cli.js'
import { startServe, type ServeProcess } from '../helpers/serve-process.js'
import { useTempDir } from '../helpers/temp-dir.js'

const run = promisify(execFile)
const temp = useTempDir()
const home = temp.join('home')
const repo = temp.join('models')
const trainModule = new URL('../fixtures/serving-train.ts', import.meta.url).href
const IMAGES = 16

let server: ServeProcess
let experimentId: number
let images: number[][]
let labels: number[]
let expected: number[][]

async function json(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text()
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new Error(`expected a JSON body, got ${response.status}: ${text.slice(0, 200)}`)
  }
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } })
}

function assertClose(actual: unknown, wanted: number[][], what: string): void {
  assert.ok(Array.isArray(actual) && actual.length === wanted.length, `${what}: expected ${wanted.length} rows, got ${JSON.stringify(actual)?.slice(0, 200)}`)
  for (const [i, row] of (actual as number[][]).entries()) {
    assert.equal(row.length, wanted[i].length, `${what}: row ${i} length`)
    for (const [j, value] of row.entries()) assert.ok(Math.abs(value - wanted[i][j]) < 1e-5, `${what}[${i}][${j}]: ${value} vs ${wanted[i][j]}`)
  }
}

const argMax = (row: number[]): number => row.indexOf(Math.max(...row))

before(async () => {
  mkdirSync(repo, { recursive: true })
  const result = await experiment.launch({ module: trainModule, export: 'trainFashion' }, { home, name: 'serving-e2e', executors: 1, metric: 'accuracy' })
  assert.equal(result.trials[0]?.state, 'finished', JSON.stringify(result.trials[0]))
  experimentId = result.id
  const exported = await runMalt(['models', 'export', '--repo', repo, '--name', 'fashion', '--experiment', String(experimentId), '--home', home])
  assert.equal(exported.code, 0, exported.stderr)
  assert.match(exported.stdout, /exported fashion version 1 to /)

  const rows = await data.fashionMnist({ split: 'test' }).take(IMAGES).toArray()
  images = rows.map((row) => Array.from(row.image))
  labels = rows.map((row) => row.label)
  const model = await tf.loadLayersModel(`file://${join(repo, 'fashion', '1', 'model.json')}`)
  const output = model.predict(tf.tensor2d(images)) as ReturnType<typeof tf.tensor2d>
  expected = (await output.array()) as number[][]
  model.dispose()
  server = await startServe(['--models', repo, '--body-limit-mb', '1', '--poll-interval', '1'])
})

after(async () => {
  if (server) assert.equal(await server.stop(), 0, `malt serve should exit 0 on SIGTERM; stderr:\n${server.stderr()}`)
})

test('TF Serving: model status and metadata', async () => {
  const status = await json(await fetch(`${server.url}/v1/models/fashion`))
  assert.deepEqual(status, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] })
  const versioned = await json(await fetch(`${server.url}/v1/models/fashion/versions/1`))
  assert.deepEqual(versioned, status)
  const metadata = (await json(await fetch(`${server.url}/v1/models/fashion/metadata`))) as {
    model_spec: { name: string; version: string }
    metadata: { signature_def: { signature_def: Record<string, { inputs: Record<string, { dtype: string; tensor_shape: { dim: { size: string }[] } }>; method_name: string }> } }
  }
  assert.equal(metadata.model_spec.name, 'fashion')
  assert.equal(metadata.model_spec.version, '1')
  const signature = metadata.metadata.signature_def.signature_def.serving_default
  assert.equal(signature.method_name, 'tensorflow/serving/predict')
  const [input] = Object.values(signature.inputs)
  assert.equal(input.dtype, 'DT_FLOAT')
  assert.deepEqual(input.tensor_shape.dim.map((dim) => dim.size), ['-1', '784'])
})

test('TF Serving: predict in the row and the columnar format gives the model\'s own outputs', async () => {
  const rowResponse = await post('/v1/models/fashion:predict', { instances: images })
  assert.equal(rowResponse.status, 200)
  const row = await json(rowResponse)
  assertClose(row.predictions, expected, 'predictions')
  const correct = (row.predictions as number[][]).filter((scores, i) => argMax(scores) === labels[i]).length
  assert.ok(correct >= IMAGES * 0.6, `the served model classifies real test images: ${correct}/${IMAGES} right`)

  const columnar = await json(await post('/v1/models/fashion/versions/1:predict', { inputs: images }))
  assertClose(columnar.outputs, expected, 'outputs')
  const labelled = await json(await post('/v1/models/fashion:predict', { signature_name: 'serving_default', instances: images.slice(0, 2) }))
  assertClose(labelled.predictions, expected.slice(0, 2), 'predictions with signature_name')
})

test("TF Serving: curl as in the spec's example (form content type) works; classify answers 'not supported'", async () => {
  const { stdout } = await run('curl', ['-s', '-d', JSON.stringify({ instances: [images[0]] }), '-X', 'POST', `${server.url}/v1/models/fashion:predict`])
  assertClose((JSON.parse(stdout) as { predictions: number[][] }).predictions, [expected[0]], 'curl predictions')
  const classify = await post('/v1/models/fashion:classify', { examples: [{ x: 1 }] })
  assert.equal(classify.status, 501)
  assert.match(String((await json(classify)).error), /classify is not supported/)
})

test('KServe v2: health, server and model metadata, readiness, and infer with an id', async () => {
  assert.deepEqual(await json(await fetch(`${server.url}/v2/health/live`)), { live: true })
  assert.equal((await fetch(`${server.url}/v2/health/ready`)).status, 200)
  const serverMetadata = await json(await fetch(`${server.url}/v2`))
  assert.equal(serverMetadata.name, 'malt')
  const metadata = (await json(await fetch(`${server.url}/v2/models/fashion`))) as { name: string; versions: string[]; platform: string; inputs: { name: string; datatype: string; shape: number[] }[]; outputs: { datatype: string; shape: number[] }[] }
  assert.equal(metadata.name, 'fashion')
  assert.deepEqual(metadata.versions, ['1'])
  assert.equal(metadata.platform, 'tensorflowjs_layers')
  assert.deepEqual([metadata.inputs[0].datatype, metadata.inputs[0].shape], ['FP32', [-1, 784]])
  assert.deepEqual([metadata.outputs[0].datatype, metadata.outputs[0].shape], ['FP32', [-1, 10]])
  assert.deepEqual(await json(await fetch(`${server.url}/v2/models/fashion/ready`)), { name: 'fashion', ready: true })
  assert.deepEqual(await json(await fetch(`${server.url}/v2/models/fashion/versions/1/ready`)), { name: 'fashion', ready: true })

  const request = { id: 'req-42', inputs: [{ name: metadata.inputs[0].name, shape: [IMAGES, 784], datatype: 'FP32', data: images.flat() }] }
  const response = await post('/v2/models/fashion/infer', request)
  assert.equal(response.status, 200)
  const body = (await json(response)) as { model_name: string; model_version: string; id: string; outputs: { name: string; shape: number[]; datatype: string; data: number[] }[] }
  assert.deepEqual([body.model_name, body.model_version, body.id], ['fashion', '1', 'req-42'])
  assert.deepEqual([body.outputs[0].shape, body.outputs[0].datatype], [[IMAGES, 10], 'FP32'])
  const rows = Array.from({ length: IMAGES }, (_, i) => body.outputs[0].data.slice(i * 10, i * 10 + 10))
  assertClose(rows, expected, 'KServe outputs')
  const versioned = await post('/v2/models/fashion/versions/1/infer', request)
  assert.equal(versioned.status, 200)
})

test("a Python client written from the specs (urllib only) gets the same answers over both protocols", async () => {
  const script = fileURLToPath(new URL('../python/serving_client.py', import.meta.url))
  const { stdout } = await run('python3', [script, server.url, 'fashion', JSON.stringify(images.slice(0, 4))])
  const answers = JSON.parse(stdout) as { tfserving: number[][]; kserve: number[][] }
  assertClose(answers.tfserving, expected.slice(0, 4), 'python TF Serving')
  assertClose(answers.kserve, expected.slice(0, 4), 'python KServe')
})

test('bad input gets a 4xx with a JSON error that says what is wrong, and the next good request works', async () => {
  const inputName = ((await json(await fetch(`${server.url}/v2/models/fashion`))) as { inputs: { name: string }[] }).inputs[0].name
  const short = images[0].slice(0, 783)
  const cases: { what: string; path: string; body: unknown; status: number; error: RegExp }[] = [
    { what: 'invalid JSON', path: '/v1/models/fashion:predict', body: '{"instances": [1, 2', status: 400, error: /JSON/i },
    { what: 'not an object', path: '/v1/models/fashion:predict', body: '[1, 2, 3]', status: 400, error: /instances|inputs|object/i },
    { what: 'instances and inputs', path: '/v1/models/fashion:predict', body: { instances: [images[0]], inputs: [images[0]] }, status: 400, error: /instances|inputs/ },
    { what: 'wrong inner length', path: '/v1/models/fashion:predict', body: { instances: [images[0], short] }, status: 400, error: /784/ },
    { what: 'NaN token', path: '/v1/models/fashion:predict', body: `{"instances": [[${images[0].slice(0, 783).join(',')}, NaN]]}`, status: 400, error: /NaN|finite/i },
    { what: 'empty instances', path: '/v1/models/fashion:predict', body: { instances: [] }, status: 400, error: /empty|no instances|at least/i },
    { what: 'strings for floats', path: '/v1/models/fashion:predict', body: { instances: [images[0].map(String)] }, status: 400, error: /number/i },
    { what: 'deep nesting', path: '/v1/models/fashion:predict', body: `{"instances": ${'['.repeat(100000)}${']'.repeat(100000)}}`, status: 400, error: /deep|nest/i },
    { what: 'unknown model', path: '/v1/models/nope:predict', body: { instances: [images[0]] }, status: 404, error: /nope/ },
    { what: 'unknown version', path: '/v1/models/fashion/versions/7:predict', body: { instances: [images[0]] }, status: 404, error: /7/ },
    { what: 'KServe wrong datatype', path: '/v2/models/fashion/infer', body: { inputs: [{ name: inputName, shape: [1, 784], datatype: 'INT32', data: images[0].map(Math.round) }] }, status: 400, error: /FP32|datatype/ },
    { what: 'KServe shape vs data', path: '/v2/models/fashion/infer', body: { inputs: [{ name: inputName, shape: [2, 784], datatype: 'FP32', data: images[0] }] }, status: 400, error: /shape|elements|1568/ },
    { what: 'KServe unknown input', path: '/v2/models/fashion/infer', body: { inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: images[0] }] }, status: 400, error: /pixels/ },
    { what: 'empty body', path: '/v2/models/fashion/infer', body: '', status: 400, error: /body|JSON/i },
  ]
  for (const { what, path, body, status, error } of cases) {
    const response = await post(path, body)
    const answer = await json(response)
    assert.equal(response.status, status, `${what}: ${JSON.stringify(answer)}`)
    assert.equal(typeof answer.error, 'string', `${what}: {"error": "..."}`)
    assert.match(answer.error as string, error, `${what}: ${answer.error}`)
  }
  const oversize = await post('/v1/models/fashion:predict', { instances: Array.from({ length: 200 }, () => images[0]) })
  assert.equal(oversize.status, 413)
  assert.match(String((await json(oversize)).error), /limit|large/i)
  const good = await json(await post('/v1/models/fashion:predict', { instances: [images[1]] }))
  assertClose(good.predictions, [expected[1]], 'after the bad requests')
})

test('a new version exported while serving takes over without a failed request, and the old one is unloaded', async () => {
  let failures = 0
  let served = 0
  let stop = false
  const load = (async () => {
    while (!stop) {
      const response = await post('/v1/models/fashion:predict', { instances: [images[2]] })
      if (response.status === 200) served++
      else failures++
      await response.arrayBuffer()
    }
  })()
  const exported = await runMalt(['models', 'export', '--repo', repo, '--name', 'fashion', '--from', join(repo, 'fashion', '1')])
  assert.equal(exported.code, 0, exported.stderr)
  const deadline = Date.now() + 20_000
  let versions: { version: string; state: string }[] = []
  while (Date.now() < deadline) {
    versions = ((await json(await fetch(`${server.url}/v1/models/fashion`))) as { model_version_status: { version: string; state: string }[] }).model_version_status
    if (versions.some((v) => v.version === '2' && v.state === 'AVAILABLE') && versions.some((v) => v.version === '1' && v.state === 'END')) break
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  stop = true
  await load
  assert.deepEqual(
    versions.map((v) => [v.version, v.state]).sort(),
    [
      ['1', 'END'],
      ['2', 'AVAILABLE'],
    ],
  )
  assert.equal(failures, 0, `${failures} requests failed during the swap (${served} served)`)
  assert.ok(served > 0)
  const inputName = ((await json(await fetch(`${server.url}/v2/models/fashion`))) as { inputs: { name: string }[] }).inputs[0].name
  const latest = await json(await post('/v2/models/fashion/infer', { inputs: [{ name: inputName, shape: [1, 784], datatype: 'FP32', data: images[3] }] }))
  assert.equal(latest.model_version, '2')
})
