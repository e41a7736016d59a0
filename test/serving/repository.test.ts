// The model repository against real TF.js models on disk: version policies, hot swap under a
// stream of requests, removed versions and models, failed loads, canary split, labels, partly
// written directories, and close() leaving nothing behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tf } from '../../src/backend/index.js'
import { ModelRepository, type ModelRepositoryOptions } from '../../src/serving/repository.js'
import { ServingError, type VersionStatus } from '../../src/serving/types.js'
import { tfjsRuntime } from '../../src/serving/runtimes/tfjs.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { RecordingLoader, predictValue, removeVersion, writeCorruptVersion, writeVersion } from './fixtures/repository-models.js'

const temp = useTempDir()
let roots = 0

/** A fresh repository directory with the given versions per model. */
async function repositoryDir(models: Record<string, number[]>): Promise<string> {
  const root = temp.join(`root-${++roots}`)
  await mkdir(root, { recursive: true })
  for (const [name, versions] of Object.entries(models)) {
    await mkdir(join(root, name), { recursive: true })
    for (const version of versions) await writeVersion(root, name, version)
  }
  return root
}

function open(root: string, options: Partial<ModelRepositoryOptions> = {}): Promise<ModelRepository> {
  return ModelRepository.open({ root, load: tfjsRuntime.load, pollIntervalMs: 0, ...options })
}

const states = (repository: ModelRepository, name: string): string[] => repository.statuses(name).map((status) => `${status.version}:${status.state}`)

/** Leases the default (or a selected) version, predicts and releases; returns the value that answered. */
async function ask(repository: ModelRepository, name: string, selector?: { version?: number; label?: string }): Promise<number> {
  const lease = repository.acquire(name, selector)
  try {
    const value = await predictValue(lease.model)
    assert.equal(value, lease.version, 'each version answers its own number')
    return value
  } finally {
    lease.release()
  }
}

function servingError(status: number, message: string | RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`)
    assert.equal(error.status, status, error.message)
    if (typeof message === 'string') assert.equal(error.message, message)
    else assert.match(error.message, message)
    return true
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

test('version policies: latest (default 1), latest n, all, specific; other entries ignored with a log line', async () => {
  const root = await repositoryDir({ m: [1, 2, 3] })
  await mkdir(join(root, 'm', 'abc'))
  await mkdir(join(root, 'm', '0'))
  await mkdir(join(root, 'm', '007'))
  await writeFile(join(root, 'm', '4'), 'a file, not a directory')
  const logs: string[] = []
  const latest = await open(root, { log: (line) => logs.push(line) })
  assert.deepEqual(states(latest, 'm'), ['3:AVAILABLE'])
  assert.equal(await ask(latest, 'm'), 3)
  assert.throws(() => latest.acquire('m', { version: 2 }), servingError(404, 'Servable not found for request: Specific(m, 2)'))
  for (const ignored of ['abc', '0', '007', '4']) assert.ok(logs.some((line) => line.includes(`ignoring ${join(root, 'm', ignored)}`)), `log names ${ignored}`)
  await latest.close()

  const cases: [ModelRepositoryOptions['config'], string[]][] = [
    [{ models: { m: { versionPolicy: { latest: { numVersions: 2 } } } } }, ['3:AVAILABLE', '2:AVAILABLE']],
    [{ models: { m: { versionPolicy: { all: {} } } } }, ['3:AVAILABLE', '2:AVAILABLE', '1:AVAILABLE']],
    [{ models: { m: { versionPolicy: { specific: { versions: [1, 3, 9] } } } } }, ['3:AVAILABLE', '1:AVAILABLE']],
  ]
  for (const [config, expected] of cases) {
    const repository = await open(root, { config })
    assert.deepEqual(states(repository, 'm'), expected, JSON.stringify(config))
    assert.equal(await ask(repository, 'm'), 3, 'the default is the newest AVAILABLE version')
    for (const status of expected) assert.equal(await ask(repository, 'm', { version: Number(status.split(':')[0]) }), Number(status.split(':')[0]))
    await repository.close()
  }
})

test('a model directory without versions shows none; unknown models are 404', async () => {
  const root = await repositoryDir({ empty: [], full: [1] })
  const repository = await open(root)
  assert.deepEqual(repository.modelNames(), ['empty', 'full'])
  assert.deepEqual(repository.statuses('empty'), [])
  assert.throws(() => repository.acquire('empty'), servingError(404, 'Servable not found for request: Latest(empty)'))
  assert.throws(() => repository.statuses('nope'), servingError(404, 'Could not find any versions of model nope'))
  assert.throws(() => repository.acquire('nope', { version: 1 }), servingError(404, 'Servable not found for request: Specific(nope, 1)'))
  assert.throws(() => repository.acquire('full', { version: 1.5 }), servingError(400, /expected a positive integer version, received 1.5/))
  await repository.close()
})

test('hot swap: the new version is AVAILABLE before the old one unloads; a held lease keeps working; dispose after the last release', async () => {
  const root = await repositoryDir({ m: [1] })
  const loader = new RecordingLoader()
  const events: string[] = []
  const repository = await open(root, { load: loader.load, onVersionState: (name, status) => events.push(`${status.version}:${status.state}`) })
  assert.deepEqual(events, ['1:START', '1:LOADING', '1:AVAILABLE'])
  const held = repository.acquire('m')
  assert.equal(held.version, 1)

  await writeVersion(root, 'm', 2)
  await repository.rescan()
  assert.deepEqual(events.slice(3), ['2:START', '2:LOADING', '2:AVAILABLE', '1:UNLOADING'])
  assert.deepEqual(states(repository, 'm'), ['2:AVAILABLE', '1:UNLOADING'])
  assert.equal(await ask(repository, 'm'), 2, 'new requests go to version 2')
  assert.throws(() => repository.acquire('m', { version: 1 }), servingError(404, 'Servable not found for request: Specific(m, 1)'))
  assert.equal(await predictValue(held.model), 1, 'the lease on version 1 still predicts')
  assert.deepEqual(loader.disposed, [], 'nothing disposed while a lease is held')

  held.release()
  await waitFor('version 1 END', () => events.includes('1:END'))
  assert.deepEqual(loader.disposed, [join(root, 'm', '1')])
  held.release() // a second release is a no-op
  assert.deepEqual(states(repository, 'm'), ['2:AVAILABLE', '1:END'])
  await repository.close()
  assert.deepEqual(loader.disposed, [join(root, 'm', '1'), join(root, 'm', '2')])
})

test('a stream of concurrent requests never fails while versions are added and removed', async () => {
  const root = await repositoryDir({ m: [1] })
  const loader = new RecordingLoader()
  const repository = await open(root, { load: loader.load })
  let stop = false
  const answers: number[] = []
  const failures: unknown[] = []
  const workers = Array.from({ length: 8 }, async () => {
    while (!stop) {
      try {
        answers.push(await ask(repository, 'm'))
      } catch (error) {
        failures.push(error)
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
  })
  const changes: (() => Promise<unknown>)[] = [
    () => writeVersion(root, 'm', 2),
    () => writeVersion(root, 'm', 3),
    () => removeVersion(root, 'm', 3), // back to 2 (loaded again: 2 was retired when 3 came)
    () => removeVersion(root, 'm', 1),
    () => writeVersion(root, 'm', 4),
    () => removeVersion(root, 'm', 2),
  ]
  for (const change of changes) {
    await change()
    await repository.rescan()
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  stop = true
  await Promise.all(workers)
  assert.deepEqual(failures, [])
  assert.ok(answers.length > 50, `requests ran throughout (${answers.length})`)
  assert.deepEqual([...new Set(answers)].sort(), [1, 2, 3, 4])
  assert.equal(answers.at(-1), 4)
  assert.deepEqual(states(repository, 'm'), ['4:AVAILABLE', '3:END', '2:END', '1:END'])
  await repository.close()
  assert.equal(loader.disposed.length, loader.loaded.length, 'every loaded model was disposed once')
})

test('a deleted version directory is unloaded; a new model directory is served; a removed one ends', async () => {
  const root = await repositoryDir({ a: [1, 2] })
  const repository = await open(root, { config: { models: { a: { versionPolicy: { all: {} } } } } })
  await removeVersion(root, 'a', 2)
  await repository.rescan()
  await waitFor('a/2 END', () => states(repository, 'a').includes('2:END'))
  assert.deepEqual(states(repository, 'a'), ['2:END', '1:AVAILABLE'])
  assert.equal(await ask(repository, 'a'), 1)
  assert.throws(() => repository.acquire('a', { version: 2 }), servingError(404, 'Servable not found for request: Specific(a, 2)'))

  await writeVersion(root, 'b', 5)
  await repository.rescan()
  assert.deepEqual(repository.modelNames(), ['a', 'b'])
  assert.equal(await ask(repository, 'b'), 5)

  await removeVersion(root, 'a')
  await repository.rescan()
  await waitFor('a/1 END', () => states(repository, 'a').includes('1:END'))
  assert.deepEqual(repository.modelNames(), ['b'])
  assert.deepEqual(states(repository, 'a'), ['2:END', '1:END'], 'statuses keep the END versions')
  assert.throws(() => repository.acquire('a'), servingError(404, 'Servable not found for request: Latest(a)'))
  assert.equal(await ask(repository, 'b'), 5)
  await repository.close()
})

test('a version that fails to load ends with its error; the previous version keeps serving; other models are unaffected', async () => {
  const root = await repositoryDir({ m: [1], other: [1] })
  await writeCorruptVersion(root, 'broken', 1)
  const loader = new RecordingLoader()
  const repository = await open(root, { load: loader.load })
  const [broken] = repository.statuses('broken')
  assert.equal(broken.state, 'END')
  assert.equal(broken.error?.code, 'MODEL_BAD_JSON')
  assert.ok(broken.error?.message.includes(join(root, 'broken', '1', 'model.json')), broken.error?.message)
  assert.throws(() => repository.acquire('broken'), servingError(404, 'Servable not found for request: Latest(broken)'))
  assert.equal(await ask(repository, 'other'), 1)

  await writeCorruptVersion(root, 'm', 2)
  await repository.rescan()
  const statuses = repository.statuses('m')
  assert.deepEqual(statuses.map((status) => `${status.version}:${status.state}`), ['2:END', '1:AVAILABLE'], 'latest policy keeps 1 while 2 failed')
  assert.equal(statuses[0].error?.code, 'MODEL_BAD_JSON')
  assert.equal(await ask(repository, 'm'), 1)

  const loads = loader.loaded.length
  await repository.rescan()
  assert.equal(loader.loaded.length, loads, 'a failed version is not retried while its directory stays')
  await removeVersion(root, 'm', 2)
  await writeVersion(root, 'm', 2)
  await repository.rescan()
  await waitFor('m/1 END', () => states(repository, 'm').includes('1:END'))
  assert.deepEqual(states(repository, 'm'), ['2:AVAILABLE', '1:END'], 'a fixed version (removed and written again) loads')
  assert.equal(await ask(repository, 'm'), 2)
  await repository.close()
})

test('canary: a counted share of default requests, explicit versions unaffected, the canary aspired beyond the policy, removal sends all to the newest', async () => {
  const root = await repositoryDir({ m: [1, 2] })
  const repository = await open(root, { config: { models: { m: { canary: { version: 2, percent: 10 } } } } })
  // The latest policy chooses among the other versions (1); the canary (2) is loaded too.
  assert.deepEqual(states(repository, 'm'), ['2:AVAILABLE', '1:AVAILABLE'])
  const counts = new Map<number, number>()
  for (let i = 0; i < 2000; i++) {
    if (i % 100 === 50) assert.equal(await ask(repository, 'm', { version: 1 }), 1) // explicit: not counted, not split
    const lease = repository.acquire('m')
    counts.set(lease.version, (counts.get(lease.version) ?? 0) + 1)
    lease.release()
  }
  assert.deepEqual(Object.fromEntries(counts), { 1: 1800, 2: 200 })
  assert.equal(await ask(repository, 'm', { version: 2 }), 2)

  await assert.rejects(repository.setModelConfig('m', { canary: { version: 7, percent: 5 } }), servingError(400, /Canary version 7 of model m: no version directory .*versions there: 2, 1/))
  await repository.setModelConfig('m', {})
  assert.deepEqual(repository.modelConfig('m'), {})
  await waitFor('m/1 END', () => states(repository, 'm').includes('1:END'))
  for (let i = 0; i < 20; i++) assert.equal(await ask(repository, 'm'), 2, 'without a canary every default request goes to the newest')

  // An older canary the latest policy would not load: loaded for it, 25% of default calls.
  await writeVersion(root, 'm', 3)
  await repository.rescan()
  await repository.setModelConfig('m', { canary: { version: 1, percent: 25 } })
  await waitFor('m/2 END', () => states(repository, 'm').includes('2:END'))
  assert.deepEqual(states(repository, 'm'), ['3:AVAILABLE', '2:END', '1:AVAILABLE'])
  const versions: number[] = []
  for (let i = 0; i < 8; i++) versions.push(await ask(repository, 'm'))
  assert.deepEqual(versions, [3, 3, 3, 1, 3, 3, 3, 1], 'call n goes to the canary when ⌊(n+1)p/100⌋ > ⌊np/100⌋')
  await repository.close()
})

test('labels: a label names a version; unknown label 400; a label on a version not served 404, on a loading one 503', async () => {
  const root = await repositoryDir({ m: [1, 2] })
  const loader = new RecordingLoader()
  const config = { models: { m: { versionPolicy: { all: {} }, labels: { stable: 1, canary: 2 } } } }
  const repository = await open(root, { load: loader.load, config })
  assert.equal(await ask(repository, 'm', { label: 'stable' }), 1)
  assert.equal(await ask(repository, 'm', { label: 'canary' }), 2)
  assert.throws(() => repository.acquire('m', { label: 'nope' }), servingError(400, 'Unrecognized servable version label: nope'))
  assert.throws(() => repository.acquire('m', { version: 1, label: 'stable' }), servingError(400, /names both version 1 and label "stable"/))

  // Moving a label needs an AVAILABLE version (TF Serving); a new label may name any version.
  await assert.rejects(
    repository.setModelConfig('m', { versionPolicy: { all: {} }, labels: { stable: 3, canary: 2 } }),
    servingError(400, 'Request to assign label "stable" to version 3 of model m, which is not currently available for inference'),
  )
  await repository.setModelConfig('m', { versionPolicy: { all: {} }, labels: { stable: 1, canary: 2, next: 3 } })
  assert.throws(() => repository.acquire('m', { label: 'next' }), servingError(404, 'Servable not found for request: Specific(m, 3)'))

  loader.hold()
  await writeVersion(root, 'm', 3)
  const scanning = repository.rescan()
  await waitFor('m/3 LOADING', () => states(repository, 'm').includes('3:LOADING'))
  assert.throws(() => repository.acquire('m', { label: 'next' }), servingError(503, /Servable not available yet for request: Specific\(m, 3\): version 3 is LOADING/))
  assert.throws(() => repository.acquire('m', { version: 3 }), servingError(503, /version 3 is LOADING/))
  assert.equal(await ask(repository, 'm'), 2, 'default requests stay on the newest AVAILABLE version')
  loader.release()
  await scanning
  assert.equal(await ask(repository, 'm', { label: 'next' }), 3)

  // The labelled version's directory goes: the label answers 404.
  await removeVersion(root, 'm', 1)
  await repository.rescan()
  await waitFor('m/1 END', () => states(repository, 'm').includes('1:END'))
  assert.throws(() => repository.acquire('m', { label: 'stable' }), servingError(404, 'Servable not found for request: Specific(m, 1)'))
  await repository.close()
})

test('a version directory still being written is not loaded until complete; temp names are skipped', async () => {
  const root = await repositoryDir({ m: [1] })
  await mkdir(join(root, 'm', '2')) // an export in progress that did not use a temp name
  await writeVersion(root, 'hidden', 1)
  const { rename } = await import('node:fs/promises')
  await rename(join(root, 'hidden'), join(root, '.hidden'))
  await writeVersion(root, 'm', 3)
  await rename(join(root, 'm', '3'), join(root, 'm', '3.tmp'))
  const logs: string[] = []
  const repository = await open(root, { log: (line) => logs.push(line) })
  assert.deepEqual(repository.modelNames(), ['m'])
  assert.deepEqual(states(repository, 'm'), ['1:AVAILABLE'])
  assert.ok(logs.some((line) => line.includes(`${join(root, 'm', '2')} has no model.json or model.onnx yet`)), logs.join('\n'))
  assert.ok(!logs.some((line) => line.includes('3.tmp')), 'temp names are skipped silently')

  // The writer finishes version 2 (model.json written last): the next scan loads it.
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, kernelInitializer: 'zeros', biasInitializer: 'ones' })] })
  await model.save(`file://${join(root, 'm', '2')}`)
  model.dispose()
  await repository.rescan()
  assert.deepEqual(states(repository, 'm').slice(0, 1), ['2:AVAILABLE'])
  await repository.close()
})

test('the poller picks up new versions by itself; close() stops it, waits for leases and leaves no timers', async () => {
  const root = await repositoryDir({ m: [1] })
  const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length
  const before = timers()
  const loader = new RecordingLoader()
  const repository = await open(root, { load: loader.load, pollIntervalMs: 20 })
  assert.ok(timers() > before, 'the poll timer is armed')
  await writeVersion(root, 'm', 2)
  await waitFor('m/2 AVAILABLE by polling', () => states(repository, 'm').includes('2:AVAILABLE'))

  const held = repository.acquire('m')
  let closed = false
  const closing = repository.close().then(() => (closed = true))
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(closed, false, 'close waits for the lease')
  assert.throws(() => repository.acquire('m'), servingError(503, /shutting down/))
  assert.equal(await predictValue(held.model), 2)
  held.release()
  await closing
  assert.deepEqual(repository.statuses('m').map((status: VersionStatus) => status.state), ['END', 'END'])
  assert.equal(loader.disposed.length, 2)
  assert.equal(timers(), before, 'no timer left')
  await repository.rescan() // after close: nothing happens

  // A poll a minute away: close() must clear it, or the process would stay up for it.
  const idle = await open(root, { pollIntervalMs: 60_000 })
  assert.equal(timers(), before + 1)
  await idle.close()
  assert.equal(timers(), before, 'close() cleared the pending poll')
})

test('open fails clearly when the repository directory is missing', async () => {
  await assert.rejects(open(temp.join('missing')), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'SERVING_NO_REPOSITORY')
    assert.match(error.message, /Model repository .*missing cannot be read/)
    return true
  })
})
