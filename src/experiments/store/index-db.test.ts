// The SQLite experiment index: migrations, reopening, lookups, two processes writing at once,
// and rebuilding the rows from the run files.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import Database from 'better-sqlite3'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import type { ExperimentRecord, TrialRecord } from '../records.js'
import { ExperimentIndex, INDEX_MIGRATIONS, migrate, type ExperimentInput } from './index-db.js'
import { RunStore } from './run-store.js'

const temp = useTempDir()

function trial(n: number, value: number | undefined, state: TrialRecord['state'] = 'finished'): TrialRecord {
  return {
    id: `t000${n}`, name: `lr=${n / 10}`, params: { lr: n / 10, act: 'relu' }, state, ...(value !== undefined ? { value } : {}),
    metrics: value !== undefined ? { accuracy: value, loss: 1 - value } : {}, artifacts: [], attempts: state === 'failed' ? 3 : 1, failures: [],
    startedAt: '2024-05-01T10:00:00.000Z', finishedAt: '2024-05-01T10:00:05.000Z', durationMs: 5000,
  }
}

function input(appId: string, runId: string, runDir: string, extra: Partial<ExperimentInput> = {}): ExperimentInput {
  return { appId, runId, runDir, name: 'mnist', kind: 'grid', state: 'running', metric: 'accuracy', direction: 'max', startedAt: '2024-05-01T10:00:00.000Z', ...extra }
}

test('a new index migrates from empty; reopening keeps rows and applies nothing twice', () => {
  const home = temp.join('fresh')
  const index = new ExperimentIndex(home)
  assert.equal(index.created, true)
  assert.equal(index.path, join(home, 'malt.db'))
  assert.equal(index.schemaVersion(), INDEX_MIGRATIONS.length)
  const id = index.createExperiment(input('app_a', 'run.1', join(home, 'Experiments/app_a/run.1'), { plannedTrials: 6 }))
  assert.equal(id, 1)
  assert.equal(index.createExperiment(input('app_a', 'run.1', join(home, 'Experiments/app_a/run.1'), { state: 'killed' })), 1, 'idempotent per run')
  index.close()

  const again = new ExperimentIndex(home)
  assert.equal(again.created, false)
  assert.equal(again.schemaVersion(), INDEX_MIGRATIONS.length)
  const row = again.getExperiment(1)
  assert.equal(row?.state, 'killed')
  assert.equal(row?.nTrials, 6)
  again.close()
  const db = new Database(join(home, 'malt.db'), { readonly: true })
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM schema_version').get() as { n: number }).n, INDEX_MIGRATIONS.length)
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  db.close()
})

test('an older database is upgraded step by step; a newer one is refused', () => {
  const path = temp.join('old.db')
  const db = new Database(path)
  const steps = [...INDEX_MIGRATIONS, 'ALTER TABLE experiments ADD COLUMN note TEXT']
  assert.equal(migrate(db, INDEX_MIGRATIONS), INDEX_MIGRATIONS.length)
  assert.equal(migrate(db, steps), steps.length)
  assert.equal(migrate(db, steps), steps.length, 'nothing left to apply')
  const columns = (db.prepare("SELECT name FROM pragma_table_info('experiments')").all() as { name: string }[]).map((c) => c.name)
  assert.ok(columns.includes('note'))
  db.close()
  assert.throws(() => new ExperimentIndex(temp.path, { path }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'INDEX_SCHEMA_TOO_NEW')
    assert.match(error.message, new RegExp(`schema version ${steps.length}; this Malt knows versions up to ${INDEX_MIGRATIONS.length}`))
    return true
  })
})

test('rows, trials, filters and the three kinds of reference', () => {
  const home = temp.join('rows')
  const index = new ExperimentIndex(home)
  const dirA = join(home, 'Experiments/app_a/run.1')
  const a = index.createExperiment(input('app_a', 'run.1', dirA, { plannedTrials: 4 }))
  const b = index.createExperiment(input('app_a', 'run.2', join(home, 'Experiments/app_a/run.2'), { name: 'other', kind: 'launch' }))
  index.upsertTrial(a, trial(1, 0.5))
  index.upsertTrial(a, trial(2, undefined, 'failed'))
  index.upsertTrial(a, trial(3, undefined, 'running'))
  index.upsertTrial(a, { ...trial(3, 0.7), attempts: 2 })
  index.updateExperiment(a, { state: 'finished', finishedAt: '2024-05-01T11:00:00.000Z', best: { trialId: 't0003', value: 0.7 } })

  const row = index.getExperiment(a)!
  assert.deepEqual(
    { state: row.state, best: [row.bestTrial, row.bestValue], done: row.trialsDone, failed: row.trialsFailed, total: row.nTrials },
    { state: 'finished', best: ['t0003', 0.7], done: 3, failed: 1, total: 4 },
  )
  assert.equal(index.getExperiment('app_a/run.1')?.id, a)
  assert.equal(index.getExperiment(dirA)?.id, a)
  assert.equal(index.getExperiment(relative(process.cwd(), dirA))?.id, a, 'a relative run dir path')
  assert.equal(index.getExperiment(String(b))?.name, 'other')
  assert.equal(index.getExperiment(99), undefined)
  assert.equal(index.getExperiment('app_a/run.7'), undefined)

  const trials = index.listTrials(a)
  assert.deepEqual(trials.map((t) => [t.trialId, t.state, t.value, t.attempts]), [['t0001', 'finished', 0.5, 1], ['t0002', 'failed', undefined, 3], ['t0003', 'finished', 0.7, 2]])
  assert.deepEqual(trials[0]!.params, { lr: 0.1, act: 'relu' })
  assert.deepEqual(trials[0]!.metrics, { accuracy: 0.5, loss: 0.5 })

  assert.deepEqual(index.listExperiments().map((e) => e.id), [a, b])
  assert.deepEqual(index.listExperiments({ name: 'other' }).map((e) => e.id), [b])
  assert.deepEqual(index.listExperiments({ state: 'finished' }).map((e) => e.id), [a])
  assert.deepEqual(index.listExperiments({ limit: 1 }).map((e) => e.id), [b], 'the latest one')
  assert.throws(() => index.updateExperiment(42, { state: 'failed' }), { code: 'EXPERIMENT_NOT_FOUND' })
  assert.throws(() => index.upsertTrial(42, trial(1, 0.1)), { code: 'EXPERIMENT_NOT_FOUND' })
  index.close()
})

test('two processes writing the same index at once both succeed, with distinct ids', async () => {
  const home = temp.join('concurrent')
  new ExperimentIndex(home).close()
  const moduleUrl = new URL('./index-db.ts', import.meta.url).href
  const worker = temp.file('writer.mts', `
    import { ExperimentIndex } from ${JSON.stringify(moduleUrl)}
    import { existsSync, writeFileSync } from 'node:fs'
    const [home, app, count, other] = process.argv.slice(2)
    const index = new ExperimentIndex(home)
    // A barrier: both writers start together, however late the machine started each process.
    writeFileSync(home + '/ready-' + app, '')
    while (!existsSync(home + '/ready-' + other)) await new Promise((resolve) => setTimeout(resolve, 5))
    const started = Date.now()
    for (let i = 1; i <= Number(count); i++) {
      const id = index.createExperiment({ appId: app, runId: 'run.' + i, runDir: home + '/' + app + '/run.' + i, name: app, kind: 'random',
        state: 'running', metric: 'loss', direction: 'min', startedAt: new Date().toISOString() })
      for (let t = 1; t <= 3; t++) index.upsertTrial(id, { id: 't000' + t, name: 'x=' + t, params: { x: t }, state: 'finished', value: t,
        metrics: { loss: t }, artifacts: [], attempts: 1, failures: [] })
      index.updateExperiment(id, { state: 'finished', best: { trialId: 't0001', value: 1 } })
    }
    index.close()
    process.stdout.write(JSON.stringify({ started, ended: Date.now() }))
  `)
  const run = (app: string, other: string) =>
    new Promise<{ started: number; ended: number }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', worker, home, app, '150', other], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`writer ${app} exited ${code}: ${err}`))))
    })
  const [one, two] = await Promise.all([run('app_one', 'app_two'), run('app_two', 'app_one')])
  assert.ok(one.started < two.ended && two.started < one.ended, 'the writers overlapped in time')
  const index = new ExperimentIndex(home)
  const rows = index.listExperiments()
  assert.equal(rows.length, 300)
  assert.deepEqual(rows.map((r) => r.id), Array.from({ length: 300 }, (_, i) => i + 1))
  assert.ok(rows.every((r) => r.state === 'finished' && r.trialsDone === 3 && r.bestValue === 1))
  assert.equal(index.listExperiments({ name: 'app_two' }).length, 150)
  index.close()
})

test('reindex rebuilds rows from the files, keeping ids, recovering trials and renumbering clashes', async () => {
  const home = temp.join('reindex')
  const make = async (id: number, trials: TrialRecord[], extra: Partial<ExperimentRecord> = {}) => {
    const store = await RunStore.create({ home, name: 'mnist', kind: 'grid', appId: 'app_files' })
    const record: ExperimentRecord = {
      id, appId: store.appId, runId: store.runId, name: 'mnist', kind: 'grid', state: 'finished', metric: 'accuracy', direction: 'max',
      space: {}, options: {}, function: { module: 'file:///t.js', export: 'train' }, versionedResources: [], startedAt: '2024-05-01T10:00:00.000Z',
      trials, ...extra,
    }
    for (const t of trials) await store.writeTrialResult(t)
    await store.writeExperiment(record)
    return store
  }
  const first = await make(5, [trial(1, 0.5), trial(2, 0.6)], { best: { trialId: 't0002', name: 'lr=0.2', value: 0.6, params: {} } })
  const second = await make(9, [trial(1, 0.4)])
  // A crash: t0002's result.json exists, experiment.json never heard of it.
  await second.writeTrialResult(trial(2, 0.95))
  const clash = await make(5, [trial(1, 0.1)])

  const index = await ExperimentIndex.open(home)
  assert.equal(index.created, true)
  assert.equal(index.getExperiment(5)?.runId, first.runId)
  assert.equal(index.getExperiment(9)?.runId, second.runId)
  assert.equal(index.getExperiment(9)?.bestTrial, 't0002', 'the recovered trial is the best')
  assert.equal(index.listTrials(9).length, 2)
  const moved = index.getExperiment(`app_files/${clash.runId}`)!
  assert.equal(moved.id, 10)
  assert.equal(JSON.parse(readFileSync(join(clash.dir, 'experiment.json'), 'utf8')).id, 10, 'experiment.json now says the new id')

  // A run deleted from disk disappears from the index on the next reindex; new ids go on from the highest.
  rmSync(first.dir, { recursive: true })
  const result = await index.reindex()
  assert.deepEqual({ experiments: result.experiments, removed: result.removed, renumbered: result.renumbered }, { experiments: 2, removed: 1, renumbered: [] })
  assert.equal(index.getExperiment(5), undefined)
  assert.equal(index.createExperiment(input('app_new', 'run.1', join(home, 'x'))), 11)
  index.close()
})
