// Entry point of a local executor process (forked by LocalProcessPool): imports a task's runner
// module (once per process), runs `runner(payload, channel)` and reports the result over Node IPC.
import { Worker } from 'node:worker_threads'
import type { JsonValue, RunnerRef, TaskChannel, TaskRunner, TaskSpec } from '../types.js'
import { EXECUTOR_ID_ENV, EXECUTOR_PRELOAD_ENV, endOfOutputMarker, isParentToChild, type ChildToParent, type FailedMessage } from './protocol.js'

const WATCHDOG_INTERVAL_MS = 500
const MARKER_WRITE_LIMIT_MS = 2000

interface CurrentTask {
  readonly id: string
  readonly listeners: ((message: JsonValue) => void)[]
  /** Messages that arrived before the runner listened. */
  readonly inbox: JsonValue[]
  settled: boolean
}

const executorId = process.env[EXECUTOR_ID_ENV] ?? 'local'
const modules = new Map<string, Promise<Record<string, unknown>>>()
let current: CurrentTask | undefined

function send(message: ChildToParent): Promise<void> {
  return new Promise((resolve) => {
    try {
      process.send?.(message, undefined, undefined, () => resolve())
    } catch {
      resolve() // The channel is gone; the disconnect handler ends the process.
    }
  })
}

function writeAndWait(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, MARKER_WRITE_LIMIT_MS)
    const finish = (): void => {
      clearTimeout(timer)
      resolve()
    }
    try {
      stream.write(text, finish)
    } catch {
      finish()
    }
  })
}

/** Settles the task once: marks the end of its output on both pipes, then reports. */
async function settle(task: CurrentTask, report: ChildToParent): Promise<void> {
  if (task.settled) return
  task.settled = true
  const marker = endOfOutputMarker(task.id)
  await Promise.all([writeAndWait(process.stdout, marker), writeAndWait(process.stderr, marker)])
  await send(report)
  if (current === task) current = undefined
}

function failure(taskId: string, error: unknown, fatal: boolean): FailedMessage {
  if (error instanceof Error) return { type: 'failed', taskId, message: error.message, stack: error.stack, fatal }
  return { type: 'failed', taskId, message: `the runner threw a non-Error value: ${String(error)}`, fatal }
}

/** Starts importing `specifier` once per process; a failed import is forgotten so the next task retries it. */
function importOnce(specifier: string): Promise<Record<string, unknown>> {
  let loading = modules.get(specifier)
  if (loading === undefined) {
    loading = import(specifier) as Promise<Record<string, unknown>>
    modules.set(specifier, loading)
    loading.catch(() => modules.delete(specifier))
  }
  return loading
}

/** Imports the pool's preload list in the background; errors surface when a task imports the module itself. */
function startPreloads(): void {
  const listed = process.env[EXECUTOR_PRELOAD_ENV]
  if (listed === undefined || listed === '') return
  let specifiers: unknown
  try {
    specifiers = JSON.parse(listed)
  } catch {
    return
  }
  if (!Array.isArray(specifiers)) return
  for (const specifier of specifiers) if (typeof specifier === 'string') importOnce(specifier).catch(() => undefined)
}

async function loadRunner(ref: RunnerRef): Promise<TaskRunner> {
  const namespace = await importOnce(ref.module)
  // A CommonJS module's `module.exports.name` may be visible only through `default`.
  const commonJs = namespace.default
  const runner =
    namespace[ref.export] ?? (typeof commonJs === 'object' && commonJs !== null ? (commonJs as Record<string, unknown>)[ref.export] : undefined)
  if (typeof runner !== 'function') {
    const exported = Object.keys(namespace).join(', ') || 'nothing'
    throw new Error(`Module ${ref.module} has no exported function "${ref.export}" (it exports: ${exported})`)
  }
  return runner as TaskRunner
}

/** The runner's result as it crosses the IPC channel: `undefined` becomes null; non-JSON values fail. */
function toJson(value: unknown): JsonValue {
  if (value === undefined) return null
  const text = JSON.stringify(value)
  if (text === undefined) throw new Error(`The runner resolved with ${typeof value}; expected a JSON value`)
  return JSON.parse(text) as JsonValue
}

async function runTask(spec: TaskSpec): Promise<void> {
  const task: CurrentTask = { id: spec.id, listeners: [], inbox: [], settled: false }
  current = task
  const channel: TaskChannel = {
    executorId,
    send(body) {
      if (!task.settled) void send({ type: 'message', taskId: task.id, body })
    },
    onMessage(listener) {
      task.listeners.push(listener)
      for (const body of task.inbox.splice(0)) listener(body)
    },
  }
  try {
    const runner = await loadRunner(spec.runner)
    const value = toJson(await runner(spec.payload, channel))
    await settle(task, { type: 'done', taskId: task.id, value })
  } catch (error) {
    await settle(task, failure(task.id, error, false))
  }
}

function deliver(taskId: string, body: JsonValue): void {
  const task = current
  if (task === undefined || task.id !== taskId || task.settled) return
  if (task.listeners.length === 0) task.inbox.push(body)
  for (const listener of task.listeners) listener(body)
}

/** An error escaped the task (a timer callback threw, a promise nobody awaited rejected): fail it and exit. */
function onFatal(error: unknown): void {
  const described = error instanceof Error ? (error.stack ?? error.message) : String(error)
  process.stderr.write(`Uncaught in executor ${executorId}: ${described}\n`)
  const task = current
  if (task === undefined || task.settled) process.exit(1)
  void settle(task, failure(task.id, error, true)).finally(() => process.exit(1))
}

/**
 * Kills this process when its parent is gone. The IPC `disconnect` event covers an idle or
 * awaiting process; this thread covers a runner stuck in synchronous work, where no event runs.
 */
function startOrphanWatchdog(): void {
  const source = `
    const { workerData } = require('node:worker_threads')
    setInterval(() => {
      if (process.ppid !== workerData.ppid) process.kill(workerData.pid, 'SIGKILL')
    }, ${WATCHDOG_INTERVAL_MS})`
  const watchdog = new Worker(source, { eval: true, execArgv: [], workerData: { ppid: process.ppid, pid: process.pid } })
  watchdog.unref()
}

if (process.send === undefined) {
  process.stderr.write('worker-process is started by LocalProcessPool (child_process.fork with an IPC channel)\n')
  process.exit(2)
}
process.on('uncaughtException', onFatal)
process.on('unhandledRejection', onFatal)
process.on('disconnect', () => process.exit(0))
// Ctrl-C reaches the whole process group; the driver decides what happens to its executors.
process.on('SIGINT', () => undefined)
process.on('message', (message: unknown) => {
  if (!isParentToChild(message)) return
  if (message.type === 'message') {
    deliver(message.taskId, message.body)
  } else if (current !== undefined && !current.settled) {
    const busy = new Error(`Executor ${executorId} is still running task ${current.id}`)
    void send(failure(message.task.id, busy, false))
  } else {
    void runTask(message.task)
  }
})
// The task's runner loads while the driver still prepares its run; the watchdog thread can wait.
startPreloads()
void send({ type: 'ready' })
startOrphanWatchdog()
