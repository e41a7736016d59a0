// What the driver and the training workers say to each other (JSON over the executor channel),
// and the names of the algorithms.
import type { JsonValue } from '../cluster/types.js'

/** The distributed optimisers (dist-keras' names, lower-cased) and the ring all-reduce. */
export type Algorithm = 'single' | 'averaging' | 'ensemble' | 'downpour' | 'adag' | 'dynsgd' | 'aeasgd' | 'eamsgd' | 'easgd' | 'allreduce'

/** The algorithms whose workers meet in lockstep (each runs the same number of steps per epoch). */
export const SYNCHRONOUS: readonly Algorithm[] = ['easgd', 'allreduce']

/** How each worker compiles its replica. */
export interface CompileSpec {
  /** 'sgd', 'momentum', 'nesterov', 'adam', 'adamax', 'rmsprop', 'adagrad' or 'adadelta'. */
  optimizer: string
  learningRate?: number
  /** A TF.js loss name, e.g. 'categoricalCrossentropy'. */
  loss: string
  metrics: string[]
}

/** Metrics of one epoch of one worker (means over its rows). */
export type EpochLogs = { epoch: number } & Record<string, number>

/** Worker → driver. */
export type WorkerMessage =
  | { type: 'started'; worker: number; pid: number; host: string }
  /** `step`: the worker's batches so far, over all epochs (TensorBoard's step). */
  | { type: 'batch'; worker: number; epoch: number; batch: number; step: number; logs: Record<string, number> }
  /** `validation`: the worker's share of the validation set, evaluated on the model it holds for the center. */
  | { type: 'epoch'; worker: number; epoch: number; logs: Record<string, number>; validation?: { rows: number; logs: Record<string, number> }; snapshot?: string }
  /** Averaging: this worker's weights after `epoch`, for the driver to average. */
  | { type: 'replica'; worker: number; epoch: number; file: string }
  /** A parameter server stopped answering this worker (it waits for a `ps` message). */
  | { type: 'ps-lost'; worker: number; error: string }
  /** Ring algorithms: where this worker's ring listener is. */
  | { type: 'ring-address'; worker: number; rank: number; address: string }

/** Driver → worker. */
export type DriverMessage =
  | { type: 'stop' }
  /** Averaging: the averaged model to continue from. */
  | { type: 'center'; epoch: number; file: string }
  /** At an epoch barrier (a learning-rate scheme, or a lockstep algorithm with a stop target): go on with this rate, or stop. */
  | { type: 'continue'; epoch: number; learningRate: number; stop: boolean }
  /** The parameter servers' addresses after a restart (`generation` counts restarts). */
  | { type: 'ps'; servers: string[]; generation: number }
  /** Ring algorithms: every worker's listener address by rank (a worker's rank is its index). */
  | { type: 'ring'; addresses: string[]; ringId: string }

/** What a worker task returns. */
export interface WorkerResult {
  worker: number
  epochs: EpochLogs[]
  steps: number
  /** True when the driver stopped it early (stop on target, interrupt). */
  stopped: boolean
  /** Its final weights (flat float32). */
  weightsFile: string
}

/** What the driver sends a worker. */
export interface WorkerPayload {
  algorithm: Algorithm
  /** The worker's id: its shard, its history and log. */
  worker: number
  /** Its place among this round's workers (the ring's rank; = worker unless a ring was re-formed). */
  rank: number
  /** Workers in this round. */
  workers: number
  /** The first epoch to train (after a re-formed ring resumes from a checkpoint). */
  startEpoch: number
  /** Flat weights to start from instead of the initial model's (a checkpoint). */
  initialWeights?: string
  /** The initial model (model.json + weights). */
  modelDir: string
  /** Shard files `${shardPrefix}-<worker>.bin/.json`. */
  shardPrefix: string
  /** The validation set's shards, dealt as the training data's; evaluated after every epoch. */
  validationPrefix?: string
  /** Wait for the driver's `continue` after every epoch (learning-rate scheme, lockstep stop). */
  epochBarrier: boolean
  compile: CompileSpec
  batchSize: number
  epochs: number
  /** Integer labels one-hot encoded to this many classes. */
  oneHot?: number
  /** Each row's features reshaped, e.g. [28, 28, 1]. */
  featureShape?: number[]
  seed: number
  /** Where the worker writes its weights files. */
  outDir: string
  /** Batches between live `batch` messages. */
  reportEvery: number
  /** Algorithm settings (window, elastic force, parameter server...). */
  settings: { [key: string]: JsonValue }
}

