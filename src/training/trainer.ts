// The driver side of distributed training: checks the options, saves the model and deals the
// data into one shard per worker, starts the workers as executor tasks, relays their live metrics
// to callbacks, runs the algorithm's driver part (averaging rounds, a parameter server), and
// rebuilds the trained model. Interrupting it (Ctrl-C, an exception in a callback) stops every
// process it started and frees their ports.
import { existsSync } from 'node:fs'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type * as tfjs from '@tensorflow/tfjs'
import { tf, ready } from '../backend/index.js'
import { sharedThreadsEnv } from '../backend/threads.js'
import { LocalProcessPool } from '../cluster/local/pool.js'
import type { Executor, ExecutorPool, JsonValue, RunnerRef, RunningTask } from '../cluster/types.js'
import type { Dataset } from '../data/dataset.js'
import type { Row } from '../data/types.js'
import { MaltError, describeValue } from '../errors.js'
import { maltHome } from '../experiments/store/layout.js'
import type { Params } from '../experiments/types.js'
import { MessageHandler } from './messages.js'
import { createTrainingDisplay, type TrainingDisplay } from './progress.js'
import { TrainingRecorder } from './run-record.js'
import { TrainingRun, type TrainerCallbacks, type TrainingHistory } from './run.js'

export { TrainingRun, type TrainerCallbacks, type TrainingHistory } from './run.js'
import { createOptimizer, initialLearningRate, OPTIMIZERS } from './optimizers.js'
import { SYNCHRONOUS, type Algorithm, type WorkerMessage, type WorkerResult } from './protocol.js'
import { writeShards } from './shards.js'
import { setFlatWeights, writeWeightsFile } from './weights.js'
import type { WorkerPayload } from './protocol.js'

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
  /**
   * Rows evaluated after every epoch on the model the algorithm trains (the center where there is
   * one), dealt among the workers: `val_loss` and `val_<metric>` in the history, callbacks and TensorBoard.
   */
  validationData?: Dataset<Row> | Iterable<Row> | AsyncIterable<Row>
  /**
   * Lowers the workers' learning rate when the validation loss stops improving (dist-keras'
   * scheme: ÷10). Needs `validationData`; the workers wait for each other at epoch ends.
   */
  learningRateScheme?: LearningRateScheme
  /** Stop every worker once the epoch's averaged metric reaches a value (dist-keras users asked for it); `val_loss` etc. with validationData. */
  stopOnTarget?: { metric: string; value: number; mode?: 'min' | 'max' }
  /** Called on the driver while training runs. */
  callbacks?: TrainerCallbacks
  /** Batches between live per-batch metrics from each worker. @defaultValue 10 */
  reportEvery?: number
  /** A progress bar on a terminal (one line per epoch elsewhere) on stderr. @defaultValue true */
  verbose?: boolean
  /** MALT_HOME, where the run is recorded (Experiments/<app>/<run>/). @defaultValue $MALT_HOME or ./malt-home */
  home?: string
  /** The experiment's name. @defaultValue the trainer's class name */
  name?: string
}

/** When and how much {@link TrainerOptions.learningRateScheme} lowers the rate. */
export interface LearningRateScheme {
  /** Epochs without an improvement of the validation loss before the rate drops. @defaultValue 1 */
  patience?: number
  /** The rate is multiplied by this. @defaultValue 0.1 */
  factor?: number
  /** A change smaller than this is no improvement. @defaultValue 1e-4 */
  minDelta?: number
  /** The rate never goes below this. @defaultValue 0 */
  minLearningRate?: number
}

/** Times a lockstep run re-forms its ring after losing a worker before it gives up. */
const MAX_REFORMS = 3

/** A module of this package the executors import: this build's own file (.ts under tsx, .js from dist). */
export function runnerRef(path: string, exported: string): RunnerRef {
  const ts = new URL(`${path}.ts`, import.meta.url)
  const module = import.meta.url.endsWith('.ts') && existsSync(fileURLToPath(ts)) ? ts : new URL(`${path}.js`, import.meta.url)
  return { module: module.href, export: exported }
}

const workerRunner = (): RunnerRef => runnerRef('./worker', 'trainingWorkerTask')

function positiveInteger(name: string, value: unknown, fallback: number): number {
  const chosen = value ?? fallback
  if (typeof chosen !== 'number' || !Number.isInteger(chosen) || chosen < 1) throw new MaltError('TRAIN_BAD_OPTION', `${name}: expected a positive integer, received ${describeValue(value)}`)
  return chosen
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
  private lastHistory: TrainingHistory = { workers: [], averaged: [], lostWorkers: [], learningRates: [] }
  private lastExperimentId?: number

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
    const scheme = options.learningRateScheme
    if (scheme !== undefined) {
      if (options.validationData === undefined) throw new MaltError('TRAIN_BAD_OPTION', 'learningRateScheme: lowers the rate when the validation loss plateaus, so it needs validationData')
      positiveInteger('learningRateScheme.patience', scheme.patience, 1)
      const factor = scheme.factor ?? 0.1
      if (typeof factor !== 'number' || !(factor > 0 && factor < 1)) throw new MaltError('TRAIN_BAD_OPTION', `learningRateScheme.factor: expected a number between 0 and 1, received ${describeValue(scheme.factor)}`)
    }
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

  /** Processes the algorithm needs besides the workers (parameter servers). */
  protected serviceCount(): number {
    return 0
  }

  /** Starts the algorithm's services on executors of `pool`; returns settings for the workers. */
  protected async startServices(_run: TrainingRun, _pool: ExecutorPool): Promise<{ [key: string]: JsonValue }> {
    return {}
  }

  /** Stops them (after result(), or after a failure). */
  protected async stopServices(_run: TrainingRun): Promise<void> {}

  /** Asynchronous algorithms go on when a worker dies (the center lives elsewhere); the others fail the run. */
  protected toleratesWorkerLoss(): boolean {
    return false
  }

  /** Trains on `data` (rows with the features and label columns), recorded as an experiment run. */
  async train(data: Dataset<Row> | Iterable<Row> | AsyncIterable<Row>): Promise<Result> {
    await ready()
    const recorder = await TrainingRecorder.start({
      home: this.options.home ?? maltHome(),
      name: this.options.name ?? this.constructor.name,
      algorithm: this.algorithm,
      trainer: this.constructor.name,
      params: this.params(),
      metric: 'loss',
    })
    this.lastExperimentId = recorder.id
    this.lastHistory = { workers: [], averaged: [], lostWorkers: [], learningRates: [] }
    const run = new TrainingRun(recorder.trialDir, recorder)
    let result: Result | undefined
    try {
      result = await this.execute(run, data)
    } catch (error) {
      const interrupted = error instanceof MaltError && error.code === 'TRAIN_INTERRUPTED'
      // The run's own error is what the caller needs, even when recording the failure fails too.
      await recorder.finish(interrupted ? 'killed' : 'failed', { metrics: this.lastHistory.averaged.at(-1), error }).catch((recordError: unknown) => {
        process.stderr.write(`malt: could not record the failed run ${recorder.id}: ${(recordError as Error).message}\n`)
      })
      throw error
    }
    await recorder.finish('finished', { metrics: this.lastHistory.averaged.at(-1), models: Array.isArray(result) ? result : [result as tfjs.LayersModel] })
    return result
  }

  /** The id of the last `train()`'s experiment run (for `malt experiments show`, `malt models export --experiment`). */
  get experimentId(): number | undefined {
    return this.lastExperimentId
  }

  /** The run's settings as experiment params (JSON). */
  protected params(): Params {
    const { model: _model, callbacks: _callbacks, home: _home, validationData, stopOnTarget, ...rest } = this.options
    // The validation rows are data, not a setting: only whether there were some is kept.
    const settings = Object.fromEntries(
      Object.entries({ ...rest, ...this.settings(), numWorkers: this.numWorkers, batchSize: this.batchSize, epochs: this.epochs, validation: validationData !== undefined }).filter(([, v]) => v !== undefined),
    )
    return JSON.parse(JSON.stringify(stopOnTarget === undefined ? settings : { ...settings, stopOnTarget })) as Params
  }

  /** The current center variable, where the algorithm keeps one the driver can read (checkpoints). */
  protected async currentWeights(_run: TrainingRun): Promise<Float32Array | undefined> {
    return undefined
  }

  private async execute(run: TrainingRun, data: Dataset<Row> | Iterable<Row> | AsyncIterable<Row>): Promise<Result> {
    const history: TrainingHistory = { workers: Array.from({ length: this.numWorkers }, (_, worker) => ({ worker, epochs: [], batches: [] })), averaged: [], lostWorkers: [], learningRates: [] }
    this.lastHistory = history
    const tasks: RunningTask[] = []
    let failure: unknown
    const fail = (error: unknown): void => {
      failure ??= error
      // Nothing restarts once the run is ending (a parameter server killed by Ctrl-C's SIGTERM stays down).
      run.stopping = true
      for (const task of tasks) task.cancel('another worker failed')
    }
    const interrupt = (): void => fail(new MaltError('TRAIN_INTERRUPTED', 'training interrupted (SIGINT); every worker was stopped'))
    // on, not once: the executor pool's safety net re-raises the signal when it is the last listener.
    process.on('SIGINT', interrupt)
    let display: TrainingDisplay | undefined
    let pool: LocalProcessPool | undefined
    try {
      await mkdir(run.workersDir, { recursive: true })
      await this.options.model.save(`file://${run.initialModelDir}`)
      const columns = { features: this.options.features, label: this.options.label }
      const shards = await writeShards(data, this.numWorkers, run.shardPrefix, columns, this.options.seed ?? 42)
      if (this.options.validationData !== undefined) await writeShards(this.options.validationData, this.numWorkers, run.validationPrefix, columns, this.options.seed ?? 42, 'validation data')
      // Lockstep workers all run as many steps per epoch as the smallest shard gives.
      const stepsPerEpoch = SYNCHRONOUS.includes(this.algorithm) ? Math.min(...shards.map((shard) => Math.ceil(shard.rows / this.batchSize))) : undefined
      // The workers share the cores (parameter servers mostly wait on sockets).
      const executorPool = new LocalProcessPool({ size: this.numWorkers + this.serviceCount(), preload: [workerRunner().module], forwardOutput: true, env: sharedThreadsEnv(this.numWorkers) })
      pool = executorPool
      const services = await this.startServices(run, executorPool)
      if (failure !== undefined) throw failure
      const executors: Executor[] = await Promise.all(Array.from({ length: this.numWorkers }, () => executorPool.acquire()))
      const batches = shards.reduce((sum, shard) => sum + Math.ceil(shard.rows / this.batchSize), 0)
      display = this.options.verbose === false ? undefined : createTrainingDisplay(this.constructor.name, this.epochs, stepsPerEpoch === undefined ? batches : stepsPerEpoch * this.numWorkers)
      run.fail = fail
      // A lockstep run whose worker dies goes on in a new round: a smaller ring of the survivors,
      // from the checkpoint after the last whole epoch (their own shards; the lost one's rows drop out).
      let members = executors.map((_, worker) => worker)
      let startEpoch = 0
      let startWeights: string | undefined
      for (let round = 0; ; round++) {
        const steps = stepsPerEpoch === undefined ? undefined : Math.min(...members.map((worker) => Math.ceil(shards[worker].rows / this.batchSize)))
        const messages = new MessageHandler(this, run, history, this.options.callbacks, display, members)
        // Messages are handled one at a time, in order, so callbacks see a consistent history.
        let queue = Promise.resolve()
        /** Lockstep rounds: the first failure ends the round; what died is decided once all settled. */
        const lockstep = SYNCHRONOUS.includes(this.algorithm)
        let roundFailed = false
        tasks.length = 0
        run.tasks = []
        members.forEach((worker, rank) => {
          const payload: WorkerPayload = {
            algorithm: this.algorithm,
            worker,
            rank,
            workers: members.length,
            startEpoch,
            initialWeights: startWeights,
            modelDir: run.initialModelDir,
            shardPrefix: run.shardPrefix,
            validationPrefix: this.options.validationData === undefined ? undefined : run.validationPrefix,
            epochBarrier: this.epochBarrier(),
            compile: { optimizer: this.options.optimizer!, learningRate: this.options.learningRate, loss: this.options.loss, metrics: this.options.metrics! },
            batchSize: this.batchSize,
            epochs: this.epochs,
            oneHot: this.options.oneHot,
            featureShape: this.options.featureShape,
            seed: this.options.seed ?? 42,
            outDir: run.workersDir,
            reportEvery: positiveInteger('reportEvery', this.options.reportEvery, 10),
            settings: { ...this.settings(), ...services, ...(steps === undefined ? {} : { stepsPerEpoch: steps }), snapshots: this.workerSnapshots() },
          }
          const task = executors[worker].run({ id: `${run.dir}#worker-${worker}.${round}`, runner: workerRunner(), payload: JSON.parse(JSON.stringify(payload)) as JsonValue, outputFile: join(run.workersDir, `worker-${worker}.log`) })
          tasks.push(task)
          run.tasks[worker] = task
          task.onMessage((message) => {
            queue = queue.then(() => messages.handle(message as unknown as WorkerMessage)).catch(fail)
          })
        })
        const roundTasks = [...tasks]
        const outcomes = await Promise.all(
          roundTasks.map((task, rank) =>
            task.outcome.then((outcome) => {
              if (outcome.ok || outcome.reason === 'cancelled') return outcome
              const worker = members[rank]
              const error = new MaltError('TRAIN_WORKER_FAILED', `worker ${worker} failed (${outcome.reason}): ${outcome.message}`)
              messages.alive.delete(worker)
              if (this.toleratesWorkerLoss() && messages.alive.size > 0) {
                history.lostWorkers.push({ worker, reason: error.message })
                process.stderr.write(`malt: ${error.message}; training goes on with ${messages.alive.size} worker${messages.alive.size === 1 ? '' : 's'}\n`)
                queue = queue.then(() => messages.completeEpochs()).catch(fail)
              } else if (lockstep && members.length > 1 && round < MAX_REFORMS) {
                // The other ranks fail on the broken ring (or wait): end the round.
                if (!roundFailed) for (const other of roundTasks) if (other !== task) other.cancel('the ring lost a worker')
                roundFailed = true
              } else {
                fail(error)
              }
              return outcome
            }),
          ),
        )
        await queue
        if (failure !== undefined) throw failure
        if (roundFailed) {
          // Processes that died are dropped; a worker that only failed (its peer vanished) stays.
          const dead = members.filter((_, rank) => { const o = outcomes[rank]; return !o.ok && o.reason === 'crash' })
          if (dead.length === 0 || dead.length === members.length) {
            const rank = outcomes.findIndex((o) => !o.ok && o.reason !== 'cancelled')
            const first = outcomes[rank] as { reason: string; message: string }
            throw new MaltError('TRAIN_WORKER_FAILED', `worker ${members[rank]} failed (${first.reason}): ${first.message}`)
          }
          for (const worker of dead) {
            const rank = members.indexOf(worker)
            const outcome = outcomes[rank] as { message: string }
            history.lostWorkers.push({ worker, reason: `worker ${worker} failed (crash): ${outcome.message}` })
          }
          members = members.filter((worker) => !dead.includes(worker))
          const checkpoint = run.lastSnapshot
          startEpoch = checkpoint === undefined ? 0 : checkpoint.epoch + 1
          startWeights = undefined
          if (checkpoint !== undefined) {
            startWeights = join(run.workersDir, `resume-${round}.bin`)
            await writeWeightsFile(startWeights, checkpoint.weights)
          }
          process.stderr.write(
            `malt: ${history.lostWorkers.at(-1)!.reason}; the ring is re-formed with ${members.length} worker${members.length === 1 ? '' : 's'} from ${checkpoint === undefined ? 'the initial model' : `the checkpoint after epoch ${checkpoint.epoch + 1}`}\n`,
          )
          if (startEpoch >= this.epochs) break
          continue
        }
        const results = outcomes.flatMap((outcome) => (outcome.ok ? [outcome.value as unknown as WorkerResult] : []))
        return await this.result(run, results)
      }
      // The ring broke after the last epoch's checkpoint: that checkpoint is the result.
      return await this.resultFromCheckpoint(run)
    } catch (error) {
      // An interrupt during set-up makes the starting services fail too: report the interrupt.
      throw failure ?? error
    } finally {
      display?.stop()
      process.removeListener('SIGINT', interrupt)
      run.stopping = true
      await this.stopServices(run).catch(() => undefined)
      await pool?.close()
      // Shards and exchanged weight files are scratch; logs, checkpoints and the model stay.
      const scratch = (await readdir(run.workersDir)).filter((name) => name.endsWith('.bin') || /^(shard|validation)-\d+\.json$/.test(name))
      await Promise.all(scratch.map((name) => rm(join(run.workersDir, name), { force: true })))
    }
  }

  /**
   * Whether workers wait for the driver after each epoch: to learn a new rate, or to stop
   * together (lockstep rings, and averaging rounds, must not lose a member mid-epoch).
   */
  private epochBarrier(): boolean {
    return this.options.learningRateScheme !== undefined || (this.options.stopOnTarget !== undefined && (SYNCHRONOUS.includes(this.algorithm) || this.algorithm === 'averaging'))
  }

  /** A lockstep run that lost a worker after its last epoch: the model is that epoch's checkpoint. */
  protected async resultFromCheckpoint(run: TrainingRun): Promise<Result> {
    const checkpoint = run.lastSnapshot
    if (checkpoint === undefined) throw new MaltError('TRAIN_NO_RESULT', 'no checkpoint to finish from')
    return (await this.modelWith(run, checkpoint.weights)) as Result
  }

  /** Worker 0 hands its model to the driver after each epoch, for checkpoints, where the driver holds none. */
  protected workerSnapshots(): boolean {
    return this.algorithm === 'single' || SYNCHRONOUS.includes(this.algorithm)
  }

  /** @internal A message the algorithm's services answer (a worker that lost its parameter server). */
  async serviceMessage(_run: TrainingRun, _message: WorkerMessage): Promise<void> {}

  /** @internal The scheme's settings with defaults, and the starting rate; undefined without a scheme. */
  schemeSettings(): (Required<LearningRateScheme> & { initial: number; barrier: boolean }) | { barrier: boolean; initial: number } {
    const initial = initialLearningRate({ optimizer: this.options.optimizer!, learningRate: this.options.learningRate, loss: this.options.loss, metrics: [] }, this.algorithm)
    const scheme = this.options.learningRateScheme
    if (scheme === undefined) return { barrier: this.epochBarrier(), initial }
    return { patience: scheme.patience ?? 1, factor: scheme.factor ?? 0.1, minDelta: scheme.minDelta ?? 1e-4, minLearningRate: scheme.minLearningRate ?? 0, initial, barrier: true }
  }

  /** @internal For the message handler: true when the averaged logs meet `stopOnTarget`. */
  reachedTarget(logs: Record<string, number>): boolean {
    const target = this.options.stopOnTarget
    if (target === undefined) return false
    const value = logs[target.metric] ?? logs[target.metric === 'accuracy' ? 'acc' : target.metric]
    if (value === undefined) return false
    const mode = target.mode ?? (/loss|error/.test(target.metric) ? 'min' : 'max')
    return mode === 'min' ? value <= target.value : value >= target.value
  }

  /** @internal For the message handler: the center as a model, for a checkpoint (undefined when the algorithm has none). */
  async centerModel(run: TrainingRun): Promise<tfjs.LayersModel | undefined> {
    const weights = await this.currentWeights(run)
    return weights === undefined ? undefined : this.modelWith(run, weights)
  }

  /** A fresh copy of the initial model with `weights`, compiled as the workers compiled theirs. */
  async modelWith(run: TrainingRun, weights: Float32Array): Promise<tfjs.LayersModel> {
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

