// Fault tolerance with real processes: a crashing executor (retry elsewhere, blacklist, no lost
// results), time-outs, a straggler beaten by its speculative copy, checkpoints across attempts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { experiment } from '../../src/index.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { checkpointing, crashesForTwo, crashesOnExecutorOne, hangsOnFirstAttempt, nanForTwo, straggler } from '../fixtures/experiment-functions.js'
import { spawnSync } from 'node:child_process'
import type { ExperimentRecord, TrialRecord } from '../../src/experiments/records.js'

const temp = useTempDir()
const common = { home: temp.join('home'), progress: false, executors: 2 } as const

test('an executor that keeps crashing is blacklisted; its trials are retried elsewhere and none is lost', async () => {
  const result = await experiment.gridSearch(crashesOnExecutorOne, { x: [1, 2, 3, 4, 5, 6] }, { ...common, speculative: false })
  assert.equal(result.state, 'finished')
  assert.equal(result.trials.length, 6)
  assert.ok(result.trials.every((t) => t.state === 'finished'), result.trials.map((t) => `${t.name}:${t.state}`).join(' '))
  assert.deepEqual(result.trials.map((t) => t.value).sort(), [1, 2, 3, 4, 5, 6])
  const failures = result.trials.flatMap((t) => t.failures)
  const crashed = failures.filter((failure) => failure.reason === 'crash')
  assert.ok(crashed.length >= 1, 'at least one attempt crashed on local-1')
  for (const failure of failures) {
    assert.equal(failure.executor, 'local-1')
    // A crash, or a trial that was running on local-1 when it was blacklisted (cancelled, then retried elsewhere).
    if (failure.reason === 'crash') assert.match(failure.message, /exit code 9|code 9/)
    else assert.deepEqual([failure.reason, /retired/.test(failure.message)], ['cancelled', true], failure.message)
  }
  // blacklistAfter 2: local-1 takes at most two trials before it is retired.
  assert.ok(crashed.length <= 2, `local-1 crashed ${crashed.length} times before the blacklist`)
  for (const trial of result.trials) assert.equal(trial.executor, 'local-0', `${trial.name} finished on local-0`)
  // Every trial's result is on disk, and experiment.json agrees.
  const record = JSON.parse(readFileSync(join(result.runDir, 'experiment.json'), 'utf8')) as ExperimentRecord
  assert.equal(record.trials.filter((t) => t.state === 'finished').length, 6)
  for (const trial of result.trials) {
    const stored = JSON.parse(readFileSync(join(result.runDir, trial.name, 'result.json'), 'utf8')) as TrialRecord
    assert.equal(stored.value, trial.value)
    if (trial.failures.length > 0) assert.ok(existsSync(join(result.runDir, trial.name, `attempt-${stored.attempt}`)), 'the retry logged in attempt-N')
  }
})

test('a trial over its time limit is killed and retried; with no retries left it fails as timeout', async () => {
  const retried = await experiment.gridSearch(hangsOnFirstAttempt, { x: [1] }, { ...common, trialTimeout: 1500, speculative: false })
  const trial = retried.trials[0]
  assert.equal(trial.state, 'finished')
  assert.equal(trial.attempts, 2)
  assert.equal(trial.failures[0].reason, 'timeout')

  const failed = await experiment.gridSearch(hangsOnFirstAttempt, { x: [1] }, { ...common, trialTimeout: 1500, maxRetries: 0, speculative: false })
  assert.equal(failed.trials[0].state, 'failed')
  assert.equal(failed.trials[0].failures[0].reason, 'timeout')
  assert.match(failed.trials[0].failures[0].message, /time limit/)
})

test('an idle executor at the end runs a speculative copy of the straggler; the first result wins', async () => {
  const started = Date.now()
  const result = await experiment.gridSearch(straggler, { x: [0, 1, 2, 3] }, common)
  const elapsed = Date.now() - started
  const slow = result.trials.find((t) => t.params.x === 0)
  assert.equal(slow?.state, 'finished')
  assert.equal(slow?.attempt, 2, 'the copy (attempt 2) won')
  assert.ok(elapsed < 9000, `the search did not wait for the 10 s straggler (${elapsed} ms)`)
})

test('checkpoints survive into the next attempt; ctx.log and saveModel write into the trial', async () => {
  const result = await experiment.launch(checkpointing, { ...common, params: { x: 1 } })
  const trial = result.trials[0]
  assert.equal(trial.state, 'finished')
  assert.equal(trial.metrics.restored, 8, 'the checkpoint reloads with its 8 parameters')
  const dir = join(result.runDir, trial.name)
  assert.ok(existsSync(join(dir, 'checkpoints', 'ckpt-0001', 'model.json')))
  assert.ok(existsSync(join(dir, 'model', 'model.json')))
  assert.match(readFileSync(join(dir, 'log.txt'), 'utf8'), /restored: false/)
})

test('a trial that crashes on every executor fails after its retries; no executor is blamed, the rest run', async () => {
  const result = await experiment.gridSearch(crashesForTwo, { x: [2, 1, 3, 4] }, { ...common, speculative: false })
  assert.equal(result.state, 'finished')
  const bad = result.trials.find((t) => t.params.x === 2)
  assert.equal(bad?.state, 'failed')
  assert.equal(bad?.attempts, 3, 'the first attempt and maxRetries (2) retries')
  assert.deepEqual(new Set(bad?.failures.map((f) => f.executor)), new Set(['local-0', 'local-1']), 'retried on the other executor too')
  assert.ok(result.trials.filter((t) => t.params.x !== 2).every((t) => t.state === 'finished'))
})

test('a NaN metric fails its trial (a diverged run), not the search', async () => {
  const result = await experiment.gridSearch(nanForTwo, { x: [1, 2, 3] }, { ...common, metric: 'acc' })
  assert.equal(result.state, 'finished')
  const diverged = result.trials.find((t) => t.params.x === 2)
  assert.equal(diverged?.state, 'failed')
  assert.match(diverged?.failures[0].message ?? '', /acc = NaN/)
  assert.equal(result.best?.value, 0.3)
})

test('a script may define two functions and launch both at its top level', () => {
  const run = spawnSync(process.execPath, ['--import', 'tsx', new URL('../fixtures/two-experiments.ts', import.meta.url).pathname, temp.join('two')], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  assert.equal(run.status, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? ''), { first: [10], second: [3, 6], states: ['finished', 'finished'] })
})
