// One `train()` call as the driver sees it: its directories, running worker tasks and recorder,
// and the shapes of its callbacks and history.
import { join } from 'node:path'
import type { JsonValue, RunningTask } from '../cluster/types.js'
import type { DriverMessage, EpochLogs } from './protocol.js'
import type { TrainingRecorder } from './run-record.js'

/** Keras-style callbacks, on the driver, fed by the workers' live metrics. */
export interface TrainerCallbacks {
  /** A parameter server process is listening (again, after a restart: `resumed` from its checkpoint at `updates`). */
  onServerStart?: (server: number, info: { pid: number; address: string; resumed: boolean; updates: number }) => void | Promise<void>
  /** A worker process started (its pid and host: for monitoring, or a fault test killing it). */
  onWorkerStart?: (worker: number, info: { pid: number; host: string }) => void | Promise<void>
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
  /** Rates the learning-rate scheme set, with the epoch after which each took effect. */
  learningRates: { epoch: number; learningRate: number }[]
  /** Workers that died while an asynchronous algorithm went on without them. */
  lostWorkers: { worker: number; reason: string }[]
}

/** One `train()` call's directories and running tasks. */
export class TrainingRun {
  /** This round's worker tasks by worker id (sparse once a re-formed ring left a worker out). */
  tasks: (RunningTask | undefined)[] = []
  /** The newest center variable written by the driver (averaging), if any. */
  center?: string
  /** Worker 0's model after the last whole epoch (lockstep runs re-form their ring from it). */
  lastSnapshot?: { epoch: number; weights: Float32Array }
  /** Set once the run is ending (success, failure, interrupt): services are not restarted then. */
  stopping = false
  /** Ends the run with `error` (every worker stopped); set while the workers run. */
  fail: (error: unknown) => void = () => undefined

  constructor(
    readonly dir: string,
    readonly recorder: TrainingRecorder,
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

  get validationPrefix(): string {
    return join(this.dir, 'workers', 'validation')
  }

  broadcast(message: DriverMessage): void {
    for (const task of this.tasks) task?.send(message as unknown as JsonValue)
  }
}
