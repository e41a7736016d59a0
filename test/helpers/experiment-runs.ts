// Fabricated experiment runs on disk (experiment.json and each trial's metrics.jsonl, as
// src/experiments/records.ts lays them out) for the report tests: realistic searches with
// learning curves, failures, NaN values and early stops, all deterministic.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ExperimentRecord, MetricsLine, TrialRecord } from '../../src/experiments/records.js'
import type { Params } from '../../src/experiments/types.js'
import { SeededRandom } from '../../src/util/random.js'

/** Writes `record` as `<dir>/experiment.json` and each trial's metrics.jsonl (raw text when given a string). */
export function writeRun(dir: string, record: ExperimentRecord, metrics: Record<string, MetricsLine[] | string> = {}): string {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'experiment.json'), `${JSON.stringify(record, null, 2)}\n`)
  for (const [trialName, lines] of Object.entries(metrics)) {
    const trialDir = join(dir, trialName)
    mkdirSync(trialDir, { recursive: true })
    const text = typeof lines === 'string' ? lines : lines.map((l) => `${JSON.stringify(l)}\n`).join('')
    writeFileSync(join(trialDir, 'metrics.jsonl'), text)
  }
  return dir
}

/** A record with sensible defaults around the given trials. */
export function experimentRecord(trials: TrialRecord[], overrides: Partial<ExperimentRecord> = {}): ExperimentRecord {
  return {
    id: 7,
    appId: 'app_20240501_120000_4242',
    runId: 'run.1',
    name: 'fashion-mnist',
    kind: 'grid',
    state: 'finished',
    metric: 'accuracy',
    direction: 'max',
    space: {},
    options: {},
    function: { module: 'file:///work/train.ts', export: 'train' },
    versionedResources: ['train.ts'],
    startedAt: '2024-05-01T12:00:00.000Z',
    finishedAt: '2024-05-01T12:41:30.000Z',
    trials,
    ...overrides,
  }
}

/** A trial record; `value` becomes both the search value and `metrics.accuracy`. */
export function trialRecord(index: number, params: Params, value: number | undefined, extra: Partial<TrialRecord> = {}): TrialRecord {
  const name = Object.entries(params).map(([k, v]) => `${k}=${v}`).join('&')
  return {
    id: `t${String(index).padStart(4, '0')}`,
    name,
    params,
    state: value === undefined ? 'failed' : 'finished',
    value,
    metrics: value === undefined ? {} : { accuracy: value },
    artifacts: [],
    attempts: 1,
    attempt: value === undefined ? undefined : 1,
    executor: `local-${(index % 2) + 1}`,
    failures: [],
    startedAt: '2024-05-01T12:00:00.000Z',
    finishedAt: '2024-05-01T12:03:20.000Z',
    durationMs: 200_000,
    ...extra,
  }
}

/** Learning curves of a model that reaches `quality` accuracy; `diverge` makes the loss NaN from that step on. */
function curves(random: SeededRandom, quality: number, steps: number, speed: number, diverge?: number): MetricsLine[] {
  const lines: MetricsLine[] = []
  for (let step = 1; step <= steps; step++) {
    const progress = 1 - Math.exp(-step / speed)
    const accuracy = 0.1 + (quality - 0.1) * progress + (random.next() - 0.5) * 0.012
    const loss = diverge !== undefined && step >= diverge ? NaN : -Math.log(Math.max(accuracy, 0.05)) * 1.1 + (random.next() - 0.5) * 0.02
    const valAccuracy = accuracy - 0.015 - 0.02 * progress * random.next()
    lines.push({ step, time: 1714564800000 + step * 10_000, metrics: { accuracy, loss, val_accuracy: valAccuracy, val_loss: loss + 0.04 * progress } })
  }
  return lines
}

/**
 * A finished 12-trial grid search (lr × optimizer) with 20 epochs of curves: lr=0.1 with sgd
 * diverges (NaN loss, then the trial fails), one trial is stopped early by the median rule.
 */
export function gridSearchRun(dir: string): string {
  const random = new SeededRandom(11)
  const lrs = [0.0001, 0.001, 0.01, 0.1]
  const optimizers = ['adam', 'sgd', 'rmsprop']
  const trials: TrialRecord[] = []
  const metrics: Record<string, MetricsLine[]> = {}
  let index = 1
  for (const lr of lrs) {
    for (const optimizer of optimizers) {
      const best = optimizer === 'sgd' ? 0.01 : 0.001
      const quality = 0.9 - 0.06 * Math.abs(Math.log10(lr) - Math.log10(best)) ** 1.4 - (optimizer === 'rmsprop' ? 0.01 : 0)
      const failing = lr === 0.1 && optimizer === 'sgd'
      const stopped = lr === 0.0001 && optimizer === 'sgd'
      const steps = failing ? 6 : stopped ? 8 : 20
      const lines = curves(random, quality, steps, optimizer === 'sgd' ? 6 : 3.5, failing ? 4 : undefined)
      const last = lines[lines.length - 1].metrics
      const extra: Partial<TrialRecord> = failing
        ? { state: 'failed', attempts: 2, failures: [
          { reason: 'error', message: 'loss became NaN at step 4', stack: 'Error: loss became NaN at step 4\n    at train (file:///work/train.ts:42:11)', executor: 'local-1', attempt: 1 },
          { reason: 'error', message: 'loss became NaN at step 4', executor: 'local-2', attempt: 2 },
        ] }
        : { metrics: { accuracy: last.accuracy, loss: last.loss, val_accuracy: last.val_accuracy }, state: stopped ? 'stopped' : 'finished', earlyStopped: stopped }
      trials.push(trialRecord(index, { lr, optimizer }, failing ? undefined : last.accuracy, { durationMs: 60_000 + steps * 9_000, ...extra }))
      const trial = trials[trials.length - 1]
      // A retried trial's kept (here: last) attempt writes its logs in attempt-<k>/.
      if (failing) metrics[trial.name] = curves(random, 0.5, 12, 3)
      metrics[failing ? `${trial.name}/attempt-2` : trial.name] = lines
      index++
    }
  }
  const ranked = trials.filter((t) => t.state === 'finished').sort((a, b) => b.value! - a.value!)
  const best = ranked[0]
  return writeRun(dir, experimentRecord(trials, {
    space: { lr: lrs, optimizer: optimizers },
    best: { trialId: best.id, name: best.name, value: best.value!, params: best.params },
  }), metrics)
}

/** A 120-trial random search over four hyperparameters (a log-range float among them), ~10% failed. */
export function manyTrialsRun(dir: string, count = 120): string {
  const random = new SeededRandom(5)
  const trials: TrialRecord[] = []
  const metrics: Record<string, MetricsLine[]> = {}
  const activations = ['relu', 'tanh', 'gelu', 'sigmoid']
  for (let i = 1; i <= count; i++) {
    const lr = Number((10 ** (-5 + 4 * random.next())).toPrecision(3))
    const layers = 1 + random.nextInt(5)
    const dropout = Number((random.next() * 0.6).toFixed(2))
    const activation = activations[random.nextInt(activations.length)]
    const quality = 0.92 - 0.05 * Math.abs(Math.log10(lr) + 3) - 0.08 * Math.abs(dropout - 0.3) - (activation === 'sigmoid' ? 0.05 : 0) - 0.01 * Math.abs(layers - 3)
    const failing = random.next() < 0.1
    const lines = curves(random, quality, failing ? 3 : 15, 4)
    const params = { lr, layers, dropout, activation }
    const extra: Partial<TrialRecord> = failing ? { state: 'failed', failures: [{ reason: 'crash', message: 'executor exited with code 137 (out of memory)', attempt: 1 }] } : {}
    const trial = trialRecord(i, params, failing ? undefined : lines[lines.length - 1].metrics.accuracy, extra)
    trial.name = `${trial.id}-lr=${lr}&layers=${layers}&dropout=${dropout}&activation=${activation}`
    trials.push(trial)
    metrics[trial.name] = lines
  }
  const best = trials.filter((t) => t.value !== undefined).sort((a, b) => b.value! - a.value!)[0]
  return writeRun(dir, experimentRecord(trials, {
    name: 'wide random search',
    kind: 'random',
    space: { lr: { type: 'float', min: 1e-5, max: 0.1, log: true }, layers: { type: 'int', min: 1, max: 5 }, dropout: { type: 'float', min: 0, max: 0.6 }, activation: { type: 'categorical', choices: activations } },
    best: { trialId: best.id, name: best.name, value: best.value!, params: best.params },
  }), metrics)
}
