// `malt experiments list|show|compare` as a user runs them, on runs fabricated on disk with the
// run store and the index: the tables' content, the --json output and the unknown-id error.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { useTempDir } from './helpers/temp-dir.js'
import { runMalt } from './helpers/cli.js'
import type { ExperimentRecord, TrialRecord } from '../src/experiments/records.js'
import { ExperimentIndex } from '../src/experiments/store/index-db.js'
import { RunStore } from '../src/experiments/store/run-store.js'

const temp = useTempDir()
const home = temp.join('malt-home')
const env = { TZ: 'UTC', MALT_HOME: '' }
let grid: RunStore

function trial(n: number, lr: number, dropout: number, result: { accuracy: number; loss: number } | undefined, extra: Partial<TrialRecord> = {}): TrialRecord {
  return {
    id: `t000${n}`, name: `lr=${lr}&dropout=${dropout}`, params: { lr, dropout }, state: result ? 'finished' : 'failed',
    ...(result ? { value: result.accuracy } : {}), metrics: result ?? {}, artifacts: [], attempts: 1, failures: [],
    startedAt: '2024-05-01T10:00:00.000Z', finishedAt: '2024-05-01T10:00:04.000Z', durationMs: 4000, ...extra,
  }
}

before(async () => {
  const trials = [
    trial(1, 0.001, 0.5, { accuracy: 0.81, loss: 0.52 }),
    trial(2, 0.01, 0.5, { accuracy: 0.93, loss: 0.21 }, {
      attempts: 2, attempt: 2, executor: 'local-2',
      failures: [{ reason: 'crash', message: 'executor local-1 exited with code 137', executor: 'local-1', attempt: 1 }],
    }),
    trial(3, 0.1, 0.6, undefined, {
      attempts: 3,
      failures: [1, 2, 3].map((attempt) => ({ reason: 'error' as const, message: 'loss is NaN\n    at train (train.ts:12:9)', stack: 'Error: loss is NaN', attempt })),
    }),
    trial(4, 0.005, 0.6, { accuracy: 0.88, loss: 0.3 }),
  ]
  const index = new ExperimentIndex(home)
  grid = await RunStore.create({ home, name: 'mnist', kind: 'grid', appId: 'app_20240501_100000_4242' })
  const record: ExperimentRecord = {
    id: 0, appId: grid.appId, runId: grid.runId, name: 'mnist', kind: 'grid', state: 'finished', metric: 'accuracy', direction: 'max',
    space: { lr: [0.001, 0.005, 0.01, 0.1], dropout: [0.5, 0.6] }, options: {}, function: { module: 'file:///project/train.ts', export: 'train' },
    versionedResources: ['train.ts'], startedAt: '2024-05-01T10:00:00.000Z', finishedAt: '2024-05-01T10:02:05.000Z', trials,
    best: { trialId: 't0002', name: trials[1]!.name, value: 0.93, params: trials[1]!.params },
  }
  record.id = index.createExperiment({ ...record, runDir: grid.dir, trials: [] })
  for (const t of trials) {
    await grid.writeTrialParams(t)
    await grid.writeTrialResult(t)
    index.upsertTrial(record.id, t)
  }
  await grid.writeExperiment(record)
  await grid.captureEnvironment({ backend: 'cpu' })

  const launch = await RunStore.create({ home, name: 'baseline', kind: 'launch', appId: 'app_20240501_100000_4242' })
  const running: ExperimentRecord = { ...record, id: 0, runId: launch.runId, name: 'baseline', kind: 'launch', state: 'running', finishedAt: undefined, trials: [], best: undefined }
  running.id = index.createExperiment({ ...running, runDir: launch.dir, plannedTrials: 1 })
  await launch.writeExperiment(running)
  index.close()
})

test('list shows one row per experiment with trials done/total, the best metric, start and duration', async () => {
  const run = await runMalt(['experiments', 'list', '--home', home], { env })
  assert.equal(run.code, 0, run.stderr)
  const lines = run.stdout.trimEnd().split('\n')
  assert.equal(lines.length, 3)
  assert.match(lines[0]!, /^ID +NAME +KIND +STATE +TRIALS +BEST +STARTED +DURATION$/)
  assert.match(lines[1]!, /^ 1 +mnist +grid +finished +4\/4 \(1 failed\) +accuracy=0\.93 +2024-05-01 10:00 +2m 05s$/)
  assert.match(lines[2]!, /^ 2 +baseline +launch +running +0\/1 +- +2024-05-01 10:00 +\S/)

  const filtered = await runMalt(['experiments', 'list', '--state', 'running'], { env: { ...env, MALT_HOME: home } })
  assert.equal(filtered.code, 0, filtered.stderr)
  assert.match(filtered.stdout, /baseline/)
  assert.doesNotMatch(filtered.stdout, /mnist/)

  const json = await runMalt(['experiments', 'list', '--home', home, '--name', 'mnist', '--json'], { env })
  const rows = JSON.parse(json.stdout)
  assert.equal(rows.length, 1)
  assert.deepEqual(
    { id: rows[0].id, runId: rows[0].runId, done: rows[0].trialsDone, failed: rows[0].trialsFailed, best: rows[0].bestTrial, value: rows[0].bestValue, dir: rows[0].runDir },
    { id: 1, runId: 'run.1', done: 4, failed: 1, best: 't0002', value: 0.93, dir: grid.dir },
  )
  const bad = await runMalt(['experiments', 'list', '--home', home, '--state', 'done'], { env })
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /--state: expected one of running, finished, failed, killed, received "done"/)
})

test('show prints the summary, environment, best trial, every trial and the failures', async () => {
  const run = await runMalt(['experiments', 'show', '1', '--home', home], { env })
  assert.equal(run.code, 0, run.stderr)
  const out = run.stdout
  assert.match(out, /^experiment 1: mnist \(grid\)\n/)
  assert.match(out, /state +finished\n/)
  assert.match(out, /run +app_20240501_100000_4242\/run\.1\n/)
  assert.match(out, /finished +2024-05-01 10:02:05 \(2m 05s\)\n/)
  assert.match(out, /trials +4: 3 finished, 1 failed\n/)
  assert.match(out, new RegExp(`node +${process.version.replace(/\./g, '\\.')} on ${process.platform} ${process.arch}`))
  assert.match(out, /backend +cpu\n/)
  assert.match(out, /best trial\n +t0002 lr=0\.01&dropout=0\.5: accuracy = 0\.93 \(lr=0\.01, dropout=0\.5\)\n/)
  assert.match(out, /t0003 +lr=0\.1&dropout=0\.6 +failed +- +3 +4\.0 s\n/)
  assert.match(out, /t0002 +lr=0\.01&dropout=0\.5 +finished +0\.93 +2 +4\.0 s\n/)
  assert.match(out, /failures\n +t0002 lr=0\.01&dropout=0\.5 attempt 1 on local-1: crash: executor local-1 exited with code 137\n/)
  assert.match(out, /t0003 lr=0\.1&dropout=0\.6 attempt 3: error: loss is NaN\n/)

  // By <appId>/<runId> and by directory, as JSON: the files' record and the environment.
  const json = await runMalt(['experiments', 'show', 'app_20240501_100000_4242/run.1', '--home', home, '--json'], { env })
  assert.equal(json.code, 0, json.stderr)
  const shown = JSON.parse(json.stdout)
  assert.equal(shown.experiment.id, 1)
  assert.deepEqual(shown.experiment.trials.map((t: TrialRecord) => t.failures.length), [0, 1, 3, 0])
  assert.equal(shown.experiment.trials[2].failures[0].stack, 'Error: loss is NaN')
  assert.equal(shown.environment.node, process.version)
  const byDir = await runMalt(['experiments', 'show', grid.dir, '--home', home, '--json'], { env })
  assert.equal(JSON.parse(byDir.stdout).experiment.name, 'mnist')
})

test('compare sorts the trials by the metric in its direction, failed trials last', async () => {
  const run = await runMalt(['experiments', 'compare', '1', '--home', home], { env })
  assert.equal(run.code, 0, run.stderr)
  const lines = run.stdout.trimEnd().split('\n')
  assert.equal(lines[0], 'experiment 1 mnist: 4 trials by accuracy (highest first)')
  assert.match(lines[1]!, /^TRIAL +STATE +lr +dropout +accuracy ↓ +loss +ATTEMPTS +DURATION$/)
  assert.deepEqual(lines.slice(2).map((line) => line.split(/ +/)[0]), ['t0002', 't0004', 't0001', 't0003'])
  assert.match(lines[2]!, /^t0002 +finished +0\.01 +0\.5 +0\.93 +0\.21 +2 +4\.0 s$/)
  assert.match(lines[5]!, /^t0003 +failed +0\.1 +0\.6 +- +- +3 +4\.0 s$/)

  const byLoss = await runMalt(['experiments', 'compare', '1', '--home', home, '--metric', 'loss', '--direction', 'min', '--json'], { env })
  assert.equal(byLoss.code, 0, byLoss.stderr)
  const compared = JSON.parse(byLoss.stdout)
  assert.deepEqual({ metric: compared.metric, direction: compared.direction, params: compared.params, metrics: compared.metrics },
    { metric: 'loss', direction: 'min', params: ['lr', 'dropout'], metrics: ['loss', 'accuracy'] })
  assert.deepEqual(compared.trials.map((t: { id: string; value?: number }) => [t.id, t.value]), [['t0002', 0.21], ['t0004', 0.3], ['t0001', 0.52], ['t0003', undefined]])

  const unknownMetric = await runMalt(['experiments', 'compare', '1', '--home', home, '--metric', 'f1'], { env })
  assert.equal(unknownMetric.code, 1)
  assert.match(unknownMetric.stderr, /--metric: experiment 1 has no metric "f1"; expected one of accuracy, loss/)
})

test('an unknown id names itself and how to list the experiments', async () => {
  for (const command of ['show', 'compare']) {
    const run = await runMalt(['experiments', command, '42', '--home', home], { env })
    assert.equal(run.code, 1)
    assert.match(run.stderr, /^malt: error: No experiment "42" in .*malt-home: expected an id, <appId>\/<runId> or a run directory; run `malt experiments list --home .*malt-home` to see them\n$/)
  }
  const empty = await runMalt(['experiments', 'list', '--home', temp.join('nowhere')], { env })
  assert.equal(empty.code, 0, empty.stderr)
  assert.match(empty.stdout, /^no experiments in .*nowhere\n$/)
})
