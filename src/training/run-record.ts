// A distributed training run recorded as an experiment run (kind 'distributed'): the run
// directory and index row of the experiments store, one trial `train` holding TensorBoard
// scalars per worker (`worker-<i>/`) and for the center variable (`center/`), a checkpoint of the
// center after every epoch where the algorithm has one, and the final model in `model/` — so
// `malt experiments list/show`, TensorBoard and `malt models export --experiment ID` work on it.
import { hostname } from 'node:os'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import { MaltError } from '../errors.js'
import { bestTrial } from '../experiments/best.js'
import { saveModelReplacing } from '../experiments/context.js'
import type { ExperimentRecord, ExperimentState, TrialRecord } from '../experiments/records.js'
import { ExperimentIndex } from '../experiments/store/index-db.js'
import { RunStore } from '../experiments/store/run-store.js'
import { EventWriter } from '../experiments/tensorboard/index.js'
import type { Params } from '../experiments/types.js'
import type { Algorithm } from './protocol.js'

/** The trial every distributed run has. */
export const TRAINING_TRIAL = 'train'

/** Where a distributed run's record lives, and its writers. */
export class TrainingRecorder {
  private readonly writers = new Map<string, Promise<EventWriter>>()
  private checkpoints = 0

  private constructor(
    private readonly store: RunStore,
    private readonly index: ExperimentIndex,
    private readonly record: ExperimentRecord,
    private readonly trial: TrialRecord,
  ) {}

  /** Creates the run (experiment.json, environment, index row) and its running `train` trial. */
  static async start(options: { home: string; name: string; algorithm: Algorithm; trainer: string; params: Params; metric: string }): Promise<TrainingRecorder> {
    const store = await RunStore.create({ home: options.home, name: options.name, kind: 'distributed' })
    const index = await ExperimentIndex.open(store.home)
    const startedAt = new Date().toISOString()
    const trial: TrialRecord = { id: 't0001', name: TRAINING_TRIAL, params: options.params, state: 'running', metrics: {}, artifacts: [], attempts: 1, attempt: 1, failures: [], startedAt }
    const record: ExperimentRecord = {
      id: 0,
      appId: store.appId,
      runId: store.runId,
      name: options.name,
      kind: 'distributed',
      state: 'running',
      metric: options.metric,
      direction: 'min',
      space: {},
      options: { algorithm: options.algorithm, ...options.params },
      // Not a user function: the trainer that ran (resume refuses distributed runs by kind).
      function: { module: 'malt:training', export: options.trainer },
      versionedResources: [],
      startedAt,
      driver: { host: hostname(), pid: process.pid },
      trials: [trial],
    }
    try {
      await store.captureEnvironment()
      await store.writeTrialParams(trial)
      record.id = index.syncExperiment({ ...record, runDir: store.dir, plannedTrials: 1 })
      await store.writeExperiment(record)
    } catch (error) {
      index.close()
      throw error
    }
    return new TrainingRecorder(store, index, record, trial)
  }

  /** The experiment's id in the index (what `malt experiments show` takes). */
  get id(): number {
    return this.record.id
  }

  /** The `train` trial's directory: the workers' files go in its `workers/`. */
  get trialDir(): string {
    return this.store.trialDir(TRAINING_TRIAL)
  }

  private writer(name: string): Promise<EventWriter> {
    let writer = this.writers.get(name)
    if (writer === undefined) {
      writer = EventWriter.create(join(this.trialDir, name))
      this.writers.set(name, writer)
    }
    return writer
  }

  /** A worker's live batch metrics at its global step. */
  async batch(worker: number, step: number, logs: Record<string, number>): Promise<void> {
    const writer = await this.writer(`worker-${worker}`)
    writer.scalars(step, Object.fromEntries(Object.entries(logs).map(([key, value]) => [`batch/${key}`, value])))
  }

  /** A worker's epoch metrics. */
  async workerEpoch(worker: number, epoch: number, logs: Record<string, number>): Promise<void> {
    const writer = await this.writer(`worker-${worker}`)
    writer.scalars(epoch, Object.fromEntries(Object.entries(logs).map(([key, value]) => [`epoch/${key}`, value])))
  }

  /** The center variable's epoch metrics (the workers' mean, and validation metrics when measured). */
  async centerEpoch(epoch: number, logs: Record<string, number>): Promise<void> {
    const writer = await this.writer('center')
    writer.scalars(epoch, Object.fromEntries(Object.entries(logs).map(([key, value]) => [`epoch/${key}`, value])))
  }

  /** Saves the center after `epoch` as `checkpoints/ckpt-<epoch>/` (written beside, then renamed into place). */
  async checkpoint(model: tfjs.LayersModel, epoch: number): Promise<string> {
    const dir = join(this.trialDir, 'checkpoints')
    const target = join(dir, `ckpt-${epoch}`)
    await mkdir(dir, { recursive: true })
    await saveModelReplacing(model, target, join(dir, `.ckpt-${epoch}.tmp`))
    this.checkpoints++
    return target
  }

  /** Ends the run: the final model(s) saved, result.json, experiment.json and the index row updated. */
  async finish(state: ExperimentState, outcome: { metrics?: Record<string, number>; models?: tfjs.LayersModel[]; error?: unknown }): Promise<void> {
    try {
      const finishedAt = new Date().toISOString()
      const trial = this.trial
      if (outcome.models !== undefined) {
        for (const [i, model] of outcome.models.entries()) {
          const name = outcome.models.length === 1 ? 'model' : `model-${i}`
          await model.save(`file://${join(this.trialDir, name)}`)
          trial.artifacts.push(name)
        }
      }
      trial.metrics = Object.fromEntries(Object.entries(outcome.metrics ?? {}).filter(([, v]) => Number.isFinite(v)))
      trial.value = trial.metrics[this.record.metric]
      trial.state = state === 'finished' ? 'finished' : 'failed'
      if (outcome.error !== undefined) {
        const error = outcome.error as { code?: string; message?: string }
        trial.failures.push({ reason: error instanceof MaltError && error.code === 'TRAIN_INTERRUPTED' ? 'cancelled' : 'error', message: String(error.message ?? error), attempt: 1 })
      }
      trial.finishedAt = finishedAt
      trial.durationMs = Date.parse(finishedAt) - Date.parse(trial.startedAt!)
      await this.store.writeTrialResult(trial)
      this.record.state = state
      this.record.finishedAt = finishedAt
      this.record.best = bestTrial([trial], this.record.direction)
      await this.store.writeExperiment(this.record)
      this.index.syncExperiment({ ...this.record, runDir: this.store.dir, plannedTrials: 1 })
    } finally {
      await Promise.all([...this.writers.values()].map(async (writer) => (await writer).close()))
      this.index.close()
    }
  }
}
