// The run files: layout names, atomic writes, run numbering, crash recovery on open, metrics
// lines, versioned resources and the captured environment.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { rejectsWith } from '../../../test/helpers/errors.js'
import type { ExperimentRecord, TrialRecord } from '../records.js'
import { writeJsonAtomic } from '../../storage/durable.js'
import { attemptDir, createRunDir, experimentsRoot, formatAppId, maltHome, newAppId, runDir, trialDir } from './layout.js'
import { RunStore } from './run-store.js'

const temp = useTempDir()

function trial(id: string, name: string, value: number | undefined, state: TrialRecord['state'] = 'finished'): TrialRecord {
  return { id, name, params: { lr: Number(name.split('=')[1]) }, state, ...(value !== undefined ? { value } : {}), metrics: value !== undefined ? { accuracy: value } : {}, artifacts: [], attempts: 1, failures: [] }
}

function record(store: RunStore, trials: TrialRecord[]): ExperimentRecord {
  return {
    id: 1, appId: store.appId, runId: store.runId, name: 'mnist', kind: 'grid', state: 'running', metric: 'accuracy', direction: 'max',
    space: { lr: [0.1, 0.2] }, options: {}, function: { module: 'file:///train.js', export: 'train' }, versionedResources: [],
    startedAt: '2024-05-01T10:00:00.000Z', trials,
  }
}

test('layout: home, app ids, run, trial and attempt directories', () => {
  assert.equal(maltHome({}, '/work'), '/work/malt-home')
  assert.equal(maltHome({ MALT_HOME: 'h' }, '/work'), '/work/h')
  assert.equal(maltHome({ MALT_HOME: '/abs/home' }, '/work'), '/abs/home')
  assert.equal(experimentsRoot('/h'), '/h/Experiments')
  assert.equal(formatAppId(new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), 42), 'app_20240102_030405_42')
  const first = newAppId()
  assert.match(first, new RegExp(`^app_\\d{8}_\\d{6}_${process.pid}$`))
  assert.equal(newAppId(new Date(0)), first, 'one app id per driver process')
  assert.equal(runDir('/h', 'app_x', 'run.3'), '/h/Experiments/app_x/run.3')
  assert.equal(trialDir('/r', 'lr=0.01&dropout=0.5'), '/r/lr=0.01&dropout=0.5')
  assert.equal(attemptDir('/r/t', 1), '/r/t')
  assert.equal(attemptDir('/r/t', 3), '/r/t/attempt-3')
  assert.throws(() => trialDir('/r', '../escape'), { code: 'EXPERIMENT_BAD_NAME' })
  assert.throws(() => trialDir('/r', '..'), /received "\.\."/)
  assert.throws(() => attemptDir('/r/t', 0), { code: 'EXPERIMENT_BAD_ATTEMPT' })
})

test('writeJsonAtomic replaces the file whole and leaves no temp file behind', async () => {
  const dir = temp.join('atomic/nested')
  const path = join(dir, 'x.json')
  await writeJsonAtomic(path, { a: 1 })
  await Promise.all(Array.from({ length: 20 }, (_, i) => writeJsonAtomic(path, { a: i, pad: 'x'.repeat(10_000) })))
  const value = JSON.parse(readFileSync(path, 'utf8')) as { a: number; pad: string }
  assert.equal(value.pad.length, 10_000)
  assert.deepEqual(readdirSync(dir), ['x.json'])
  // A failed write (the target is a directory) leaves the temp file removed too.
  mkdirSync(join(dir, 'taken.json'))
  await rejectsWith(writeJsonAtomic(join(dir, 'taken.json'), {}), 'STORAGE_IS_DIRECTORY', ['taken.json'])
  assert.deepEqual(readdirSync(dir).sort(), ['taken.json', 'x.json'])
})

test('two RunStores in one app get run.1 and run.2; racing creators never share a directory', async () => {
  const home = temp.join('home-runs')
  const a = await RunStore.create({ home, name: 'a', kind: 'launch', appId: 'app_test_1' })
  const b = await RunStore.create({ home, name: 'b', kind: 'grid', appId: 'app_test_1' })
  assert.equal(a.runId, 'run.1')
  assert.equal(b.runId, 'run.2')
  assert.equal(b.dir, join(home, 'Experiments', 'app_test_1', 'run.2'))
  assert.ok(existsSync(b.dir))
  const raced = await Promise.all(Array.from({ length: 8 }, () => createRunDir(home, 'app_test_2')))
  assert.deepEqual(raced.map((r) => r.runId).sort(), ['run.1', 'run.2', 'run.3', 'run.4', 'run.5', 'run.6', 'run.7', 'run.8'])
  // Numbering follows the highest run, not the count (run.10 after run.9, not after a gap).
  mkdirSync(join(home, 'Experiments', 'app_test_3', 'run.9'), { recursive: true })
  assert.equal((await createRunDir(home, 'app_test_3')).runId, 'run.10')
})

test('open() after a crash recovers a trial whose result.json is not yet in experiment.json', async () => {
  const store = await RunStore.create({ home: temp.join('home-crash'), name: 'mnist', kind: 'grid', appId: 'app_crash' })
  const t1 = trial('t0001', 'lr=0.1', 0.8)
  const t2 = trial('t0002', 'lr=0.2', 0.9)
  const running = { ...trial('t0003', 'lr=0.3', undefined, 'running') }
  for (const t of [t1, t2, running]) await store.writeTrialParams(t)
  await store.writeTrialResult(t1)
  await store.writeExperiment({ ...record(store, [t1, { ...t2, state: 'running', value: undefined, metrics: {} }, running]), best: { trialId: 't0001', name: 'lr=0.1', value: 0.8, params: t1.params } })
  // The driver died after writing t0002's result.json, before rewriting experiment.json.
  await store.writeTrialResult(t2)
  assert.deepEqual(JSON.parse(readFileSync(join(store.dir, 'lr=0.2', 'params.json'), 'utf8')), { lr: 0.2 })

  const opened = await RunStore.open(store.dir)
  assert.deepEqual(opened.recovered, ['t0002'])
  assert.deepEqual(opened.experiment.trials.map((t) => [t.id, t.state, t.value]), [['t0001', 'finished', 0.8], ['t0002', 'finished', 0.9], ['t0003', 'running', undefined]])
  assert.equal(opened.experiment.best?.trialId, 't0002', 'a recovered better trial becomes the best')
  assert.equal(opened.store.dir, store.dir)
  assert.equal(opened.store.runId, store.runId)
  assert.equal(opened.store.home, temp.join('home-crash'))
  await rejectsWith(RunStore.open(temp.join('home-crash')), 'EXPERIMENT_NOT_FOUND', ['experiment.json'])
})

test('readMetrics skips a torn last line, but not damage in the middle', async () => {
  const dir = temp.join('metrics')
  mkdirSync(dir)
  const line = (step: number) => JSON.stringify({ step, time: 1000 + step, metrics: { loss: 1 / (step + 1) } })
  writeFileSync(join(dir, 'metrics.jsonl'), `${line(0)}\n${line(1)}\n{"step":2,"ti`)
  assert.deepEqual((await RunStore.readMetrics(dir)).map((m) => m.step), [0, 1])
  writeFileSync(join(dir, 'metrics.jsonl'), `${line(0)}\n${line(1)}`)
  assert.deepEqual((await RunStore.readMetrics(dir)).map((m) => m.step), [0, 1], 'a complete last line without newline counts')
  writeFileSync(join(dir, 'metrics.jsonl'), `${line(0)}\n{"step":1,"ti\n${line(2)}\n`)
  await rejectsWith(RunStore.readMetrics(dir), 'EXPERIMENT_FILE_CORRUPT', ['metrics.jsonl:2'])
  assert.deepEqual(await RunStore.readMetrics(temp.join('no-such-trial')), [])
})

test('copyVersionedResources keeps relative paths and names a missing file before copying anything', async () => {
  const base = temp.join('project')
  mkdirSync(join(base, 'src', 'lib'), { recursive: true })
  writeFileSync(join(base, 'train.ts'), 'export {}')
  writeFileSync(join(base, 'src', 'lib', 'model.ts'), 'model')
  const outside = temp.file('outside.json', '{}')
  const store = await RunStore.create({ home: temp.join('home-res'), name: 'r', kind: 'launch', appId: 'app_res' })
  const copied = await store.copyVersionedResources(['train.ts', 'src/lib/model.ts', outside], base)
  assert.deepEqual(copied, ['train.ts', 'src/lib/model.ts', 'outside.json'])
  assert.equal(readFileSync(join(store.dir, 'resources', 'src', 'lib', 'model.ts'), 'utf8'), 'model')
  assert.equal(readFileSync(join(store.dir, 'resources', 'outside.json'), 'utf8'), '{}')

  const other = await RunStore.create({ home: temp.join('home-res'), name: 'r', kind: 'launch', appId: 'app_res' })
  await rejectsWith(other.copyVersionedResources(['train.ts', 'missing.ts'], base), 'EXPERIMENT_RESOURCE_NOT_FOUND', ['"missing.ts"', join(base, 'missing.ts')])
  assert.ok(!existsSync(join(other.dir, 'resources')), 'nothing copied when one path is missing')
})

test('captureEnvironment records node, machine, Malt version, the lockfile hash and the git commit', async () => {
  const store = await RunStore.create({ home: temp.join('home-env'), name: 'e', kind: 'launch', appId: 'app_env' })
  const project = temp.join('git-project')
  mkdirSync(join(project, 'sub'), { recursive: true })
  writeFileSync(join(project, 'package-lock.json'), '{"lockfileVersion":3}')
  let gitWorks = true
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: project, stdio: 'pipe' })
    git('init', '-q')
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'add', '.')
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-q', '-m', 'x')
  } catch {
    gitWorks = false
  }
  const env = await store.captureEnvironment({ cwd: join(project, 'sub'), backend: 'cpu' })
  const written = JSON.parse(readFileSync(join(store.dir, 'environment.json'), 'utf8'))
  assert.deepEqual(written, env)
  assert.equal(env.node, process.version)
  assert.equal(env.platform, process.platform)
  assert.equal(env.arch, process.arch)
  assert.ok(env.cpus.count >= 1)
  assert.equal(env.maltVersion, JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version)
  assert.equal(env.backend, 'cpu')
  assert.equal(env.lockfile?.path, join(project, 'package-lock.json'), 'the nearest lockfile above cwd')
  assert.equal(env.lockfile?.sha256, createHash('sha256').update('{"lockfileVersion":3}').digest('hex'))
  if (gitWorks) {
    assert.match(env.git?.commit ?? '', /^[0-9a-f]{40}$/)
    assert.equal(env.git?.dirty, false)
    writeFileSync(join(project, 'package-lock.json'), '{}')
    assert.equal((await store.captureEnvironment({ cwd: project })).git?.dirty, true)
  }
  // Outside any repository (and with no lockfile above): no git, no failure.
  const bare = await store.captureEnvironment({ cwd: '/' })
  assert.equal(bare.git, undefined)
  assert.equal(bare.backend, undefined)
})
