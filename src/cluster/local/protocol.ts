// The IPC protocol between the local pool (parent) and one executor process (child), plus the
// end-of-output marker the child writes to stdout/stderr so the parent knows a task's output is complete.
import type { JsonValue, TaskSpec } from '../types.js'

/** Parent → child: start a task (one at a time per process). */
export interface RunMessage {
  type: 'run'
  task: TaskSpec
}

/** Either direction: a message of the running task's conversation. */
export interface TaskMessage {
  type: 'message'
  taskId: string
  body: JsonValue
}

/** Child → parent: the process is up and listening (sent once, after start). */
export interface ReadyMessage {
  type: 'ready'
}

/** Child → parent: the runner resolved with `value`. */
export interface DoneMessage {
  type: 'done'
  taskId: string
  value: JsonValue
}

/**
 * Child → parent: the runner threw, or its module could not be loaded. `fatal` means the error
 * escaped the task (uncaught exception, unhandled rejection) and the process exits next: the pool
 * must not give it another task.
 */
export interface FailedMessage {
  type: 'failed'
  taskId: string
  message: string
  stack?: string
  fatal?: boolean
}

export type ParentToChild = RunMessage | TaskMessage
export type ChildToParent = ReadyMessage | TaskMessage | DoneMessage | FailedMessage

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Narrows an IPC message received by the parent; anything else (a stray `process.send`) is ignored. */
export function isChildToParent(value: unknown): value is ChildToParent {
  if (!isRecord(value)) return false
  switch (value.type) {
    case 'ready':
      return true
    case 'message':
    case 'done':
      return typeof value.taskId === 'string'
    case 'failed':
      return typeof value.taskId === 'string' && typeof value.message === 'string'
    default:
      return false
  }
}

/** Narrows an IPC message received by the child. */
export function isParentToChild(value: unknown): value is ParentToChild {
  if (!isRecord(value)) return false
  if (value.type === 'run') return isRecord(value.task) && typeof value.task.id === 'string'
  return value.type === 'message' && typeof value.taskId === 'string'
}

/**
 * The bytes the child writes to stdout and to stderr after a task settles and before it reports
 * `done`/`failed`. IPC and the stdio pipes are separate channels, so the parent may read `done`
 * before the task's last output line; it settles the task only when it has seen this marker on
 * both pipes (NUL bytes keep it from clashing with real output; the parent strips it).
 */
export function endOfOutputMarker(taskId: string): string {
  return `\u0000malt:end-of-task:${taskId}\u0000`
}

/** Environment variable holding the executor's id (`local-0`, …) inside its process. */
export const EXECUTOR_ID_ENV = 'MALT_EXECUTOR_ID'
/** Environment variable of an executor process: a JSON list of modules to import at start-up. */
export const EXECUTOR_PRELOAD_ENV = 'MALT_EXECUTOR_PRELOAD'
