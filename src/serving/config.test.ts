// The server config file: a full config parses as written; every bad field is reported with
// its exact path and the value received; files are read with clear errors and written atomically.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { MaltError } from '../errors.js'
import { useTempDir } from '../../test/helpers/temp-dir.js'
import { rejectsWith } from '../../test/helpers/errors.js'
import { parseServerConfig, readServerConfig, writeServerConfig, type ServerConfigFile } from './config.js'

const temp = useTempDir()

const full: ServerConfigFile = {
  models: {
    mnist: {
      versionPolicy: { latest: { numVersions: 2 } },
      batching: { maxBatchSize: 32, batchTimeoutMicros: 1000, maxEnqueuedBatches: 100 },
      canary: { version: 3, percent: 10 },
      labels: { stable: 2 },
    },
    'fashion-cnn': { versionPolicy: { all: {} } },
    iris: { versionPolicy: { specific: { versions: [1, 3] } }, batching: {} },
    plain: {},
  },
}

function problem(json: unknown): string {
  try {
    parseServerConfig(json, 'serve.json')
  } catch (error) {
    assert.ok(error instanceof MaltError)
    assert.equal(error.code, 'SERVING_BAD_CONFIG')
    return error.message
  }
  assert.fail('expected the config to be refused')
}

test('a full config parses to exactly what was written', () => {
  assert.deepEqual(parseServerConfig(JSON.parse(JSON.stringify(full)), 'serve.json'), full)
  assert.deepEqual(parseServerConfig({ models: {} }, 'serve.json'), { models: {} })
})

test('each bad field is named by its path with the value received', () => {
  const model = (config: unknown): unknown => ({ models: { mnist: config } })
  const cases: [unknown, string][] = [
    [model({ canary: { version: 3, percent: 150 } }), 'serve.json: models.mnist.canary.percent: expected a number 0–100, received 150'],
    [model({ canary: { version: 3, percent: '10' } }), 'serve.json: models.mnist.canary.percent: expected a number 0–100, received "10"'],
    [model({ canary: { version: 0, percent: 10 } }), 'serve.json: models.mnist.canary.version: expected a positive integer version, received 0'],
    [model({ canary: { percent: 10 } }), 'serve.json: models.mnist.canary.version: expected a positive integer version, received undefined'],
    [model({ versionPolicy: { latest: { numVersions: 1.5 } } }), 'serve.json: models.mnist.versionPolicy.latest.numVersions: expected a positive integer, received 1.5'],
    [model({ versionPolicy: { latest: { numVersions: 1 }, all: {} } }), 'serve.json: models.mnist.versionPolicy: expected exactly one of "latest", "all", "specific", received {"latest":{"numVersions":1},"all":{}}'],
    [model({ versionPolicy: {} }), 'serve.json: models.mnist.versionPolicy: expected exactly one of "latest", "all", "specific", received {}'],
    [model({ versionPolicy: { newest: {} } }), 'serve.json: models.mnist.versionPolicy: unknown field "newest"; models.mnist.versionPolicy: expected exactly one of "latest", "all", "specific", received {"newest":{}}'],
    [model({ versionPolicy: { specific: { versions: [] } } }), 'serve.json: models.mnist.versionPolicy.specific.versions: expected at least one version, received []'],
    [model({ versionPolicy: { specific: { versions: [1, -3] } } }), 'serve.json: models.mnist.versionPolicy.specific.versions[1]: expected a positive integer version, received -3'],
    [model({ batching: { maxBatchSize: 0 } }), 'serve.json: models.mnist.batching.maxBatchSize: expected a positive integer, received 0'],
    [model({ batching: { batchTimeoutMicros: -1 } }), 'serve.json: models.mnist.batching.batchTimeoutMicros: expected an integer ≥ 0 (microseconds), received -1'],
    [model({ labels: { stable: 'two' } }), 'serve.json: models.mnist.labels.stable: expected a positive integer version, received "two"'],
    [model({ canary: { version: 1, percent: 5, weight: 1 } }), 'serve.json: models.mnist.canary: unknown field "weight"'],
    [model([]), 'serve.json: models.mnist: expected an object with versionPolicy, batching, canary, labels, received []'],
    [{ models: { 'a/b': {} } }, 'serve.json: models: expected a model name: a directory name, not starting with "." and without "/", received "a/b"'],
    [{ models: [] }, 'serve.json: models: expected an object of model name → config, received []'],
    [{ model: {} }, 'serve.json: models: expected an object of model name → config, received undefined; (top level): unknown field "model"'],
    ['{}', 'serve.json: (top level): expected an object {"models": {...}}, received "{}"'],
  ]
  for (const [json, message] of cases) assert.equal(problem(json), message)
})

test('readServerConfig: a missing file, invalid JSON and a bad field each say where', async () => {
  await rejectsWith(readServerConfig(temp.join('absent.json')), 'STORAGE_NOT_FOUND', ['absent.json'])
  const broken = temp.file('broken.json', '{"models": {')
  await rejectsWith(readServerConfig(broken), 'SERVING_BAD_CONFIG', [broken, 'is not valid JSON'])
  const bad = temp.file('bad.json', JSON.stringify({ models: { m: { canary: { version: 2, percent: 101 } } } }))
  await rejectsWith(readServerConfig(bad), 'SERVING_BAD_CONFIG', [`${bad}: models.m.canary.percent: expected a number 0–100, received 101`])
})

test('writeServerConfig writes atomically what readServerConfig reads, and refuses a bad config without touching the file', async () => {
  const path = temp.join('serve.json')
  await writeServerConfig(path, full)
  assert.deepEqual(await readServerConfig(path), full)
  assert.deepEqual(readdirSync(temp.path).filter((name) => name.endsWith('.tmp')), [], 'no temp file left')
  const written = readFileSync(path, 'utf8')
  await rejectsWith(writeServerConfig(path, { models: { m: { canary: { version: 1, percent: -1 } } } }), 'SERVING_BAD_CONFIG', ['models.m.canary.percent', 'received -1'])
  assert.equal(readFileSync(path, 'utf8'), written)
})
