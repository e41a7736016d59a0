// The driver's handling of the workers' messages: live metrics into the history, the callbacks
// and TensorBoard; an epoch's mean once every live worker finished it (then a checkpoint of the
// center and the stop-on-target check); and the averaging rounds of AveragingTrainer.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import type { TrainerCallbacks, TrainingHistory, TrainingRun } from './run.js'
import type { WorkerMessage } from './protocol.js'
import type { TrainingDisplay } from './progress.js'
import { readWeightsFile, writeWeightsFile } from './weights.js'

/** What the handler needs from its trainer. */
export interface HandlerTrainer {
  reachedTarget(logs: Record<string, number>): boolean
  schemeSettings(): { barrier: boolean; initial: number; patience?: number; factor?: number; minDelta?: number; minLearningRate?: number }
  centerModel(run: TrainingRun): Promise<tfjs.LayersModel | undefined>
  modelWith(run: TrainingRun, weights: Float32Array): Promise<tfjs.LayersModel>
  serviceMessage(run: TrainingRun, message: WorkerMessage): Promise<void>
}

/** Mean of each metric over the workers' logs. */
export function meanLogs(logs: readonly Record<string, number>[]): Record<string, number> {
  const keys = Object.keys(logs[0] ?? {})
  return Object.fromEntries(keys.map((key) => [key, logs.reduce((sum, l) => sum + (l[key] ?? NaN), 0) / logs.length]))
}

/** Mean of equal-length weight files. */
async function averageFiles(files: readonly string[]): Promise<Float32Array> {
  const weights = await Promise.all(files.map((file) => readWeightsFile(file)))
  const mean = new Float32Array(weights[0].length)
  for (const w of weights) for (let i = 0; i < mean.length; i++) mean[i] += w[i]
  for (let i = 0; i < mean.length; i++) mean[i] /= weights.length
  return mean
}

/** Handles one run's worker messages, in order (the caller queues them). */
export class MessageHandler {
  /** Workers still running (an asynchronous algorithm goes on without dead ones). */
  readonly alive: Set<number>
  private readonly epochLogs = new Map<number, Record<string, number>[]>()
  private readonly averagedEpochs = new Set<number>()
  private readonly replicas = new Map<number, string[]>()
  private readonly ringAddresses: string[] = []
  private readonly validation = new Map<number, { rows: number; logs: Record<string, number> }[]>()
  /** Worker 0's model after each epoch, where the driver holds no center (single worker, rings). */
  private readonly snapshots = new Map<number, string>()
  /** The learning-rate scheme's state: the rate now, the best validation loss, epochs since it improved. */
  private readonly scheme: ReturnType<HandlerTrainer['schemeSettings']> & { rate: number; best: number; since: number }

  constructor(
    private readonly trainer: HandlerTrainer,
    private readonly run: TrainingRun,
    private readonly history: TrainingHistory,
    private readonly callbacks: TrainerCallbacks | undefined,
    private readonly display: TrainingDisplay | undefined,
    /** The workers of this round (all of them, or a lockstep run's survivors). */
    private readonly members: readonly number[],
  ) {
    this.alive = new Set(members)
    const settings = trainer.schemeSettings()
    this.scheme = { ...settings, rate: settings.initial, best: Infinity, since: 0 }
  }

  async handle(message: WorkerMessage): Promise<void> {
    switch (message.type) {
      case 'started':
        await this.callbacks?.onWorkerStart?.(message.worker, { pid: message.pid, host: message.host })
        return
      case 'batch':
        this.history.workers[message.worker].batches.push({ epoch: message.epoch, batch: message.batch, logs: message.logs })
        await this.run.recorder.batch(message.worker, message.step, message.logs)
        this.display?.batch(message.worker, message.epoch, message.batch, message.logs)
        await this.callbacks?.onBatchEnd?.(message.worker, message.batch, message.logs)
        return
      case 'epoch': {
        this.history.workers[message.worker].epochs.push({ epoch: message.epoch, ...message.logs })
        await this.run.recorder.workerEpoch(message.worker, message.epoch, message.logs)
        const logs = this.epochLogs.get(message.epoch) ?? []
        logs[message.worker] = message.logs
        this.epochLogs.set(message.epoch, logs)
        if (message.snapshot !== undefined) this.snapshots.set(message.epoch, message.snapshot)
        if (message.validation !== undefined) {
          const parts = this.validation.get(message.epoch) ?? []
          parts[message.worker] = message.validation
          this.validation.set(message.epoch, parts)
        }
        await this.completeEpochs()
        return
      }
      case 'ring-address':
        this.ringAddresses[message.rank] = message.address
        if (this.ringAddresses.filter(Boolean).length === this.members.length) {
          // A fresh id per round: a connection meant for an earlier ring is refused.
          this.run.broadcast({ type: 'ring', addresses: [...this.ringAddresses], ringId: `${this.run.dir}#${this.members.join(',')}` })
        }
        return
      case 'ps-lost':
        await this.trainer.serviceMessage(this.run, message)
        return
      case 'replica': {
        const files = this.replicas.get(message.epoch) ?? []
        files[message.worker] = message.file
        this.replicas.set(message.epoch, files)
        if (files.filter(Boolean).length === this.alive.size) {
          const file = join(this.run.workersDir, `center-${message.epoch}.bin`)
          const mean = await averageFiles(files.filter(Boolean))
          await writeWeightsFile(file, mean)
          this.run.center = file
          this.run.broadcast({ type: 'center', epoch: message.epoch, file })
          const model = await this.trainer.modelWith(this.run, mean)
          await this.run.recorder.checkpoint(model, message.epoch)
          model.dispose()
          // The replicas are averaged; the previous center is no longer read by anyone.
          this.replicas.delete(message.epoch)
          await Promise.all([...files.filter(Boolean), join(this.run.workersDir, `center-${message.epoch - 1}.bin`)].map((old) => rm(old, { force: true })))
        }
      }
    }
  }

  /** Closes every epoch all live workers have finished (also called when a worker dies). */
  async completeEpochs(): Promise<void> {
    for (const [epoch, logs] of [...this.epochLogs].sort(([a], [b]) => a - b)) {
      if (this.averagedEpochs.has(epoch) || ![...this.alive].every((worker) => logs[worker] !== undefined)) continue
      this.averagedEpochs.add(epoch)
      const mean = { ...meanLogs(logs.filter(Boolean)), ...this.validationLogs(epoch) }
      this.history.averaged.push({ epoch, ...mean })
      await this.run.recorder.centerEpoch(epoch, mean)
      this.display?.epoch(epoch, mean, this.alive.size)
      // Best effort: a server restarting from its own checkpoint must not fail the run here.
      const snapshot = this.snapshots.get(epoch)
      this.snapshots.delete(epoch)
      const fromSnapshot = async (file: string): Promise<tfjs.LayersModel> => {
        const weights = await readWeightsFile(file)
        await rm(file, { force: true })
        this.run.lastSnapshot = { epoch, weights }
        return this.trainer.modelWith(this.run, weights)
      }
      const center = await (snapshot !== undefined ? fromSnapshot(snapshot) : this.trainer.centerModel(this.run)).catch((error: unknown) => {
        process.stderr.write(`malt: no checkpoint of the center after epoch ${epoch + 1}: ${(error as Error).message}\n`)
        return undefined
      })
      if (center !== undefined) {
        await this.run.recorder.checkpoint(center, epoch)
        center.dispose()
      }
      await this.callbacks?.onEpochEnd?.(epoch, mean, logs)
      const stop = this.trainer.reachedTarget(mean)
      if (this.scheme.barrier) this.run.broadcast({ type: 'continue', epoch, learningRate: this.nextRate(epoch, mean.val_loss), stop })
      else if (stop) this.run.broadcast({ type: 'stop' })
    }
  }

  /** The workers' validation shares combined: each metric's mean over all validation rows. */
  private validationLogs(epoch: number): Record<string, number> {
    const parts = (this.validation.get(epoch) ?? []).filter(Boolean)
    const rows = parts.reduce((sum, part) => sum + part.rows, 0)
    if (rows === 0) return {}
    const keys = Object.keys(parts[0].logs)
    return Object.fromEntries(keys.map((key) => [`val_${key}`, parts.reduce((sum, part) => sum + part.logs[key] * part.rows, 0) / rows]))
  }

  /** The scheme's rate for the next epoch: lowered by `factor` after `patience` epochs without a better validation loss. */
  private nextRate(epoch: number, validationLoss: number | undefined): number {
    const scheme = this.scheme
    if (scheme.patience === undefined || validationLoss === undefined) return scheme.rate
    if (validationLoss < scheme.best - scheme.minDelta!) {
      scheme.best = validationLoss
      scheme.since = 0
    } else if (++scheme.since >= scheme.patience) {
      scheme.rate = Math.max(scheme.minLearningRate!, scheme.rate * scheme.factor!)
      scheme.since = 0
      this.history.learningRates.push({ epoch, learningRate: scheme.rate })
    }
    return scheme.rate
  }
}
