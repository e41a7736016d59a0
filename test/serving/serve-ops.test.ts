// The operations of `malt serve` from the user's side, over real HTTP(S) against the built CLI:
// canary split and its admin API, dynamic batching, API keys, TLS, the inference log (files and
// a Redis Stream), the body limit, a model that fails to load, several runtimes side by side,
// and the access log. Several servers start at once in `before`, each with the flags under test.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { runMalt } from '../helpers/cli.js'
import { toolsPython, requireToolsPython } from '../helpers/python-tools.js'
import { TEST_REDIS_URL, randomKey, requireRedis } from '../helpers/redis.js'
import { startServe, type ServeProcess } from '../helpers/serve-process.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { assertJsonError, jsonLines, jsonOf, metricSum, parseMetrics, request, selfSignedCertificate, waitFor, type Answer, type RequestOptions } from './fixtures/ops-http.js'
import { writeOpsConfig, writeOpsRepository, writeSumVersion, type OpsRepository } from './fixtures/ops-repository.js'

const run = promisify(execFile)
const temp = useTempDir()
const redisStream = randomKey('malt-test:ops-inference')
const AUTH_KEYS = { env: ['k1', 'k2'], file: 'k3' }
const CANARY = { version: 2, percent: 25 }
const BATCHING = { maxBatchSize: 16, batchTimeoutMicros: 20_000 }

let repo: OpsRepository
let configPath: string
let tls: { cert: string; key: string }
/** --config (canary on `ver`, batching on `summer`), --body-limit-mb 1, access log on. */
let main: ServeProcess
/** MALT_API_KEYS + --api-keys-file, --no-access-log. */
let secured: ServeProcess
let logAll: ServeProcess
let logHalf: ServeProcess
let logRedis: ServeProcess
let https: ServeProcess
const logDirs = { all: temp.join('log-all'), half: temp.join('log-half') }

before(async () => {
  repo = await writeOpsRepository(temp.join('models'), toolsPython('onnx'))
  const small = temp.join('small')
  await writeSumVersion(small, 'summer')
  mkdirSync(temp.join('config'))
  configPath = writeOpsConfig(temp.join('config/serve.json'), { ver: { canary: CANARY }, summer: { batching: BATCHING } })
  tls = selfSignedCertificate(temp.path)
  const keysFile = temp.file('keys.txt', `# one key per line\n\n${AUTH_KEYS.file}\n`)
  ;[main, secured, logAll, logHalf, logRedis, https] = await Promise.all([
    startServe(['--models', repo.root, '--config', configPath, '--body-limit-mb', '1']),
    startServe(['--models', small, '--api-keys-file', keysFile, '--no-access-log'], { env: { MALT_API_KEYS: AUTH_KEYS.env.join(',') } }),
    startServe(['--models', small, '--log-to', logDirs.all, '--log-sample-rate', '1', '--no-access-log']),
    startServe(['--models', small, '--log-to', logDirs.half, '--log-sample-rate', '0.5', '--no-access-log']),
    startServe(['--models', small, '--log-to', `${TEST_REDIS_URL}?stream=${redisStream}`, '--no-access-log']),
    startServe(['--models', small, '--tls-cert', tls.cert, '--tls-key', tls.key, '--no-access-log']),
  ])
})

after(async () => {
  await Promise.all([main, secured, logAll, logHalf, logRedis, https].map((server) => server?.stop()))
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await redis.connect().then(() => redis.del(redisStream), () => undefined)
  redis.disconnect()
})

const post = (server: ServeProcess, path: string, body: unknown, options: RequestOptions = {}): Promise<Answer> => request(`${server.url}${path}`, { ...options, body })
const get = (server: ServeProcess, path: string, options: RequestOptions = {}): Promise<Answer> => request(`${server.url}${path}`, options)

/** Runs `count` calls of `call`, `concurrency` at a time. */
async function inParallel<T>(count: number, concurrency: number, call: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next++
      results[index] = await call(index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  return results
}

/** The version that answered an unversioned or versioned predict of `ver` (its answer is its version number). */
async function verPredict(path = '/v1/models/ver:predict'): Promise<number> {
  const answer = await post(main, path, { instances: [[0.5, -1]] })
  assert.equal(answer.status, 200, answer.text)
  return jsonOf<{ predictions: number[][] }>(answer).predictions[0][0]
}

async function verInfer(): Promise<number> {
  const answer = await post(main, '/v2/models/ver/infer', { inputs: [{ name: await verInputName(), shape: [1, 2], datatype: 'FP32', data: [0.5, -1] }] })
  assert.equal(answer.status, 200, answer.text)
  const body = jsonOf<{ model_version: string; outputs: { data: number[] }[] }>(answer)
  assert.equal(Number(body.model_version), body.outputs[0].data[0], 'model_version names the version that answered')
  return body.outputs[0].data[0]
}

let verInput: string | undefined
async function verInputName(): Promise<string> {
  verInput ??= jsonOf<{ inputs: { name: string }[] }>(await get(main, '/v2/models/ver/versions/1')).inputs[0].name
  return verInput
}

const countOf = (answers: number[], version: number): number => answers.filter((answer) => answer === version).length
const metricsOf = async (server: ServeProcess, options: RequestOptions = {}) => parseMetrics((await get(server, '/metrics', options)).text)

test('canary: the config file sends exactly its share of unversioned requests to the canary; versioned ones go where they ask; metrics count per version', async () => {
  await verInputName() // before counting: a metadata request by version does not touch the split
  const tfserving = await inParallel(200, 8, () => verPredict())
  assert.equal(countOf(tfserving, 2), 50, `25% of 200 to version 2 (counted, not random); got ${countOf(tfserving, 2)}`)
  assert.equal(countOf(tfserving, 1), 150)
  const kserve = await inParallel(100, 8, () => verInfer())
  assert.equal(countOf(kserve, 2), 25, 'KServe infer shares the same split')

  const pinned1 = await inParallel(20, 8, () => verPredict('/v1/models/ver/versions/1:predict'))
  const pinned2 = await inParallel(20, 8, () => verPredict('/v1/models/ver/versions/2:predict'))
  assert.deepEqual([countOf(pinned1, 1), countOf(pinned2, 2)], [20, 20], 'versioned requests are not split')
  const after = await inParallel(100, 8, () => verPredict())
  assert.equal(countOf(after, 2), 25, 'versioned requests did not shift the split')

  const samples = await metricsOf(main)
  const served = (version: string, api: string, method: string) => metricSum(samples, 'malt_serving_requests_total', { model: 'ver', version, api, method, code: '200' })
  assert.equal(served('2', 'tfserving', 'predict'), 50 + 20 + 25, 'requests_total of version 2 counts the canary share and the pinned requests')
  assert.equal(served('1', 'tfserving', 'predict'), 150 + 20 + 75)
  assert.equal(served('2', 'kserve', 'infer'), 25)
  assert.equal(served('1', 'kserve', 'infer'), 75)
  assert.equal(metricSum(samples, 'malt_serving_request_duration_seconds_count', { model: 'ver', version: '2', api: 'tfserving', method: 'predict' }), 95, 'latency is observed per version too')
})

test('canary admin API: PUT changes the split at once and rewrites the config file atomically; bad bodies are 400 and change nothing; DELETE removes it', async () => {
  assert.deepEqual(jsonOf(await get(main, '/admin/models/ver/config')), { canary: CANARY })
  const inodeBefore = statSync(configPath).ino
  const put = await request(`${main.url}/admin/models/ver/canary`, { method: 'PUT', body: { version: 2, percent: 50 } })
  assert.equal(put.status, 200, put.text)
  assert.deepEqual(jsonOf(put), { canary: { version: 2, percent: 50 } })
  assert.equal(countOf(await inParallel(100, 8, () => verPredict()), 2), 50, 'the new share applies to the next requests')

  const written = jsonOf<{ models: Record<string, unknown> }>(readFileSync(configPath, 'utf8'))
  assert.deepEqual(written, { models: { ver: { canary: { version: 2, percent: 50 } }, summer: { batching: BATCHING } } }, 'the file holds the new canary and keeps the other models')
  assert.notEqual(statSync(configPath).ino, inodeBefore, 'written to a new file and renamed over the old one (atomic)')
  assert.deepEqual(readdirSync(temp.join('config')), ['serve.json'], 'no temp file is left behind')
  assert.deepEqual(jsonOf(await get(main, '/admin/models/ver/config')), { canary: { version: 2, percent: 50 } })

  const fileBefore = readFileSync(configPath, 'utf8')
  const bad: { what: string; body: string; error: RegExp }[] = [
    { what: 'percent 150', body: '{"version": 2, "percent": 150}', error: /percent.*0.100.*150/ },
    { what: 'negative percent', body: '{"version": 2, "percent": -5}', error: /percent/ },
    { what: 'a version with no directory', body: '{"version": 9, "percent": 10}', error: /\b9\b/ },
    { what: 'version 0', body: '{"version": 0, "percent": 10}', error: /version/ },
    { what: 'invalid JSON', body: '{"version": 2, "percent": ', error: /JSON/i },
    { what: 'no fields', body: '{}', error: /version|percent/ },
    { what: 'an unknown field', body: '{"version": 2, "percent": 10, "weight": 1}', error: /weight/ },
    { what: 'a string percent', body: '{"version": 2, "percent": "10"}', error: /percent/ },
    { what: 'an empty body', body: '', error: /body|JSON/i },
  ]
  for (const { what, body, error } of bad) {
    assertJsonError(await request(`${main.url}/admin/models/ver/canary`, { method: 'PUT', body, headers: { 'content-type': 'application/json' } }), 400, error, what)
    assert.equal(readFileSync(configPath, 'utf8'), fileBefore, `${what}: the config file is unchanged`)
  }
  assertJsonError(await request(`${main.url}/admin/models/nope/canary`, { method: 'PUT', body: { version: 1, percent: 10 } }), 404, /nope/, 'an unknown model')
  assertJsonError(await get(main, '/admin/models/nope/config'), 404, /nope/, 'config of an unknown model')
  assert.deepEqual(jsonOf(await get(main, '/admin/models/ver/config')), { canary: { version: 2, percent: 50 } }, 'refused bodies left the canary as it was')
  assert.equal(countOf(await inParallel(20, 8, () => verPredict()), 2), 10, 'and the split too')

  const removed = await request(`${main.url}/admin/models/ver/canary`, { method: 'DELETE' })
  assert.equal(removed.status, 200, removed.text)
  assert.deepEqual(jsonOf(await get(main, '/admin/models/ver/config')), {})
  const afterDelete = jsonOf<{ models: Record<string, Record<string, unknown>> }>(readFileSync(configPath, 'utf8'))
  assert.equal(afterDelete.models.ver?.canary, undefined, 'the canary is gone from the file')
  assert.deepEqual(afterDelete.models.summer, { batching: BATCHING })
  // Without a canary the version policy (latest) alone decides: version 2 takes all the traffic, as KServe's promotion.
  assert.equal(countOf(await inParallel(20, 8, () => verPredict()), 2), 20, 'no split after DELETE')
  await waitFor(async () => {
    const status = jsonOf<{ model_version_status: { version: string; state: string }[] }>(await get(main, '/v1/models/ver')).model_version_status
    return status.find((entry) => entry.version === '1')?.state === 'END' ? true : undefined
  }, 'version 1 to be unloaded once the canary is gone')
})

test('canary admin API: concurrent changes to two models both reach the config file, and a later change keeps them', async () => {
  const canaryOf = (name: string, percent: number) => request(`${main.url}/admin/models/${name}/canary`, { method: 'PUT', body: { version: 2, percent } })
  const answers = await Promise.all([canaryOf('ver', 10), canaryOf('twin', 20)])
  assert.deepEqual(answers.map((answer) => answer.status), [200, 200], answers.map((answer) => answer.text).join('\n'))
  assert.deepEqual(jsonOf(await get(main, '/admin/models/ver/config')), { canary: { version: 2, percent: 10 } })
  assert.deepEqual(jsonOf(await get(main, '/admin/models/twin/config')), { canary: { version: 2, percent: 20 } })
  const expected = { ver: { canary: { version: 2, percent: 10 } }, twin: { canary: { version: 2, percent: 20 } }, summer: { batching: BATCHING } }
  assert.deepEqual(jsonOf<{ models: object }>(readFileSync(configPath, 'utf8')).models, expected, 'both changes are in the file')
  // A change to a third model is written from the server's view of the whole file: it must hold both.
  assert.equal((await request(`${main.url}/admin/models/summer/canary`, { method: 'DELETE' })).status, 200)
  assert.deepEqual(jsonOf<{ models: object }>(readFileSync(configPath, 'utf8')).models, expected, 'a later write keeps both changes')
})

test('canary: metadata requests do not take the canary\'s share from predicts', async () => {
  assert.equal((await request(`${main.url}/admin/models/ver/canary`, { method: 'PUT', body: { version: 2, percent: 50 } })).status, 200)
  // A client that reads the model's metadata before each predict (as KServe clients often do).
  for (const metadata of ['/v2/models/ver', '/v1/models/ver/metadata']) {
    const answers: number[] = []
    for (let i = 0; i < 40; i++) {
      assert.equal((await get(main, metadata)).status, 200)
      answers.push(await verPredict())
    }
    assert.equal(countOf(answers, 2), 20, `50% of the predicts go to the canary when each follows a GET ${metadata}; got ${countOf(answers, 2)} of 40`)
  }
})

test('batching: 64 concurrent one-row requests are joined into batches of at most 16, each caller gets its own row; 17 rows is a 400; a model without batching has no batch metrics', async () => {
  const answers = await inParallel(64, 64, (i) => post(main, '/v1/models/summer:predict', { instances: [[i, 1000]] }))
  for (const [i, answer] of answers.entries()) {
    assert.equal(answer.status, 200, answer.text)
    assert.deepEqual(jsonOf(answer), { predictions: [[i + 1000]] }, `request ${i} gets its own row back`)
  }
  let samples = await metricsOf(main)
  const batch = (name: string, labels: Record<string, string> = {}) => metricSum(samples, `malt_serving_batch_size_${name}`, { model: 'summer', version: '1', ...labels })
  assert.equal(batch('sum'), 64, 'every row went through the batcher once')
  assert.ok(batch('count') < 64, `requests were joined: ${batch('count')} model calls for 64 requests`)
  assert.ok(batch('count') >= 4, `no batch holds more than 16 rows: ${batch('count')} calls`)
  assert.ok(batch('bucket', { le: '1' }) < batch('count'), 'some batches hold more than one row')
  assert.equal(batch('bucket', { le: '16' }), batch('count'), 'no batch is larger than maxBatchSize')

  const full = await post(main, '/v1/models/summer:predict', { instances: Array.from({ length: 16 }, (_, i) => [i, 0]) })
  assert.deepEqual(jsonOf(full), { predictions: Array.from({ length: 16 }, (_, i) => [i]) }, '16 rows, the maximum, are served')
  const tooLarge = await post(main, '/v1/models/summer:predict', { instances: Array.from({ length: 17 }, (_, i) => [i, 0]) })
  assertJsonError(tooLarge, 400, /17.*larger than maximum.*batch size 16/, '17 rows')

  const plain = await inParallel(16, 16, (i) => post(main, '/v1/models/plain:predict', { instances: [[i, 1]] }))
  for (const [i, answer] of plain.entries()) assert.deepEqual(jsonOf(answer), { predictions: [[i + 1]] })
  samples = await metricsOf(main)
  assert.equal(batch('sum'), 64 + 16, 'the 17-row request never reached the batcher')
  assert.equal(samples.filter((sample) => sample.name.startsWith('malt_serving_batch_size') && sample.labels.model === 'plain').length, 0, 'batching is off for plain')
  assert.equal(metricSum(samples, 'malt_serving_requests_total', { model: 'plain', code: '200' }), 16)
})

test('a version that fails to load: status END with its error, the other models serve, readiness says not ready', async () => {
  const status = jsonOf<{ model_version_status: { version: string; state: string; status: { error_code: string; error_message: string } }[] }>(await get(main, '/v1/models/bad'))
  assert.equal(status.model_version_status.length, 1)
  const [version] = status.model_version_status
  assert.deepEqual([version.version, version.state], ['1', 'END'])
  assert.notEqual(version.status.error_code, 'OK')
  assert.match(version.status.error_message, /bad[/\\]1[/\\]model\.json/, 'the message names the file')
  assert.match(version.status.error_message, /JSON/, 'and says why')
  assertJsonError(await post(main, '/v1/models/bad:predict', { instances: [[1, 2]] }), 404, /bad/, 'predict on a model with no loaded version')
  assert.deepEqual(jsonOf(await post(main, '/v1/models/summer:predict', { instances: [[1, 2]] })), { predictions: [[3]] })
  // KServe: "server ready indicates if all the models are ready for inferencing".
  const ready = await get(main, '/v2/health/ready')
  assert.deepEqual([ready.status, jsonOf(ready)], [503, { ready: false }])
  const badReady = await get(main, '/v2/models/bad/ready')
  assert.deepEqual([badReady.status, jsonOf(badReady)], [503, { name: 'bad', ready: false }])
  assert.equal((await get(main, '/v2/models/bad/versions/1/ready')).status, 503)
  assert.equal((await get(main, '/v2/models/summer/ready')).status, 200)
  assert.deepEqual(jsonOf(await get(main, '/v2/health/live')), { live: true }, 'live all the same')
})

test('a load failure is reported once on stderr', () => {
  const reports = main.stderr().split('\n').filter((line) => /model bad version 1.*failed to load/.test(line))
  assert.equal(reports.length, 1, `one line per failure, got:\n${reports.join('\n')}`)
})

const close = (actual: number[], wanted: number[], what: string): void => {
  assert.equal(actual.length, wanted.length, `${what}: length`)
  for (const [i, value] of actual.entries()) assert.ok(Math.abs(value - wanted[i]) < 1e-5, `${what}[${i}]: ${value} vs ${wanted[i]}`)
}

test('Layers, Graph and ONNX models side by side answer both protocols with their fixtures\' values', async (t) => {
  const models: { name: string; platform: string; rows: number[][]; outputs: Record<string, number[][]> }[] = [
    { name: 'layers', platform: 'tensorflowjs_layers', rows: repo.layers.inputs, outputs: { probabilities: repo.layers.outputs } },
    { name: 'graph', platform: 'tensorflowjs_graph', rows: repo.graph.inputs, outputs: { Softmax: repo.graph.outputs.map((row) => row.Softmax), hidden: repo.graph.outputs.map((row) => row.hidden) } },
  ]
  if (repo.onnx) models.push({ name: 'onnx', platform: 'onnxruntime_onnx', rows: repo.onnx.inputs, outputs: { probabilities: repo.onnx.outputs } })
  else requireToolsPython(t, 'onnx') // skipped locally, failed in CI

  for (const { name, platform, rows, outputs } of models) {
    const metadata = jsonOf<{ platform: string; inputs: { name: string }[]; outputs: { name: string }[] }>(await get(main, `/v2/models/${name}`))
    assert.equal(metadata.platform, platform)
    const outputNames = Object.keys(outputs)
    // TF Serving, row format: one output per row as a list, several as an object per row.
    const predicted = jsonOf<{ predictions: unknown[] }>(await post(main, `/v1/models/${name}:predict`, { instances: rows })).predictions
    for (const [i, row] of predicted.entries()) {
      if (outputNames.length === 1) close(row as number[], outputs[outputNames[0]][i], `${name} TF Serving row ${i}`)
      else for (const output of outputNames) close((row as Record<string, number[]>)[output], outputs[output][i], `${name} TF Serving row ${i} ${output}`)
    }
    // KServe v2: one flat tensor per output, by name.
    const input = { name: metadata.inputs[0].name, shape: [rows.length, rows[0].length], datatype: 'FP32', data: rows.flat() }
    const inferred = jsonOf<{ model_name: string; outputs: { name: string; shape: number[]; data: number[] }[] }>(await post(main, `/v2/models/${name}/infer`, { inputs: [input] }))
    assert.equal(inferred.model_name, name)
    assert.deepEqual(inferred.outputs.map((output) => output.name).sort(), [...outputNames].sort())
    for (const output of inferred.outputs) {
      assert.deepEqual(output.shape, [rows.length, outputs[output.name][0].length], `${name} ${output.name} shape`)
      close(output.data, outputs[output.name].flat(), `${name} KServe ${output.name}`)
    }
  }
})

test('body limit: a 2 MiB body gets a 413 JSON error on both protocols, a body under 1 MiB is read, and the server stays up', async () => {
  const twoMiB = `{"instances": [${'[1, 2],'.repeat((2 * 1024 * 1024) / 7)}[1, 2]]}`
  assertJsonError(await post(main, '/v1/models/summer:predict', twoMiB), 413, /larger than.*limit/, 'TF Serving 2 MiB')
  assertJsonError(await post(main, '/v2/models/summer/infer', twoMiB), 413, /larger than.*limit/, 'KServe 2 MiB')
  assertJsonError(await post(main, '/v1/models/summer:predict', 'x'.repeat(2 * 1024 * 1024), { headers: { 'content-type': 'text/plain' } }), 413, /limit/, 'not JSON')
  const padded = `{"instances": [[1, 2]]}${' '.repeat(1024 * 1024 - 100)}`
  assert.deepEqual(jsonOf(await post(main, '/v1/models/summer:predict', padded)), { predictions: [[3]] }, 'just under 1 MiB')
  assert.equal(main.child.exitCode, null, 'still running')
  assert.deepEqual(jsonOf(await post(main, '/v1/models/summer:predict', { instances: [[2, 2]] })), { predictions: [[4]] })
})

test('access log: one JSON line per request on stdout with method, url, status, ms, model and version', async () => {
  const id = (n: number) => `ops-access-${process.pid}-${n}`
  await post(main, '/v1/models/ver/versions/2:predict', { instances: [[1, 1]] }, { headers: { 'x-request-id': id(1) } })
  await get(main, '/v2/models/summer/ready', { headers: { 'x-request-id': id(2) } })
  await get(main, '/no/such/route', { headers: { 'x-request-id': id(3) } })
  await post(main, '/v2/models/summer/infer', '{', { headers: { 'x-request-id': id(4) } })
  const lines = await waitFor(() => {
    const found = jsonLines(main.stdout()).filter((line) => String(line.reqId).startsWith(`ops-access-${process.pid}-`))
    return found.length >= 4 ? found : undefined
  }, 'four access lines')
  assert.equal(lines.length, 4, 'exactly one line per request')
  const byId = new Map(lines.map((line) => [line.reqId, line]))
  const check = (n: number, fields: Record<string, unknown>) => {
    const line = byId.get(id(n)) as Record<string, unknown>
    assert.ok(line, `a line for request ${n}`)
    for (const [key, value] of Object.entries(fields)) assert.deepEqual(line[key], value, `request ${n}: ${key} in ${JSON.stringify(line)}`)
    assert.equal(typeof line.ms, 'number')
    assert.ok((line.ms as number) >= 0)
  }
  check(1, { method: 'POST', url: '/v1/models/ver/versions/2:predict', status: 200, model: 'ver', version: 2 })
  check(2, { method: 'GET', url: '/v2/models/summer/ready', status: 200, model: 'summer' })
  check(3, { method: 'GET', url: '/no/such/route', status: 404 })
  check(4, { method: 'POST', url: '/v2/models/summer/infer', status: 400, model: 'summer', version: 1 })
})

test('API keys from MALT_API_KEYS and --api-keys-file: 401 without, 403 wrong, 200 right; health is open, /metrics and admin are not', async () => {
  const predict = (headers: Record<string, string>) => post(secured, '/v1/models/summer:predict', { instances: [[1, 2]] }, { headers })
  assertJsonError(await predict({}), 401, /API key.*Authorization: Bearer/, 'no header')
  assertJsonError(await predict({ authorization: 'Basic azE6' }), 401, /Bearer/, 'another scheme')
  assertJsonError(await predict({ authorization: 'Bearer k4' }), 403, /not valid/, 'an unknown key')
  assertJsonError(await predict({ authorization: 'Bearer k1x' }), 403, /not valid/, 'a key with a known prefix')
  assertJsonError(await predict({ authorization: 'Bearer # one key per line' }), 403, /not valid/, 'a comment line of the keys file is no key')
  for (const key of [...AUTH_KEYS.env, AUTH_KEYS.file]) {
    const answer = await predict({ authorization: `Bearer ${key}` })
    assert.deepEqual([answer.status, jsonOf(answer)], [200, { predictions: [[3]] }], `key ${key}`)
  }
  assert.deepEqual(jsonOf(await get(secured, '/v2/health/live')), { live: true })
  assert.equal((await get(secured, '/v2/health/ready')).status, 200)
  assertJsonError(await get(secured, '/metrics'), 401, /API key/, '/metrics without a key')
  const metrics = await get(secured, '/metrics', { headers: { authorization: 'Bearer k2' } })
  assert.equal(metrics.status, 200)
  assert.equal(metricSum(parseMetrics(metrics.text), 'malt_serving_requests_total', { model: 'summer', code: '200' }), 3)
  assertJsonError(await get(secured, '/admin/models/summer/config'), 401, /API key/, 'admin without a key')
  assertJsonError(await request(`${secured.url}/admin/models/summer/canary`, { method: 'DELETE', headers: { authorization: 'Bearer nope' } }), 403, /not valid/, 'admin with a wrong key')
  assertJsonError(await get(secured, '/v2/models/summer'), 401, /API key/, 'KServe metadata without a key')

  const missing = await runMalt(['serve', '--models', temp.join('small'), '--port', '0', '--api-keys-file', temp.join('no-keys.txt')])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /--api-keys-file .*no-keys\.txt.* cannot be read/)
})

test('--no-access-log: nothing on stdout', () => {
  assert.equal(secured.stdout(), '', 'the server with --no-access-log answered requests above and printed nothing')
})

test('TLS: an https URL, served to a client that trusts the certificate, refused to plain HTTP', async () => {
  assert.match(https.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  const ca = readFileSync(tls.cert)
  const trusted = { ca, servername: 'localhost' }
  assert.deepEqual(jsonOf(await get(https, '/v2/health/live', trusted)), { live: true })
  assert.deepEqual(jsonOf(await post(https, '/v1/models/summer:predict', { instances: [[1, 2]] }, trusted)), { predictions: [[3]] })
  await assert.rejects(get(https, '/v2/health/live'), /self.signed|certificate/i, 'an untrusted certificate is refused by the client')
  const port = new URL(https.url).port
  const { stdout } = await run('curl', ['-sS', '--cacert', tls.cert, '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/v2/health/live`])
  assert.deepEqual(JSON.parse(stdout), { live: true })
  await assert.rejects(request(`http://127.0.0.1:${port}/v2/health/live`, { timeoutMs: 5000 }), 'plain HTTP on the TLS port gets no answer')
})

test('TLS: --tls-cert without --tls-key, an unreadable certificate, and a file that is not PEM are clear errors with exit code 1', async () => {
  const small = temp.join('small')
  const alone = await runMalt(['serve', '--models', small, '--port', '0', '--tls-cert', tls.cert])
  assert.equal(alone.code, 1)
  assert.match(alone.stderr, /--tls-cert and --tls-key go together/)
  const missing = await runMalt(['serve', '--models', small, '--port', '0', '--tls-cert', temp.join('nope.pem'), '--tls-key', tls.key])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /--tls-cert .*nope\.pem.* cannot be read/)
  const notPem = temp.file('not-a-cert.pem', 'this is not a certificate\n')
  const garbage = await runMalt(['serve', '--models', small, '--port', '0', '--tls-cert', notPem, '--tls-key', tls.key])
  assert.equal(garbage.code, 1, `a bad certificate is the user's mistake, not an internal error; stderr:\n${garbage.stderr}`)
  assert.match(garbage.stderr, /--tls-cert .*not-a-cert\.pem/)
  assert.doesNotMatch(garbage.stderr, /internal error|\n\s+at /)
})

interface LoggedRecord {
  timestamp: string
  requestId: string
  model: string
  version: number
  api: string
  status: number
  latencyMs: number
  request: unknown
  response?: unknown
}

function readLogDir(dir: string): LoggedRecord[] {
  let files: string[]
  try {
    files = readdirSync(dir).filter((file) => file.endsWith('.jsonl'))
  } catch {
    return []
  }
  return files.flatMap((file) =>
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LoggedRecord),
  )
}

test('inference log to files at rate 1: one complete record per predict, 400s included with their status', async () => {
  const sent: { id: string; path: string; body: unknown; answer?: Answer }[] = []
  for (let i = 0; i < 6; i++) sent.push({ id: `tf-${i}`, path: '/v1/models/summer:predict', body: { instances: [[i, 1]] } })
  for (let i = 0; i < 6; i++) sent.push({ id: `kserve-${i}`, path: '/v2/models/summer/infer', body: { id: `k${i}`, inputs: [{ name: await summerInput(logAll), shape: [1, 2], datatype: 'FP32', data: [i, 2] }] } })
  sent.push({ id: 'bad-0', path: '/v1/models/summer:predict', body: { instances: [[1, 2, 3]] } })
  for (const item of sent) item.answer = await post(logAll, item.path, item.body, { headers: { 'x-request-id': item.id } })
  const records = await waitFor(() => {
    const found = readLogDir(logDirs.all)
    return found.length >= sent.length ? found : undefined
  }, `${sent.length} records in ${logDirs.all}`)
  assert.equal(records.length, sent.length)
  const files = readdirSync(logDirs.all)
  assert.ok(files.every((file) => new RegExp(`^inference-${logAll.child.pid}-.*\\.jsonl$`).test(file)), `files named after the server's pid: ${files.join(', ')}`)
  for (const item of sent) {
    const record = records.find((each) => each.requestId === item.id)
    assert.ok(record, `a record for ${item.id}`)
    const answer = item.answer as Answer
    assert.deepEqual([record.model, record.version, record.status, record.api], ['summer', 1, answer.status, item.path.startsWith('/v1') ? 'tfserving' : 'kserve'])
    assert.ok(typeof record.latencyMs === 'number' && record.latencyMs >= 0 && record.latencyMs < 10_000, `latencyMs ${record.latencyMs}`)
    assert.ok(!Number.isNaN(Date.parse(record.timestamp)), `timestamp ${record.timestamp}`)
    assert.deepEqual(record.request, item.body, `${item.id}: the request as sent`)
    if (answer.status === 200) assert.deepEqual(record.response, jsonOf(answer), `${item.id}: the response as answered`)
  }
  assert.equal(records.find((record) => record.requestId === 'bad-0')?.status, 400, 'a refused request is logged with its 400')
})

let summerInputName: string | undefined
async function summerInput(server: ServeProcess): Promise<string> {
  summerInputName ??= jsonOf<{ inputs: { name: string }[] }>(await get(server, '/v2/models/summer')).inputs[0].name
  return summerInputName
}

test('inference log at rate 0.5 logs about half of the requests', async () => {
  await inParallel(200, 8, (i) => post(logHalf, '/v1/models/summer:predict', { instances: [[i, 0]] }))
  // The sampler is random (seeded by time and pid): wait until the count stops growing.
  let last = -1
  const logged = await waitFor(async () => {
    const count = readLogDir(logDirs.half).length
    if (count === last) return count
    last = count
    await new Promise((resolve) => setTimeout(resolve, 300))
    return undefined
  }, 'the half-rate log to settle')
  assert.ok(logged >= 70 && logged <= 130, `about 100 of 200 requests logged (±4 standard deviations), got ${logged}`)
})

test('inference log to a Redis Stream: one entry per predict holding the record', async () => {
  await requireRedis()
  const bodies = Array.from({ length: 10 }, (_, i) => ({ instances: [[i, 5]] }))
  const answers = await inParallel(bodies.length, 4, (i) => post(logRedis, '/v1/models/summer:predict', bodies[i], { headers: { 'x-request-id': `redis-${i}` } }))
  const redis = new Redis(TEST_REDIS_URL)
  try {
    await waitFor(async () => ((await redis.xlen(redisStream)) >= bodies.length ? true : undefined), `${bodies.length} entries in ${redisStream}`)
    const entries = await redis.xrange(redisStream, '-', '+')
    assert.equal(entries.length, bodies.length)
    for (const [, fields] of entries) assert.equal(fields[0], 'record', 'one field, "record", holding the JSON')
    const records = entries.map(([, fields]) => JSON.parse(fields[1]) as LoggedRecord)
    for (const [i, body] of bodies.entries()) {
      const record = records.find((each) => each.requestId === `redis-${i}`)
      assert.ok(record, `a record for request ${i}`)
      assert.deepEqual([record.model, record.version, record.status, record.request, record.response], ['summer', 1, 200, body, jsonOf(answers[i])])
    }
  } finally {
    redis.disconnect()
  }
})

test('every server stops on SIGTERM with exit code 0', async () => {
  const servers = { main, secured, logAll, logHalf, logRedis, https }
  const codes = await Promise.all(Object.values(servers).map((server) => server.stop()))
  assert.deepEqual(Object.fromEntries(Object.keys(servers).map((name, i) => [name, codes[i]])), Object.fromEntries(Object.keys(servers).map((name) => [name, 0])))
  // The file sink flushes on close: nothing logged is lost on a clean stop.
  assert.equal(readLogDir(logDirs.all).length, 13)
})
