// What the driver and the training workers say to each other (JSON over the executor channel),
// and the names of the algorithms.

/** The distributed optimisers (dist-keras' names, lower-cased) and the ring all-reduce. */
export type Algorithm = 'single' | 'averaging' | 'ensemble' | 'downpour' | 'adag' | 'dynsgd' | 'aeasgd' | 'eamsgd' | 'easgd' | 'allreduce'

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
  | { type: 'batch'; worker: number; epoch: number; batch: number; logs: Record<string, number> }
  | { type: 'epoch'; worker: number; epoch: number; logs: Record<string, number> }
  /** Averaging: this worker's weights after `epoch`, for the driver to average. */
  | { type: 'replica'; worker: number; epoch: number; file: string }

/** Driver → worker. */
export type DriverMessage =
  | { type: 'stop' }
  /** Averaging: the averaged model to continue from. */
  | { type: 'center'; epoch: number; file: string }

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
