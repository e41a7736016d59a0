// The embedded executor pool: slots `local-0 … local-(n-1)`, each backed by a worker process on
// this machine that is started on first use, reused across tasks and replaced after it dies.
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MaltError, describeValue } from '../../errors.js'
import type { Executor, ExecutorPool, RunningTask, TaskOutcome, TaskSpec } from '../types.js'
import { ExecutorProcess } from './executor-process.js'
import { EXECUTOR_PRELOAD_ENV } from './protocol.js'

/** Options of a {@link LocalProcessPool}. */
export interface LocalProcessPoolOptions {
  /** Number of executor slots (processes running at once). @defaultValue `os.availableParallelism()` */
  size?: number
  /** Environment of the executor processes, over the driver's `process.env`. @defaultValue `{}` */
  env?: Record<string, string | undefined>
  /**
   * Node flags for the executor processes, after the driver's own `process.execArgv` (which carries
   * tsx's loader, so a TypeScript driver gets TypeScript executors), e.g. `['--max-old-space-size=4096']`.
   * @defaultValue `[]`
   */
  execArgv?: string[]
  /** Milliseconds between SIGTERM and SIGKILL when the pool closes or retires an executor. @defaultValue 2000 */
  killGraceMs?: number
  /**
   * Write executor output that belongs to no task's `outputFile` (tasks without one, stray output
   * between tasks) to the driver's stdout/stderr; otherwise it is discarded. @defaultValue false
   */
  forwardOutput?: boolean
  /**
   * Modules (file URLs or specifiers) each executor process imports as soon as it starts, so a
   * task's runner is loaded while the driver still prepares the run (a failed preload is retried,
   * and its error reported, when a task needs the module). @defaultValue `[]`
   */
  preload?: string[]
}

const DEFAULT_KILL_GRACE_MS = 2000

/** Driver flags an executor must not inherit: they would run other code, a test runner, a watcher or a debugger port. */
const SKIPPED_FLAG = /^(-e|--eval|-p|--print|-i|--interactive|-c|--check|--test|--test-.*|--watch|--watch-.*|--inspect.*|--debug.*)$/
const FLAGS_WITH_VALUE = new Set(['-e', '--eval', '-p', '--print', '--watch-path', '--inspect-port', '--debug-port', '--test-reporter', '--test-reporter-destination', '--test-name-pattern', '--test-skip-pattern', '--test-concurrency', '--test-shard', '--test-timeout'])

/** The driver's Node flags that executor processes should share (loaders, memory limits, …). */
export function inheritedExecArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i]
    const name = flag.split('=', 1)[0]
    if (!SKIPPED_FLAG.test(name)) kept.push(flag)
    else if (!flag.includes('=') && FLAGS_WITH_VALUE.has(name)) i++
  }
  return kept
}

/** The worker-process entry beside this file: `.ts` when running under tsx, `.js` from dist. */
function workerEntry(): string {
  const here = fileURLToPath(import.meta.url)
  const names = extname(here) === '.ts' ? ['worker-process.ts', 'worker-process.js'] : ['worker-process.js', 'worker-process.ts']
  for (const name of names) {
    const path = join(dirname(here), name)
    if (existsSync(path)) return path
  }
  throw new MaltError('EXECUTOR_ENTRY_MISSING', `The executor entry ${names[0]} is missing from ${dirname(here)}; reinstall or rebuild Malt`)
}

function finishedTask(executorId: string, outcome: TaskOutcome): RunningTask {
  return { executorId, outcome: Promise.resolve(outcome), send: () => undefined, onMessage: () => undefined, cancel: () => undefined }
}

/** One slot of the pool; its process comes and goes, its id stays. */
class LocalExecutor implements Executor {
  process: ExecutorProcess | undefined
  running = false
  leased = false
  retired = false

  constructor(
    readonly id: string,
    private readonly runOn: (slot: LocalExecutor, task: TaskSpec) => RunningTask,
  ) {}

  run(task: TaskSpec): RunningTask {
    return this.runOn(this, task)
  }
}

interface Waiter {
  resolve(executor: Executor): void
  reject(error: Error): void
}

/**
 * Executors that are processes on this machine (the embedded default). A slot's process starts
 * when the slot is first acquired, keeps its loaded modules (the runner's module, TF.js) across
 * tasks, and is replaced by a fresh one after a crash, a time-out, a cancel or an error that
 * escaped its task. A task's stdout/stderr are appended to its `outputFile`; other executor
 * output is discarded unless `forwardOutput`. Call `close()` when done: live executors keep the
 * driver running. If the driver exits or gets SIGINT/SIGTERM/SIGHUP its executors are killed; if
 * it is killed outright, they notice the lost IPC channel (or a changed parent) and exit.
 *
 * @example
 * const pool = new LocalProcessPool({ size: 2 })
 * const executor = await pool.acquire()
 * const task = executor.run({ id: 't1', runner: { module: 'file:///…/train.js', export: 'run' }, payload: {} })
 * console.log(await task.outcome)
 * pool.release(executor)
 * await pool.close()
 */
export class LocalProcessPool implements ExecutorPool {
  private readonly slots: LocalExecutor[]
  private readonly waiters: Waiter[] = []
  private readonly processes = new Set<ExecutorProcess>()
  private readonly entry = workerEntry()
  private readonly execArgv: string[]
  private readonly env: NodeJS.ProcessEnv
  private readonly killGraceMs: number
  private readonly forwardOutput: boolean
  private closing: Promise<void> | undefined

  constructor(options: LocalProcessPoolOptions = {}) {
    const size = options.size ?? availableParallelism()
    if (!Number.isInteger(size) || size < 1) {
      throw new MaltError('EXECUTOR_BAD_OPTION', `LocalProcessPool option "size" must be a positive integer; received ${describeValue(size)}`)
    }
    const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS
    if (!Number.isFinite(killGraceMs) || killGraceMs < 0) {
      throw new MaltError('EXECUTOR_BAD_OPTION', `LocalProcessPool option "killGraceMs" must be a number >= 0; received ${describeValue(killGraceMs)}`)
    }
    const execArgv = options.execArgv ?? []
    if (!Array.isArray(execArgv) || execArgv.some((flag) => typeof flag !== 'string')) {
      throw new MaltError('EXECUTOR_BAD_OPTION', `LocalProcessPool option "execArgv" must be a list of strings; received ${describeValue(execArgv)}`)
    }
    this.execArgv = [...inheritedExecArgv(process.execArgv), ...execArgv]
    const preload = options.preload ?? []
    if (!Array.isArray(preload) || preload.some((module) => typeof module !== 'string' || module === '')) {
      throw new MaltError('EXECUTOR_BAD_OPTION', `LocalProcessPool option "preload" must be a list of module URLs; received ${describeValue(preload)}`)
    }
    this.env = { ...process.env, ...options.env, [EXECUTOR_PRELOAD_ENV]: preload.length > 0 ? JSON.stringify(preload) : undefined }
    this.killGraceMs = killGraceMs
    this.forwardOutput = options.forwardOutput ?? false
    this.slots = Array.from({ length: size }, (_, index) => new LocalExecutor(`local-${index}`, (slot, task) => this.runOn(slot, task)))
  }

  get capacity(): number {
    if (this.closing !== undefined) return 0
    return this.slots.filter((slot) => !slot.retired).length
  }

  /**
   * Resolves with an idle executor, starting its process if it has none; callers waiting for one
   * are served first come, first served.
   */
  acquire(): Promise<Executor> {
    if (this.closing !== undefined) return Promise.reject(this.closedError())
    if (this.capacity === 0) return Promise.reject(this.noneLeftError())
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject })
      this.serveWaiters()
    })
  }

  /** Gives the executor back; if its task is still ending (being cancelled), it becomes idle once it has. */
  release(executor: Executor): void {
    const slot = this.slotOf(executor)
    if (!slot.leased) return
    slot.leased = false
    this.serveWaiters()
  }

  /** Removes the executor for the rest of the pool's life and kills its process (a running task ends `cancelled`). */
  retire(executor: Executor): void {
    const slot = this.slotOf(executor)
    if (slot.retired) return
    slot.retired = true
    slot.leased = false
    const worker = slot.process
    slot.process = undefined
    void worker?.stop(`executor ${slot.id} was retired`, this.killGraceMs)
    if (this.capacity === 0) for (const waiter of this.waiters.splice(0)) waiter.reject(this.noneLeftError())
  }

  /** Stops every executor process (SIGTERM, then SIGKILL after `killGraceMs`); resolves when all have exited. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.closedError())
      for (const slot of this.slots) slot.process = undefined
      await Promise.all([...this.processes].map((worker) => worker.stop('the executor pool was closed', this.killGraceMs)))
    })()
    return this.closing
  }

  private runOn(slot: LocalExecutor, task: TaskSpec): RunningTask {
    if (slot.running) {
      throw new MaltError('EXECUTOR_BUSY', `Executor ${slot.id} is still running a task; wait for its outcome before running task ${task.id}`)
    }
    if (this.closing !== undefined || slot.retired) {
      const why = this.closing !== undefined ? 'the executor pool is closed' : `executor ${slot.id} was retired`
      return finishedTask(slot.id, { ok: false, reason: 'cancelled', message: `Task ${task.id} did not run: ${why}` })
    }
    const worker = this.ensureProcess(slot)
    slot.running = true
    const running = worker.run(task)
    void running.outcome.then(() => {
      slot.running = false
      if (!worker.reusable) {
        worker.signal('SIGKILL') // After a fatal error it is exiting anyway; do not wait for it.
        if (slot.process === worker) slot.process = undefined
      }
      this.serveWaiters()
    })
    return running
  }

  /**
   * Starts the processes of up to `count` slots now instead of at their first acquire, so that
   * Node, the loaders and the runner's modules load while the caller does its own set-up.
   */
  warm(count: number = this.slots.length): void {
    if (this.closing !== undefined) return
    for (const slot of this.slots.filter((candidate) => !candidate.retired).slice(0, count)) this.ensureProcess(slot)
  }

  /** The slot's live process, or a fresh one when it has none (never started, crashed, killed). */
  private ensureProcess(slot: LocalExecutor): ExecutorProcess {
    if (slot.process?.reusable === true) return slot.process
    slot.process?.signal('SIGKILL')
    slot.process = this.spawn(slot.id)
    return slot.process
  }

  private spawn(executorId: string): ExecutorProcess {
    const worker = new ExecutorProcess({
      executorId,
      entry: this.entry,
      execArgv: this.execArgv,
      env: this.env,
      forwardOutput: this.forwardOutput,
    })
    this.processes.add(worker)
    void worker.exited.then(() => this.processes.delete(worker))
    return worker
  }

  /** Hands idle slots to waiters in arrival order, warm slots (a live process) first. */
  private serveWaiters(): void {
    while (this.waiters.length > 0) {
      const idle = this.slots.filter((slot) => !slot.retired && !slot.leased && !slot.running)
      if (idle.length === 0) return
      const slot = idle.find((candidate) => candidate.process?.reusable === true) ?? idle[0]
      slot.leased = true
      this.ensureProcess(slot) // Start it now: it loads while the caller prepares its task.
      this.waiters.shift()?.resolve(slot)
    }
  }

  private slotOf(executor: Executor): LocalExecutor {
    const slot = this.slots.find((candidate) => candidate === executor)
    if (slot === undefined) {
      throw new MaltError('EXECUTOR_UNKNOWN', `Executor ${describeValue(executor.id)} does not belong to this LocalProcessPool`)
    }
    return slot
  }

  private noneLeftError(): MaltError {
    return new MaltError(
      'EXECUTOR_NONE_LEFT',
      `No executor left in the local pool: all ${this.slots.length} executors were blacklisted (retired) after repeated failures`,
    )
  }

  private closedError(): MaltError {
    return new MaltError('EXECUTOR_POOL_CLOSED', 'The local executor pool is closed; create a new LocalProcessPool to run more tasks')
  }
}
