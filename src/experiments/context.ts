// The `ctx` a training function receives: where to write (logdir), how to report intermediate
// results (metrics.jsonl + TensorBoard scalars + the driver's stopping rule), free-text logs,
// and checkpoints that survive a retry of the trial on another executor.
import { appendFile, mkdir, readdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import { MaltError, describeValue } from '../errors.js'
import type { EventWriter } from './tensorboard/index.js'
import type { MetricsLine } from './records.js'
import { encodeMetrics } from './metrics-wire.js'
import type { AblationContext } from './ablation-model.js'
import type { Params } from './types.js'

/** What a training function gets as its second argument. */
export interface TrialContext {
  /** Stable id of the trial within its run, e.g. `t0003`. */
  readonly trialId: string
  /** Readable name of the trial (`lr=0.01&dropout=0.5`), also its directory name. */
  readonly trialName: string
  /** The hyperparameters (the same object as the first argument). */
  readonly params: Params
  /** This attempt's own directory for logs and TensorBoard files (the trial dir on the first attempt). */
  readonly logdir: string
  /** The trial's directory (shared by every attempt): `checkpoints/`, `model/`, `result.json`. */
  readonly trialDir: string
  /** 1 for the first attempt, 2+ for retries and speculative copies. */
  readonly attempt: number
  /** The executor running this attempt, e.g. `local-0`. */
  readonly executorId: string
  /**
   * Records intermediate metrics at `step`: appended to `metrics.jsonl`, written as TensorBoard
   * scalars and sent to the driver, whose stopping rule may then ask the trial to stop.
   * A number is recorded under the search's metric name.
   */
  report(step: number, metrics: Record<string, number> | number): void
  /** True once the driver's stopping rule (median, ASHA) or the driver itself asks this trial to end: return early. */
  shouldStop(): boolean
  /** Appends a line of free text to `log.txt` in the logdir (and to the driver's `onLog`). */
  log(text: string): void
  /** Saves `model` as the trial's newest checkpoint (`checkpoints/ckpt-<n>/`, written atomically); returns its path. */
  checkpoint(model: tfjs.LayersModel): Promise<string>
  /** Loads the newest checkpoint of this trial (from this or an earlier attempt), or undefined when there is none. */
  restore(): Promise<tfjs.LayersModel | undefined>
  /** Saves the final model to the trial's `model/` (kept as an artifact); returns its path. */
  saveModel(model: tfjs.LayersModel): Promise<string>
  /** In an ablation study: what this trial leaves out, the features to use and the reduced model. */
  readonly ablation?: AblationContext
}

/** Messages a trial sends to the driver. */
export type TrialMessage =
  | { type: 'report'; step: number; metrics: Record<string, number | string> }
  | { type: 'log'; text: string }

/** What the context needs from the process running it. */
export interface ContextSetup {
  trialId: string
  trialName: string
  params: Params
  logdir: string
  trialDir: string
  attempt: number
  executorId: string
  metricName: string
  ablation?: AblationContext
  events: EventWriter
  send(message: TrialMessage): void
}

const CHECKPOINT_PREFIX = 'ckpt-'

/**
 * Saves `model` as the directory `target`, replacing what was there: written under `temporary`
 * first and renamed, so a reader never sees half a model.
 */
export async function saveModelReplacing(model: tfjs.LayersModel, target: string, temporary: string): Promise<void> {
  await rm(temporary, { recursive: true, force: true })
  await model.save(`file://${temporary}`)
  await rm(target, { recursive: true, force: true })
  await rename(temporary, target)
}

/** Builds a context; `stop()` on the returned handle makes `shouldStop()` true; `flush()` waits for pending writes. */
export function createTrialContext(setup: ContextSetup): { ctx: TrialContext; stop(): void; flush(): Promise<void>; lastStep(): number } {
  let stopRequested = false
  let lastStep = -Infinity
  // Writes are chained so metrics.jsonl keeps report order without making report() async.
  let pending: Promise<unknown> = Promise.resolve()
  let writeError: unknown
  const enqueue = (work: () => Promise<unknown>): void => {
    pending = pending.then(work).catch((error: unknown) => {
      writeError ??= error
    })
  }
  const checkpointsDir = join(setup.trialDir, 'checkpoints')

  const ctx: TrialContext = {
    trialId: setup.trialId,
    trialName: setup.trialName,
    params: setup.params,
    logdir: setup.logdir,
    trialDir: setup.trialDir,
    attempt: setup.attempt,
    executorId: setup.executorId,
    ablation: setup.ablation,
    report(step, metrics) {
      if (!Number.isFinite(step)) {
        throw new MaltError('EXPERIMENT_BAD_REPORT', `ctx.report: step must be a finite number; received ${describeValue(step)}`)
      }
      if (step <= lastStep) {
        throw new MaltError(
          'EXPERIMENT_BAD_REPORT',
          `ctx.report: steps must increase; received step ${step} after step ${lastStep}`,
        )
      }
      const record = typeof metrics === 'number' ? { [setup.metricName]: metrics } : metrics
      for (const [name, value] of Object.entries(record)) {
        if (typeof value !== 'number') {
          throw new MaltError(
            'EXPERIMENT_BAD_REPORT',
            `ctx.report: metric ${JSON.stringify(name)} must be a number; received ${describeValue(value)}`,
          )
        }
      }
      lastStep = step
      const line: MetricsLine = { step, time: Date.now(), metrics: { ...record } }
      setup.events.scalars(step, record)
      enqueue(() => appendFile(join(setup.logdir, 'metrics.jsonl'), `${JSON.stringify(line)}\n`))
      setup.send({ type: 'report', step, metrics: encodeMetrics(line.metrics) })
    },
    shouldStop: () => stopRequested,
    log(text) {
      const line = String(text)
      enqueue(() => appendFile(join(setup.logdir, 'log.txt'), `${new Date().toISOString()} ${line}\n`))
      setup.send({ type: 'log', text: line })
    },
    async checkpoint(model) {
      await loadTf() // registers file:// saving when the function used @tensorflow/tfjs directly
      await mkdir(checkpointsDir, { recursive: true })
      const number = (await listCheckpoints(checkpointsDir)).reduce((max, entry) => Math.max(max, entry.number), 0) + 1
      const name = `${CHECKPOINT_PREFIX}${String(number).padStart(4, '0')}`
      // Saved under a temporary name and renamed: restore() never sees a half-written checkpoint.
      const temporary = join(checkpointsDir, `.tmp-${name}-a${setup.attempt}-${process.pid}`)
      await model.save(`file://${temporary}`)
      const target = join(checkpointsDir, name)
      try {
        await rename(temporary, target)
      } catch (error) {
        // A speculative copy of this trial took the same number first: keep its checkpoint.
        await rm(temporary, { recursive: true, force: true })
        if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      return target
    },
    async restore() {
      const checkpoints = await listCheckpoints(checkpointsDir)
      const newest = checkpoints.at(-1)
      if (newest === undefined) return undefined
      const tf = await loadTf()
      return tf.loadLayersModel(`file://${join(checkpointsDir, newest.name, 'model.json')}`)
    },
    async saveModel(model) {
      await loadTf()
      const target = join(setup.trialDir, 'model')
      await saveModelReplacing(model, target, join(setup.trialDir, `.tmp-model-a${setup.attempt}-${process.pid}`))
      return target
    },
  }
  return {
    ctx,
    stop: () => {
      stopRequested = true
    },
    lastStep: () => (Number.isFinite(lastStep) ? lastStep : 0),
    flush: async () => {
      await pending
      await setup.events.flush()
      if (writeError !== undefined) throw writeError
    },
  }
}

async function loadTf(): Promise<typeof tfjs> {
  const backend = await import('../backend/index.js')
  await backend.ready()
  return backend.tf
}

async function listCheckpoints(dir: string): Promise<{ name: string; number: number }[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  return names
    .filter((name) => name.startsWith(CHECKPOINT_PREFIX))
    .map((name) => ({ name, number: Number(name.slice(CHECKPOINT_PREFIX.length)) }))
    .filter((entry) => Number.isInteger(entry.number))
    .sort((a, b) => a.number - b.number)
}
