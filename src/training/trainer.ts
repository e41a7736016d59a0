// The driver side of distributed training: checks the options, saves the model and deals the
// data into one shard per worker, starts the workers as executor tasks, relays their live metrics
// to callbacks, runs the algorithm's driver part (averaging rounds, a parameter server), and
// rebuilds the trained model. Interrupting it (Ctrl-C, an exception in a callback) stops every
// process it started and frees their ports.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type * as tfjs from '@tensorflow/tfjs'
import { tf, ready } from '../backend/index.js'
import { LocalProcessPool } from '../cluster/local/pool.js'
import type { Executor, JsonValue, RunnerRef, RunningTask, TaskOutcome } from '../cluster/types.js'
import type { Dataset } from '../data/dataset.js'
import type { Row } from '../data/types.js'
import { MaltError, describeValue } from '../errors.js'
import { maltHome, newAppId } from '../experiments/store/layout.js'
import { createOptimizer, OPTIMIZERS } from './optimizers.js'
import type { Algorithm, DriverMessage, EpochLogs, WorkerMessage, WorkerResult } from './protocol.js'
import { writeShards } from './shards.js'
import { readWeightsFile, setFlatWeights, writeWeightsFile } from './weights.js'
import type { WorkerPayload } from './worker.js'

/** Options every trainer takes (dist-keras' names where it has them). */
export interface TrainerOptions {
  /** The model to train (its topology and initial weights go to every worker). */
  model: tfjs.LayersModel
  /** @defaultValue 'adam' */
  optimizer?: string
  /** @defaultValue the optimiser's Keras default */
  learningRate?: number
  /** A TF.js loss name, e.g. 'categoricalCrossentropy'. */
  loss: string
  /** @defaultValue [] */
  metrics?: string[]
  /** Worker processes. @defaultValue 2 */
  numWorkers?: number
  /** @defaultValue 32 */
  batchSize?: number
  /** The features column (a vector, e.g. `image`) or numeric columns side by side. */
  features: string | string[]
  /** The label column (numbers: a class index with `oneHot`, else a value). */
  label: string
  /** One-hot encode integer labels to this many classes (for categoricalCrossentropy). @defaultValue the label as a number */
  oneHot?: number
  /** Each row's features reshaped, e.g. [28, 28, 1] for a CNN. @defaultValue flat */
  featureShape?: number[]
  /** @defaultValue 1 */
  epochs?: number
  /** Seeds the shuffling of each worker's shard. @defaultValue 42 */
  seed?: number
  /** Stop every worker once the epoch's averaged metric reaches a value (dist-keras users asked for it). */
  stopOnTarget?: { metric: string; value: number; mode?: 'min' | 'max' }
  /** Called on the driver while training runs. */
  callbacks?: TrainerCallbacks
  /** Batches between live per-batch metrics from each worker. @defaultValue 10 */
  reportEvery?: number
  /** MALT_HOME, where the run directory goes. @defaultValue $MALT_HOME or ./malt-home */
  home?: string
}

/** Keras-style callbacks, on the driver, fed by the workers' live metrics. */
export interface TrainerCallbacks {
  onBatchEnd?: (worker: number, batch: number, logs: Record<string, number>) => void | Promise<void>
  /** When every worker finished `epoch`: the workers' logs and their mean. */
  onEpochEnd?: (epoch: number, logs: Record<string, number>, workers: Record<string, number>[]) => void | Promise<void>
}

/** What {@link Trainer.history} returns. */
export interface TrainingHistory {
  /** Per worker: its epochs' logs and the live batch logs it sent. */
  workers: { worker: number; epochs: EpochLogs[]; batches: { epoch: number; batch: number; logs: Record<string, number> }[] }[]
  /** Per epoch, the mean over the workers. */
  averaged: EpochLogs[]
}

/** The worker module the executors import: this build's own file (.ts under tsx, .js from dist). */
function workerRunner(): RunnerRef {
  const ts = new URL('./worker.ts', import.meta.url)
  const module = import.meta.url.endsWith('.ts') && existsSync(fileURLToPath(ts)) ? ts : new URL('./worker.js', import.meta.url)
  return { module: module.href, export: 'trainingWorkerTask' }
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  const chosen = value ?? fallback
  if (typeof chosen !== 'number' || !Number.isInteger(chosen) || chosen < 1) throw new MaltError('TRAIN_BAD_OPTION', `${name}: expected a positive integer, received ${describeValue(value)}`)
  return chosen
}

/** Mean of each metric over the workers' logs. */
function meanLogs(logs: readonly Record<string, number>[]): Record<string, number> {
  const keys = Object.keys(logs[0] ?? {})
  return Object.fromEntries(keys.map((key) => [key, logs.reduce((sum, l) => sum + (l[key] ?? NaN), 0) / logs.length]))
}

/**
 * The base of every trainer: `train(data)` runs the algorithm and resolves with the trained model
 * (an ensemble's list of models for EnsembleTrainer).
 */
export abstract class Trainer<Result = tfjs.LayersModel> {
  protected readonly options: TrainerOptions
  protected readonly numWorkers: number
  protected readonly batchSize: number
  protected readonly epochs: number
  private lastHistory: TrainingHistory = { workers: [], averaged: [] }

  constructor(
    protected readonly algorithm: Algorithm,
    options: TrainerOptions,
  ) {
    if (options === null || typeof options !== 'object') throw new MaltError('TRAIN_BAD_OPTION', `expected trainer options, received ${describeValue(options)}`)
    if (options.model === undefined || typeof (options.model as { save?: unknown }).save !== 'function') {
      throw new MaltError('TRAIN_BAD_OPTION', `model: expected a TF.js LayersModel (tf.sequential() or tf.model()), received ${describeValue(options.model)}`)
    }
    if (typeof options.loss !== 'string' || options.loss === '') throw new MaltError('TRAIN_BAD_OPTION', `loss: expected a TF.js loss name such as 'categoricalCrossentropy', received ${describeValue(options.loss)}`)
    const optimizer = options.optimizer ?? 'adam'
    if (!OPTIMIZERS.includes(optimizer)) throw new MaltError('TRAIN_BAD_OPTION', `optimizer: unknown ${JSON.stringify(optimizer)}; known: ${OPTIMIZERS.join(', ')}`)
    if (typeof options.label !== 'string' || options.label === '') throw new MaltError('TRAIN_BAD_OPTION', `label: expected the label column's name, received ${describeValue(options.label)}`)
    const features = Array.isArray(options.features) ? options.features : [options.features]
    if (features.length === 0 || !features.every((f) => typeof f === 'string' && f !== '')) throw new MaltError('TRAIN_BAD_OPTION', `features: expected a column name or a list of them, received ${describeValue(options.features)}`)
    this.options = { ...options, optimizer, metrics: options.metrics ?? [] }
    this.numWorkers = algorithm === 'single' ? 1 : positiveInteger('numWorkers', options.numWorkers, 2)
    this.batchSize = positiveInteger('batchSize', options.batchSize, 32)
    this.epochs = positiveInteger('epochs', options.epochs, 1)
  }

  /** The last `train()`'s metrics, per worker and averaged (as dist-keras' `get_history`). */
  history(): TrainingHistory {
    return structuredClone(this.lastHistory)
  }

  /** Algorithm settings sent to every worker. */
  protected settings(): { [key: string]: JsonValue } {
    return {}
  }

  /** Builds the result from the workers' final weights (and the driver's own state). */
  protected abstract result(run: TrainingRun, results: WorkerResult[]): Promise<Result>

  /** Trains on `data` (rows with the features and label columns). */
  async train(data: Dataset<Row> | Iterable<Row> | AsyncIterable<Row>): Promise<Result> {
    await ready()
    const home = this.options.home ?? maltHome()
    await mkdir(join(home, 'Training'), { recursive: true })
    // Its own folder until training runs are recorded as experiments (experiment.json, index row).
    const dir = await mkdtemp(join(home, 'Training', `${newAppId()}-run-`))
    const run = new TrainingRun(dir, this)
    await mkdir(run.workersDir, { recursive: true })
    await this.options.model.save(`file://${run.initialModelDir}`)
    await writeShards(data, this.numWorkers, run.shardPrefix, { features: this.options.features, label: this.options.label }, this.options.seed ?? 42)
    const pool = new LocalProcessPool({ size: this.numWorkers, preload: [workerRunner().module], forwardOutput: true })
    const history: TrainingHistory = { workers: Array.from({ length: this.numWorkers }, (_, worker) => ({ worker, epochs: [], batches: [] })), averaged: [] }
    this.lastHistory = history
    const tasks: RunningTask[] = []
    let failure: unknown
    const interrupt = (): void => {
      failure ??= new MaltError('TRAIN_INTERRUPTED', 'training interrupted (SIGINT); every worker was stopped')
      for (const task of tasks) task.cancel('interrupted')
    }
    process.once('SIGINT', interrupt)
    try {
      const executors: Executor[] = await Promise.all(Array.from({ length: this.numWorkers }, () => pool.acquire()))
      const epochLogs = new Map<number, Record<string, number>[]>()
      const replicas = new Map<number, string[]>()
      const fail = (error: unknown): void => {
        failure ??= error
        for (const task of tasks) task.cancel('another worker failed')
      }
      const handle = async (message: WorkerMessage): Promise<void> => {
        if (message.type === 'batch') {
          history.workers[message.worker].batches.push({ epoch: message.epoch, batch: message.batch, logs: message.logs })
          await this.options.callbacks?.onBatchEnd?.(message.worker, message.batch, message.logs)
        } else if (message.type === 'epoch') {
          history.workers[message.worker].epochs.push({ epoch: message.epoch, ...message.logs })
          const logs = epochLogs.get(message.epoch) ?? []
          logs[message.worker] = message.logs
          epochLogs.set(message.epoch, logs)
          if (logs.filter(Boolean).length === this.numWorkers) {
            const mean = meanLogs(logs)
            history.averaged.push({ epoch: message.epoch, ...mean })
            await this.options.callbacks?.onEpochEnd?.(message.epoch, mean, logs)
            if (this.reachedTarget(mean)) run.broadcast({ type: 'stop' })
          }
        } else if (message.type === 'replica') {
          const files = replicas.get(message.epoch) ?? []
          files[message.worker] = message.file
          replicas.set(message.epoch, files)
          if (files.filter(Boolean).length === this.numWorkers) {
            const file = join(run.workersDir, `center-${message.epoch}.bin`)
            await writeWeightsFile(file, await averageFiles(files))
            run.center = file
            run.broadcast({ type: 'center', epoch: message.epoch, file })
          }
        }
      }
      // Messages are handled one at a time, in order, so callbacks see a consistent history.
      let queue = Promise.resolve()
      executors.forEach((executor, worker) => {
        const payload: WorkerPayload = {
          algorithm: this.algorithm,
          worker,
          workers: this.numWorkers,
          modelDir: run.initialModelDir,
          shardPrefix: run.shardPrefix,
          compile: { optimizer: this.options.optimizer!, learningRate: this.options.learningRate, loss: this.options.loss, metrics: this.options.metrics! },
          batchSize: this.batchSize,
          epochs: this.epochs,
          oneHot: this.options.oneHot,
          featureShape: this.options.featureShape,
          seed: this.options.seed ?? 42,
          outDir: run.workersDir,
          reportEvery: positiveInteger('reportEvery', this.options.reportEvery, 10),
          settings: this.settings(),
        }
        const task = executor.run({ id: `${run.dir}#worker-${worker}`, runner: workerRunner(), payload: JSON.parse(JSON.stringify(payload)) as JsonValue, outputFile: join(run.workersDir, `worker-${worker}.log`) })
        tasks.push(task)
        task.onMessage((message) => {
          queue = queue.then(() => handle(message as unknown as WorkerMessage)).catch(fail)
        })
      })
      run.tasks = tasks
      const outcomes: TaskOutcome[] = await Promise.all(tasks.map((task) => task.outcome.then((outcome) => {
        if (!outcome.ok && outcome.reason !== 'cancelled') fail(new MaltError('TRAIN_WORKER_FAILED', `worker ${tasks.indexOf(task)} failed (${outcome.reason}): ${outcome.message}`))
        return outcome
      })))
      await queue
      if (failure !== undefined) throw failure
      const results = outcomes.map((outcome) => (outcome as { ok: true; value: JsonValue }).value as unknown as WorkerResult)
      const trained = await this.result(run, results)
      await rm(`${run.shardPrefix}-0.bin`, { force: true })
      return trained
    } finally {
      process.removeListener('SIGINT', interrupt)
      await pool.close()
      await Promise.all(Array.from({ length: this.numWorkers }, (_, i) => Promise.all([rm(`${run.shardPrefix}-${i}.bin`, { force: true }), rm(`${run.shardPrefix}-${i}.json`, { force: true })])))
    }
  }

  private reachedTarget(logs: Record<string, number>): boolean {
    const target = this.options.stopOnTarget
    if (target === undefined) return false
    const value = logs[target.metric] ?? logs[target.metric === 'accuracy' ? 'acc' : target.metric]
    if (value === undefined) return false
    const mode = target.mode ?? (/loss|error/.test(target.metric) ? 'min' : 'max')
    return mode === 'min' ? value <= target.value : value >= target.value
  }

  /** A fresh copy of the initial model with `weights`, compiled as the workers compiled theirs. */
  protected async modelWith(run: TrainingRun, weights: Float32Array): Promise<tfjs.LayersModel> {
    const model = await tf.loadLayersModel(`file://${join(run.initialModelDir, 'model.json')}`)
    setFlatWeights(model, weights)
    model.compile({
      optimizer: createOptimizer({ optimizer: this.options.optimizer!, learningRate: this.options.learningRate, loss: this.options.loss, metrics: this.options.metrics! }, this.algorithm),
      loss: this.options.loss,
      metrics: this.options.metrics,
    })
    return model
  }
}

/** Mean of equal-length weight files. */
async function averageFiles(files: readonly string[]): Promise<Float32Array> {
  const weights = await Promise.all(files.map((file) => readWeightsFile(file)))
  const mean = new Float32Array(weights[0].length)
  for (const w of weights) for (let i = 0; i < mean.length; i++) mean[i] += w[i]
  for (let i = 0; i < mean.length; i++) mean[i] /= weights.length
  return mean
}

/** One `train()` call's directories and running tasks. */
export class TrainingRun {
  tasks: RunningTask[] = []
  /** The newest center variable written by the driver (averaging), if any. */
  center?: string

  constructor(
    readonly dir: string,
    readonly trainer: Trainer<unknown>,
  ) {}

  get initialModelDir(): string {
    return join(this.dir, 'initial-model')
  }

  get workersDir(): string {
    return join(this.dir, 'workers')
  }

  get shardPrefix(): string {
    return join(this.dir, 'workers', 'shard')
  }

  broadcast(message: DriverMessage): void {
    for (const task of this.tasks) task.send(message as unknown as JsonValue)
  }
}
