// The executor contract: the seam between what runs (trials, training workers) and where it
// runs (local processes now, Redis/BullMQ executors on other machines later). A task names a
// runner — an exported function of a module that the executor process imports — and carries
// a JSON payload; runner and driver talk through JSON messages while it runs.

/** A JSON value, as it crosses a process boundary. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** An exported function of a module, loaded by the executor process. */
export interface RunnerRef {
  /** A `file:` URL. */
  module: string
  /** The export's name. */
  export: string
}

/** One unit of work for an executor. */
export interface TaskSpec {
  /** Unique per attempt. */
  id: string
  runner: RunnerRef
  payload: JsonValue
  /** File that receives the process's stdout and stderr while this task runs (appended). */
  outputFile?: string
  /** Wall-clock limit; on expiry the task's process is killed and the outcome is `timeout`. */
  timeoutMs?: number
}

/**
 * Runs inside the executor process: `runner(payload, channel)`. The value it resolves to is the
 * task's result; a throw fails the task with `reason: 'error'` and the stack trace.
 */
export type TaskRunner = (payload: JsonValue, channel: TaskChannel) => Promise<JsonValue>

/** The runner's side of the conversation with the driver. */
export interface TaskChannel {
  /** The executor's id (e.g. `local-1`). */
  readonly executorId: string
  send(message: JsonValue): void
  onMessage(listener: (message: JsonValue) => void): void
}

/** How a task ended. */
export type TaskOutcome =
  | { ok: true; value: JsonValue }
  | {
      ok: false
      /** error: the runner threw; crash: the process died (exit, signal, OOM); timeout; cancelled: killed by the driver. */
      reason: 'error' | 'crash' | 'timeout' | 'cancelled'
      message: string
      stack?: string
    }

/** The driver's side of a running task. */
export interface RunningTask {
  readonly executorId: string
  /** Settles once; never rejects. */
  readonly outcome: Promise<TaskOutcome>
  send(message: JsonValue): void
  onMessage(listener: (message: JsonValue) => void): void
  /** Ends the task now (its process is killed and replaced); the outcome is `cancelled`. */
  cancel(reason: string): void
}

/** One executor slot: runs one task at a time. */
export interface Executor {
  readonly id: string
  run(task: TaskSpec): RunningTask
}

/**
 * A set of executors. `acquire` resolves with an idle executor (starting one on demand);
 * `release` gives it back; `retire` removes it for the rest of the pool's life (blacklisted).
 * `close` stops every process and resolves when they are gone.
 */
export interface ExecutorPool {
  /** Executors this pool can run at once (not counting retired ones). */
  readonly capacity: number
  acquire(): Promise<Executor>
  release(executor: Executor): void
  retire(executor: Executor): void
  close(): Promise<void>
}
