// The driver's handle on one executor process: forks it, runs one task at a time on it, routes
// its stdout/stderr into the task's output file and turns every way a task can end into an outcome.
import { fork, type ChildProcess } from 'node:child_process'
import type { JsonValue, RunningTask, TaskOutcome, TaskSpec } from '../types.js'
import { killOnDriverExit } from './cleanup.js'
import { MarkerSplitter, TailBuffer, TaskOutputFile } from './output.js'
import {
  EXECUTOR_ID_ENV,
  endOfOutputMarker,
  isChildToParent,
  type ChildToParent,
  type DoneMessage,
  type FailedMessage,
  type ParentToChild,
} from './protocol.js'
import { describeCrash } from './crash.js'

/** How long to wait for the end-of-output markers once the child has reported (a closed stdout never sends one). */
const MARKER_WAIT_MS = 2000
/** How long to wait for the stdio pipes to close after the process exited (a grandchild may hold them open). */
const PIPE_CLOSE_WAIT_MS = 1000
const STDERR_TAIL_BYTES = 8192

/** How to start an executor process. */
export interface ExecutorProcessOptions {
  executorId: string
  /** Path of the worker-process entry module. */
  entry: string
  execArgv: string[]
  env: NodeJS.ProcessEnv
  /** Write output that belongs to no task file to the driver's own stdout/stderr. */
  forwardOutput: boolean
}

interface ActiveTask {
  readonly spec: TaskSpec
  readonly file: TaskOutputFile | undefined
  readonly listeners: ((message: JsonValue) => void)[]
  /** Driver messages waiting for the process to be ready. */
  readonly outbox: JsonValue[]
  readonly resolve: (outcome: TaskOutcome) => void
  started: boolean
  report?: DoneMessage | FailedMessage
  markersLeft: number
  /** Set when the driver killed the process on purpose (timeout, cancel, close). */
  killed?: { reason: 'timeout' | 'cancelled'; message: string }
  timers: NodeJS.Timeout[]
  finished: boolean
}

/** One forked executor process; runs one task at a time. */
export class ExecutorProcess {
  readonly pid: number | undefined
  /** Resolves when the process has exited and its pipes are drained. */
  readonly exited: Promise<void>
  private readonly child: ChildProcess
  private readonly stdout: MarkerSplitter
  private readonly stderr: MarkerSplitter
  private readonly stderrTail = new TailBuffer(STDERR_TAIL_BYTES)
  private ready = false
  private exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined
  private closed = false
  /** The child reported an error that escaped its task: it is exiting and must get no new task. */
  private doomed = false
  private task: ActiveTask | undefined
  private markExited: () => void = () => undefined
  private pipeWait: NodeJS.Timeout | undefined

  constructor(private readonly options: ExecutorProcessOptions) {
    this.exited = new Promise((resolve) => (this.markExited = resolve))
    this.child = fork(options.entry, [], {
      execArgv: options.execArgv,
      env: { ...options.env, [EXECUTOR_ID_ENV]: options.executorId },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    })
    this.pid = this.child.pid
    if (this.pid !== undefined) killOnDriverExit(this.child)
    this.stdout = new MarkerSplitter(
      (chunk, toTask) => this.route(chunk, toTask, process.stdout),
      () => this.markerSeen(),
    )
    this.stderr = new MarkerSplitter(
      (chunk, toTask) => {
        this.stderrTail.append(chunk)
        this.route(chunk, toTask, process.stderr)
      },
      () => this.markerSeen(),
    )
    this.child.stdout?.on('data', (chunk: Buffer) => this.stdout.push(chunk))
    this.child.stderr?.on('data', (chunk: Buffer) => this.stderr.push(chunk))
    this.child.on('message', (message: unknown) => {
      if (isChildToParent(message)) this.received(message)
    })
    this.child.on('error', () => {
      // Spawning failed (no process will exit) or a send failed (the exit handler follows).
      if (this.child.pid === undefined) this.onClose()
    })
    this.child.once('exit', (code, signal) => {
      this.exitStatus = { code, signal }
      this.pipeWait = setTimeout(() => this.onClose(), PIPE_CLOSE_WAIT_MS)
    })
    this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      this.exitStatus ??= { code, signal }
      this.onClose()
    })
  }

  /** True while the process can take another task. */
  get reusable(): boolean {
    return !this.closed && this.exitStatus === undefined && !this.doomed
  }

  /** Starts `spec` on this process (once it is ready). */
  run(spec: TaskSpec): RunningTask {
    let resolve: (outcome: TaskOutcome) => void = () => undefined
    const outcome = new Promise<TaskOutcome>((done) => (resolve = done))
    const task: ActiveTask = {
      spec,
      file: spec.outputFile === undefined ? undefined : new TaskOutputFile(spec.outputFile),
      listeners: [],
      outbox: [],
      resolve,
      started: false,
      markersLeft: 2,
      timers: [],
      finished: false,
    }
    this.task = task
    if (spec.timeoutMs !== undefined && Number.isFinite(spec.timeoutMs) && spec.timeoutMs > 0) {
      const message = `Task ${spec.id} exceeded its time limit of ${spec.timeoutMs / 1000} s on executor ${this.options.executorId}`
      task.timers.push(setTimeout(() => this.kill(task, 'timeout', message), spec.timeoutMs))
    }
    if (this.closed) this.finish(task, this.crashOutcome(task))
    else if (this.ready) this.start(task)
    return {
      executorId: this.options.executorId,
      outcome,
      send: (body) => {
        if (task.finished) return
        if (task.started) this.post({ type: 'message', taskId: spec.id, body })
        else task.outbox.push(body)
      },
      onMessage: (listener) => void task.listeners.push(listener),
      cancel: (reason) => this.kill(task, 'cancelled', `Task ${spec.id} was cancelled: ${reason}`),
    }
  }

  /** Signals the process (no-op once it has exited). */
  signal(signal: NodeJS.Signals): void {
    if (this.exitStatus !== undefined || this.closed) return
    try {
      this.child.kill(signal)
    } catch {
      // Already gone.
    }
  }

  /**
   * Stops the process: SIGTERM, then SIGKILL after `graceMs`. A running task ends `cancelled`
   * with `why`. Resolves when it has exited.
   */
  async stop(why: string, graceMs: number): Promise<void> {
    const task = this.task
    if (task !== undefined && task.report === undefined) task.killed ??= { reason: 'cancelled', message: `Task ${task.spec.id} was cancelled: ${why}` }
    this.signal('SIGTERM')
    const escalate = setTimeout(() => this.signal('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(escalate)
  }

  private kill(task: ActiveTask, reason: 'timeout' | 'cancelled', message: string): void {
    if (task.finished || task !== this.task || this.exitStatus !== undefined) return
    if (task.report !== undefined) {
      this.finish(task, outcomeOf(task.report)) // It had already ended; only its output was in flight.
      return
    }
    task.killed ??= { reason, message }
    // Dying now: the task may still settle from a report already on its way before the signal
    // lands, and the process must not take the next task (the SIGKILL would kill that one).
    this.doomed = true
    this.signal('SIGKILL')
  }

  private post(message: ParentToChild): void {
    try {
      this.child.send(message, (error) => {
        if (error !== null && error !== undefined) this.signal('SIGKILL') // A broken channel: treat as a crash.
      })
    } catch {
      this.signal('SIGKILL')
    }
  }

  private start(task: ActiveTask): void {
    task.started = true
    this.stderrTail.clear()
    const marker = endOfOutputMarker(task.spec.id)
    this.stdout.expect(marker)
    this.stderr.expect(marker)
    this.post({ type: 'run', task: task.spec })
    for (const body of task.outbox.splice(0)) this.post({ type: 'message', taskId: task.spec.id, body })
  }

  private received(message: ChildToParent): void {
    if (message.type === 'ready') {
      this.ready = true
      if (this.task !== undefined && !this.task.started && this.task.killed === undefined) this.start(this.task)
      return
    }
    const task = this.task
    if (task === undefined || task.spec.id !== message.taskId || task.finished) return
    if (message.type === 'message') {
      for (const listener of task.listeners) listener(message.body)
      return
    }
    if (message.type === 'failed' && message.fatal === true) this.doomed = true
    task.report ??= message
    if (task.markersLeft === 0) this.finish(task, outcomeOf(message))
    else task.timers.push(setTimeout(() => this.finish(task, outcomeOf(message)), MARKER_WAIT_MS))
  }

  private markerSeen(): void {
    const task = this.task
    if (task === undefined) return
    task.markersLeft -= 1
    if (task.markersLeft === 0 && task.report !== undefined) this.finish(task, outcomeOf(task.report))
  }

  private route(chunk: Buffer, toTask: boolean, forwardTo: NodeJS.WriteStream): void {
    const file = toTask ? this.task?.file : undefined
    if (file !== undefined) file.write(chunk)
    else if (this.options.forwardOutput) forwardTo.write(chunk)
  }

  private onClose(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.pipeWait)
    this.stdout.stop()
    this.stderr.stop()
    // Normally closed already; after the fallback wait, a grandchild holding the pipes must not keep the driver alive.
    this.child.stdout?.destroy()
    this.child.stderr?.destroy()
    const task = this.task
    if (task !== undefined) {
      if (task.killed !== undefined) this.finish(task, { ok: false, ...task.killed })
      else if (task.report !== undefined) this.finish(task, outcomeOf(task.report))
      else this.finish(task, this.crashOutcome(task))
    }
    this.markExited()
  }

  private crashOutcome(task: ActiveTask): TaskOutcome {
    const message = describeCrash({
      executorId: this.options.executorId,
      pid: this.pid,
      taskId: task.spec.id,
      started: task.started,
      code: this.exitStatus?.code ?? null,
      signal: this.exitStatus?.signal ?? null,
      stderr: this.stderrTail.text(),
    })
    return { ok: false, reason: 'crash', message }
  }

  /** Ends the task once: stops its timers and its output routing, flushes its file, then resolves. */
  private finish(task: ActiveTask, outcome: TaskOutcome): void {
    if (task.finished) return
    task.finished = true
    for (const timer of task.timers) clearTimeout(timer)
    if (this.task === task) {
      this.stdout.stop()
      this.stderr.stop()
    }
    const settle = (): void => {
      if (this.task === task) this.task = undefined
      task.resolve(outcome)
    }
    if (task.file === undefined) settle()
    else void task.file.close().then(settle)
  }
}

function outcomeOf(report: DoneMessage | FailedMessage): TaskOutcome {
  if (report.type === 'done') return { ok: true, value: report.value ?? null }
  return { ok: false, reason: 'error', message: report.message, ...(report.stack === undefined ? {} : { stack: report.stack }) }
}
