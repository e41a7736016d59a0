// End to end, as a user runs them: launch and the searches on real executor processes, with
// every run's files, the index and the TensorBoard logs checked on disk.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { experiment } from '../../src/index.js'
import { ExperimentIndex } from '../../src/experiments/store/index-db.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { bareNumber, curves, quadratic, throwsForTwo, notExported } from '../fixtures/experiment-functions.js'
import type { ExperimentRecord, TrialRecord } from '../../src/experiments/records.js'

const temp = useTempDir()
const home = temp.join('home')
const common = { home, progress: false, executors: 2 } as const

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T
}

test('gridSearch runs the cartesian product on 2 executors and records every trial', async () => {
  const result = await experiment.gridSearch(quadratic, { x: [0.1, 0.3, 0.5], y: [1, 2] }, { ...common, metric: 'score', direction: 'max' })
  assert.equal(result.state, 'finished')
  assert.equal(result.trials.length, 6)
  assert.deepEqual(
    result.trials.map((t) => t.name),
    ['x=0.1&y=1', 'x=0.1&y=2', 'x=0.3&y=1', 'x=0.3&y=2', 'x=0.5&y=1', 'x=0.5&y=2'],
  )
  assert.ok(result.trials.every((t) => t.state === 'finished'))
  assert.deepEqual(result.best?.params, { x: 0.3, y: 1 })
  assert.equal(result.best?.value, 0)

  const record = readJson<ExperimentRecord>(join(result.runDir, 'experiment.json'))
  assert.equal(record.state, 'finished')
  assert.equal(record.kind, 'grid')
  assert.equal(record.best?.name, 'x=0.3&y=1')
  assert.deepEqual(record.function.export, 'quadratic')
  assert.ok(existsSync(join(result.runDir, 'environment.json')))

  const trialDir = join(result.runDir, 'x=0.3&y=1')
  const files = readdirSync(trialDir)
  for (const name of ['params.json', 'result.json', 'metrics.jsonl', 'stdout.log', 'notes.txt']) assert.ok(files.includes(name), `${name} in ${files}`)
  assert.ok(files.some((name) => name.startsWith('events.out.tfevents.')), 'a TensorBoard event file')
  assert.deepEqual(readJson<{ params: unknown }>(join(trialDir, 'params.json')).params ?? readJson(join(trialDir, 'params.json')), { x: 0.3, y: 1 })
  const trial = readJson<TrialRecord>(join(trialDir, 'result.json'))
  assert.equal(trial.state, 'finished')
  assert.deepEqual(trial.artifacts, ['notes.txt'])
  const lines = readFileSync(join(trialDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { step: number })
  assert.deepEqual(lines.map((line) => line.step), [1, 2, 3])
  assert.match(readFileSync(join(trialDir, 'stdout.log'), 'utf8'), /quadratic x=0\.3 y=1 score=0/)
  assert.ok(readdirSync(result.runDir).some((name) => name.startsWith('events.out.tfevents.')), 'hparams experiment summary in the run dir')

  const index = await ExperimentIndex.open(home)
  try {
    const row = index.getExperiment(result.id)
    assert.equal(row?.state, 'finished')
    assert.equal(index.listTrials(result.id).length, 6)
  } finally {
    index.close()
  }
})

test('launch zips lists (HopsML semantics) and names a bare number `metric`', async () => {
  const result = await experiment.launch(bareNumber, { ...common, params: { a: [1, 2], b: [5, 3] } })
  assert.deepEqual(result.trials.map((t) => t.params), [{ a: 1, b: 5 }, { a: 2, b: 3 }])
  assert.deepEqual(result.trials.map((t) => t.value), [15, 23])
  assert.equal(result.metric, 'metric')
  assert.equal(result.best?.value, 23)
})

test('a training function that throws fails its trial, with the stack, not the search', async () => {
  // No speculative copies: under load the throwing trial can be the slowest one left, and a copy
  // of it would count as a second attempt (that is speculation, not a retry).
  const result = await experiment.gridSearch(throwsForTwo, { x: [1, 2, 3] }, { ...common, direction: 'min', speculative: false })
  assert.equal(result.state, 'finished')
  const failed = result.trials.find((t) => t.params.x === 2)
  assert.equal(failed?.state, 'failed')
  assert.equal(failed?.attempts, 1, 'an error in the function is not retried')
  assert.equal(failed?.failures[0].reason, 'error')
  assert.match(failed?.failures[0].message ?? '', /x = 2 is not allowed/)
  assert.match(failed?.failures[0].stack ?? '', /experiment-functions\.ts/)
  assert.equal(result.best?.value, 1)
})

test('random, evolutionary and Bayesian searches stay in bounds and keep integers integral', async () => {
  const space = { x: experiment.float(0, 1), y: [1, 5] }
  const random = await experiment.randomSearch(quadratic, space, { ...common, metric: 'score', trials: 6, seed: 3 })
  const de = await experiment.evolutionarySearch(quadratic, space, { ...common, metric: 'score', generations: 1, population: 4, seed: 1 })
  const tpe = await experiment.bayesianSearch(quadratic, space, { ...common, metric: 'score', trials: 8, nStartupTrials: 4, seed: 2 })
  for (const result of [random, de, tpe]) {
    assert.equal(result.state, 'finished')
    for (const trial of result.trials) {
      const { x, y } = trial.params as { x: number; y: number }
      assert.ok(x >= 0 && x <= 1, `x=${x} in [0, 1]`)
      assert.ok(Number.isInteger(y) && y >= 1 && y <= 5, `y=${y} an integer in [1, 5]`)
    }
  }
  assert.equal(random.trials.length, 6)
  assert.equal(new Set(random.trials.map((t) => JSON.stringify(t.params))).size, 6, 'random search never repeats')
  assert.ok(de.trials.length <= 8)
  assert.equal(tpe.trials.length, 8)
})

test('the median rule stops trials whose curves fall behind', async () => {
  const result = await experiment.gridSearch(
    curves,
    { quality: [1, 0.9, 0.8, 0.5, 0.4, 0.2, 0.1] },
    { ...common, metric: 'acc', stopping: new experiment.MedianStoppingRule({ nStartupTrials: 2, nWarmupSteps: 2 }) },
  )
  const stopped = result.trials.filter((t) => t.state === 'stopped')
  assert.ok(stopped.length >= 2, `some trials stopped early: ${result.trials.map((t) => `${t.params.quality}:${t.state}`).join(' ')}`)
  for (const trial of stopped) {
    assert.equal(trial.earlyStopped, true)
    assert.ok((trial.metrics.steps ?? 20) < 20, 'a stopped trial returned before its last step')
    assert.ok(Number(trial.params.quality) < 1, 'the best curve is never stopped')
  }
  assert.equal(result.best?.params.quality, 1)
})

test('bad spaces and options are rejected before any trial starts, naming the key', async () => {
  const before = existsSync(home) ? readdirSync(join(home, 'Experiments')).length : 0
  await assert.rejects(experiment.gridSearch(quadratic, { x: [] }, common), (error: Error & { code?: string }) => error.code === 'EXPERIMENT_BAD_SPACE' && /x/.test(error.message))
  await assert.rejects(experiment.randomSearch(quadratic, { lr: [0.1, 0.01] }, common), /lr/)
  await assert.rejects(experiment.randomSearch(quadratic, { lr: ['a', 1] as never }, { ...common, trials: 2 }), (error: Error & { code?: string }) => error.code !== undefined)
  await assert.rejects(experiment.gridSearch(quadratic, { x: [1] }, { ...common, direction: 'up' as never }), /direction.*'max' or 'min'/)
  await assert.rejects(experiment.randomSearch(quadratic, { x: experiment.float(1, 0) }, common), /x/)
  await assert.rejects(experiment.gridSearch(notExported(), { x: [1] }, common), (error: Error & { code?: string }) => error.code === 'EXPERIMENT_FUNCTION_NOT_EXPORTED')
  const after = existsSync(home) ? readdirSync(join(home, 'Experiments')).length : 0
  assert.equal(after, before, 'no run directory was created')
})

test('a search whose function lacks the named metric stops with a clear error', async () => {
  await assert.rejects(
    experiment.gridSearch(quadratic, { x: [0.1] }, { ...common, metric: 'accuracy' }),
    /returned metrics score, loss but the search optimises "accuracy"/,
  )
})
