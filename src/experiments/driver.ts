// The search driver: asks the algorithm for trials whenever an executor is idle (no barrier
// between trials), runs them on the executor pool, feeds intermediate reports to the stopping
// rule, retries crashed attempts elsewhere, blacklists failing executors, starts a speculative
// copy of the slowest trial when executors idle at the end, and persists every trial as it ends.
import { MaltError } from '../errors.js'
import type { Executor, ExecutorPool, JsonValue, RunningTask, TaskOutcome, RunnerRef } from '../cluster/types.js'
import type { ExperimentRecord, FunctionRef, TrialFailure, TrialRecord } from './records.js'
import type { TrialOutput, TrialPayload } from './trial-runner.js'
import type { Direction, Params, SearchAlgorithm, StoppingRule, TrialView } from './types.js'
import { trialName as nameOf } from './space.js'
import { decodeMetrics } from './metrics-wire.js'
import { bestTrial } from './best.js'

/** Where the driver persists what happens (the run's store and index). */
export interface RunSink {
  /** Directory of a trial, and of one attempt of it (attempt 1 = the trial dir). */
  trialDir(name: string): string
  attemptDir(trialDir: string, attempt: number): string
  writeTrialParams(trial: TrialRecord): Promise<void>
  writeTrialResult(trial: TrialRecord): Promise<void>
  writeExperiment(record: ExperimentRecord): Promise<void>
}

/** Live figures for a progress display. */
export interface SearchProgress {
  /** Trials expected in all, when the algorithm says. */
  total?: number
  finished: number
  running: number
  failed: number
  stopped: number
  best?: number
  /** Estimated time left, from the mean trial duration and the executors' count. */
  etaMs?: number
}

/** Everything one search run needs. */
export interface DriverSetup {
  fn: FunctionRef
  /** The task runner executors import (the trial runner module). */
  runner: RunnerRef
  algorithm: SearchAlgorithm
  stopping?: StoppingRule
  metric: string
  /** False when the user named no metric: a function returning one metric names it. */
  metricExplicit: boolean
  /** A plain launch records whatever the function returns; a search needs its metric. */
  metricOptional: boolean
  direction: Direction
  pool: ExecutorPool
  sink: RunSink
  record: ExperimentRecord
  maxRetries: number
  blacklistAfter: number
  trialTimeoutMs?: number
  speculative: boolean
  expectedTrials?: number
  signal?: AbortSignal
  /** Trials of an earlier, interrupted session of this run: reused when suggested again. */
  previous?: TrialRecord[]
  onProgress?(progress: SearchProgress): void
  onLog?(trial: TrialRecord, text: string): void
  /** Extra fields of every trial's payload (an ablation study's plan). */
  payloadExtras?: Record<string, JsonValue>
  /** Called once per trial when it ends (finished, stopped, failed), after it was persisted. */
  onTrialEnd?(trial: TrialRecord, progress: SearchProgress): void
}

interface Attempt {
  number: number
  executor: Executor
  task: RunningTask
  startedAt: number
}

interface LiveTrial {
  record: TrialRecord
  view: { id: string; params: Params; state: TrialView['state']; value?: number; intermediate: { step: number; value: number }[] }
  dir: string
  attempts: Map<number, Attempt>
  nextAttempt: number
  avoid: Set<string>
  stopSent: boolean
  /** A trial gets one speculative copy at most. */
  speculated: boolean
  firstStartedAt?: number
}

/** A speculative copy starts only after a trial ran this much longer than the median finished one. */
const SPECULATION_FACTOR = 1.25
const SPECULATION_POLL_MS = 200

/** Runs the search to its end; resolves with the final record (state finished, failed or killed). */
export async function runSearch(setup: DriverSetup): Promise<ExperimentRecord> {
  return new SearchRun(setup).run()
}

class SearchRun {
  private readonly trials: LiveTrial[] = []
  private readonly retryQueue: LiveTrial[] = []
  private readonly retired = new Set<string>()
  private readonly executors = new Map<string, Executor>()
  /** Per executor: trials that crashed there and then succeeded elsewhere (evidence against the machine). */
  private readonly blamedTrials = new Map<string, Set<string>>()
  private wakeUp: () => void = () => undefined
  private persistChain: Promise<void> = Promise.resolve()
  private fatal?: Error
  private algorithmDone = false

  constructor(private readonly setup: DriverSetup) {
    // Resume: the earlier session's trials come first, in their order, with their ids and names,
    // so the algorithm sees the same history; those that did not finish (failed, interrupted)
    // run again, their attempts numbered on from the earlier ones.
    for (const earlier of setup.previous ?? []) {
      const record: TrialRecord = structuredClone(earlier)
      const done = record.state === 'finished' || record.state === 'stopped'
      if (!done) record.state = 'pending'
      const trial: LiveTrial = {
        record,
        view: { id: record.id, params: record.params, state: record.state, value: done ? record.value : undefined, intermediate: [] },
        dir: setup.sink.trialDir(record.name),
        attempts: new Map(),
        nextAttempt: record.attempts + 1,
        avoid: new Set(),
        stopSent: false,
        speculated: false,
      }
      this.trials.push(trial)
      setup.record.trials.push(record)
      if (!done) this.retryQueue.push(trial)
    }
  }

  async run(): Promise<ExperimentRecord> {
    const { signal } = this.setup
    const onAbort = (): void => this.wakeUp()
    signal?.addEventListener('abort', onAbort)
    try {
      await this.loop()
    } catch (error) {
      this.fatal ??= error as Error
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    const killed = signal?.aborted === true
    if (killed || this.fatal) for (const trial of this.running()) this.cancelAll(trial, killed ? 'search killed' : 'search failed')
    await this.settleRunning()
    const record = this.setup.record
    record.state = killed ? 'killed' : this.fatal ? 'failed' : 'finished'
    record.finishedAt = new Date().toISOString()
    await this.persistExperiment()
    await this.persistChain
    if (this.fatal && !killed) throw this.fatal
    return record
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.setup.signal?.aborted || this.fatal) return
      if (this.algorithmDone && this.retryQueue.length === 0 && this.running().length === 0) return
      const changed = this.nextChange()
      const executor = await this.acquire()
      if (executor === undefined) return
      if (!this.dispatch(executor)) {
        this.setup.pool.release(executor)
        if (this.algorithmDone && this.retryQueue.length === 0 && this.running().length === 0) return
        await changed
      }
    }
  }

  /** Gives `executor` work: a retry, a new suggestion, or a speculative copy. False when there is none now. */
  private dispatch(executor: Executor): boolean {
    // A retry prefers an executor it has not failed on; once it has failed on every live one, any will do.
    const retryIndex = this.retryQueue.findIndex(
      (trial) => !trial.avoid.has(executor.id) || [...trial.avoid].filter((id) => !this.retired.has(id)).length >= this.setup.pool.capacity,
    )
    const retry = retryIndex >= 0 ? this.retryQueue.splice(retryIndex, 1)[0] : undefined
    if (retry) {
      this.startAttempt(retry, executor)
      return true
    }
    while (!this.algorithmDone) {
      const suggestion = this.setup.algorithm.suggest(this.trials.map((trial) => trial.view))
      if (suggestion === 'done') {
        this.algorithmDone = true
        break
      }
      if (suggestion === 'wait') {
        if (this.running().length === 0 && this.retryQueue.length === 0) {
          throw new MaltError(
            'EXPERIMENT_ALGORITHM_STUCK',
            `Search algorithm ${this.setup.algorithm.name} asked to wait while no trial is running`,
          )
        }
        return false
      }
      const trial = this.newTrial(suggestion.params)
      this.startAttempt(trial, executor)
      return true
    }
    const copyOf = this.setup.speculative ? this.speculationCandidate(executor) : undefined
    if (copyOf) {
      copyOf.speculated = true
      this.startAttempt(copyOf, executor)
      return true
    }
    return false
  }

  private newTrial(params: Params): LiveTrial {
    const id = `t${String(this.trials.length + 1).padStart(4, '0')}`
    let name = nameOf(params)
    const taken = new Set(this.trials.map((trial) => trial.record.name))
    for (let copy = 2; taken.has(name); copy++) name = `${nameOf(params)}~${copy}`
    const record: TrialRecord = { id, name, params, state: 'pending', metrics: {}, artifacts: [], attempts: 0, failures: [] }
    const trial: LiveTrial = {
      record,
      view: { id, params, state: 'pending', intermediate: [] },
      dir: this.setup.sink.trialDir(name),
      attempts: new Map(),
      nextAttempt: 1,
      avoid: new Set(),
      stopSent: false,
      speculated: false,
    }
    this.trials.push(trial)
    this.setup.record.trials.push(record)
    return trial
  }

  private startAttempt(trial: LiveTrial, executor: Executor): void {
    this.executors.set(executor.id, executor)
    const number = trial.nextAttempt++
    const logdir = this.setup.sink.attemptDir(trial.dir, number)
    const payload: TrialPayload = {
      trialId: trial.record.id,
      trialName: trial.record.name,
      params: trial.record.params,
      logdir,
      trialDir: trial.dir,
      attempt: number,
      fn: this.setup.fn,
      metricName: this.setup.metric,
      ...(this.setup.payloadExtras as Partial<TrialPayload> | undefined),
    }
    const task = executor.run({
      id: `${this.setup.record.appId}/${this.setup.record.runId}/${trial.record.id}/${number}`,
      runner: this.setup.runner,
      payload: payload as unknown as JsonValue,
      outputFile: `${logdir}/stdout.log`,
      timeoutMs: this.setup.trialTimeoutMs,
    })
    const now = Date.now()
    trial.attempts.set(number, { number, executor, task, startedAt: now })
    trial.firstStartedAt ??= now
    trial.record.attempts = Math.max(trial.record.attempts, number)
    trial.record.startedAt ??= new Date(now).toISOString()
    if (trial.record.state === 'pending') {
      trial.record.state = 'running'
      trial.view.state = 'running'
      const snapshot = structuredClone(trial.record)
      this.persist(() => this.setup.sink.writeTrialParams(snapshot))
    }
    if (trial.stopSent) task.send({ type: 'stop' })
    task.onMessage((message) => this.onMessage(trial, message))
    void task.outcome.then((outcome) => this.onOutcome(trial, number, executor, outcome))
    this.progress()
  }

  private onMessage(trial: LiveTrial, message: JsonValue): void {
    const body = message as { type?: string; step?: number; metrics?: Record<string, number>; text?: string }
    if (body.type === 'log' && typeof body.text === 'string') {
      const onLog = this.setup.onLog
      const text = body.text
      if (onLog) safely('onLog', () => onLog(trial.record, text))
      return
    }
    if (body.type !== 'report' || typeof body.step !== 'number' || !body.metrics) return
    const value = decodeMetrics(body.metrics)[this.setup.metric]
    const last = trial.view.intermediate.at(-1)
    // Speculative copies report the same steps again: keep one curve, moving forward only.
    if (typeof value !== 'number' || Number.isNaN(value) || (last && body.step <= last.step)) return
    trial.view.intermediate.push({ step: body.step, value })
    const rule = this.setup.stopping
    if (rule && !trial.stopSent && rule.shouldStop(trial.view, this.trials.map((t) => t.view), this.setup.direction)) {
      trial.stopSent = true
      for (const attempt of trial.attempts.values()) attempt.task.send({ type: 'stop' })
    }
  }

  private onOutcome(trial: LiveTrial, number: number, executor: Executor, outcome: TaskOutcome): void {
    trial.attempts.delete(number)
    if (!this.retired.has(executor.id)) this.setup.pool.release(executor)
    if (outcome.ok) this.blameCrashedExecutors(trial, executor)
    const final = trial.record.state === 'finished' || trial.record.state === 'stopped' || trial.record.state === 'failed'
    if (final) return this.wakeUp() // another attempt already decided this trial
    if (outcome.ok) this.finish(trial, number, executor, decodeOutput(outcome.value))
    else if (outcome.reason === 'cancelled' && this.setup.signal?.aborted) this.interrupted(trial, number, executor, outcome)
    else this.fail(trial, number, executor, outcome)
    this.wakeUp()
  }

  private finish(trial: LiveTrial, number: number, executor: Executor, output: TrialOutput): void {
    const names = Object.keys(output.metrics)
    if (!this.setup.metricExplicit && output.metrics[this.setup.metric] === undefined && names.length === 1) {
      // The function returns one metric and the user named none: that is the metric.
      this.setup.metric = names[0]
      this.setup.record.metric = names[0]
      this.setup.metricExplicit = true
    }
    const { metric } = this.setup
    const lastReported = trial.view.intermediate.at(-1)?.value
    const value = output.metrics[metric] ?? (output.stopped ? lastReported : undefined)
    if (value !== undefined && !Number.isFinite(value)) {
      // As Optuna: a NaN/infinite objective fails the trial (a diverged run), not the search.
      trial.record.metrics = output.metrics
      return this.fail(trial, number, executor, { ok: false, reason: 'error', message: `The training function returned ${metric} = ${value}` })
    }
    const produced = this.trials.some((other) => other.record.value !== undefined)
    if (value === undefined && !this.setup.metricOptional && produced) {
      // Other trials returned the metric: only this one is wrong.
      trial.record.metrics = output.metrics
      return this.fail(trial, number, executor, { ok: false, reason: 'error', message: `The training function returned no ${JSON.stringify(metric)} (metrics: ${names.join(', ') || 'none'})` })
    }
    if (value === undefined && !this.setup.metricOptional) {
      this.fatal ??= new MaltError(
        'EXPERIMENT_UNKNOWN_METRIC',
        `Trial ${trial.record.name} returned ${names.length ? `metrics ${names.join(', ')}` : 'no metrics'} but the search ` +
          `optimises ${JSON.stringify(metric)}: return it from the training function or pass { metric: '<one of them>' }`,
      )
    }
    const stopped = output.stopped || trial.stopSent
    Object.assign(trial.record, {
      state: value === undefined && !this.setup.metricOptional ? 'failed' : stopped ? 'stopped' : 'finished',
      value,
      metrics: output.metrics,
      artifacts: output.artifacts,
      attempt: number,
      executor: executor.id,
      earlyStopped: stopped || undefined,
    })
    trial.view.state = trial.record.state
    trial.view.value = value
    this.cancelAll(trial, 'another attempt of this trial finished first')
    this.complete(trial)
  }

  private fail(trial: LiveTrial, number: number, executor: Executor, outcome: Extract<TaskOutcome, { ok: false }>): void {
    const failure: TrialFailure = { reason: outcome.reason, message: outcome.message, executor: executor.id, attempt: number }
    if (outcome.stack) failure.stack = outcome.stack
    trial.record.failures.push(failure)
    if (outcome.reason === 'error') {
      // The function itself threw: every copy would, so the trial fails now.
      this.cancelAll(trial, 'another attempt of this trial failed with an error')
    } else if (trial.attempts.size > 0) {
      return // a speculative copy is still running
    }
    const crashes = trial.record.failures.filter((f) => f.reason === 'crash' || f.reason === 'timeout').length
    // Cancelled without a kill of the search: its executor was retired (blacklisted) under it.
    const retryable = outcome.reason === 'crash' || outcome.reason === 'timeout' || outcome.reason === 'cancelled'
    if (retryable && crashes <= this.setup.maxRetries && this.setup.pool.capacity > 0 && !this.setup.signal?.aborted) {
      trial.avoid.add(executor.id)
      this.retryQueue.push(trial)
      this.persistTrial(trial)
      return
    }
    trial.record.state = 'failed'
    trial.view.state = 'failed'
    this.complete(trial)
  }

  /** Killed mid-trial: not a failure of the trial; it stays pending and runs again on resume. */
  private interrupted(trial: LiveTrial, number: number, executor: Executor, outcome: Extract<TaskOutcome, { ok: false }>): void {
    trial.record.failures.push({ reason: 'cancelled', message: outcome.message, executor: executor.id, attempt: number })
    if (trial.attempts.size > 0) return
    trial.record.state = 'pending'
    trial.view.state = 'pending'
    this.persistTrial(trial)
  }

  private complete(trial: LiveTrial): void {
    const finishedAt = Date.now()
    trial.record.finishedAt = new Date(finishedAt).toISOString()
    if (trial.firstStartedAt !== undefined) trial.record.durationMs = finishedAt - trial.firstStartedAt
    this.setup.record.best = bestTrial(this.setup.record.trials, this.setup.direction)
    this.persistTrial(trial)
    this.progress()
    const snapshot = structuredClone(trial.record)
    const onTrialEnd = this.setup.onTrialEnd
    if (onTrialEnd) void this.persistChain.then(() => safely('onTrialEnd', () => onTrialEnd(snapshot, this.snapshot())))
  }

  /**
   * A trial that crashed on some executors and then worked on `worked` points at those machines,
   * not at its parameters (a trial that crashes everywhere blames nobody). An executor blamed by
   * `blacklistAfter` different trials is retired for the rest of the run.
   */
  private blameCrashedExecutors(trial: LiveTrial, worked: Executor): void {
    for (const failure of trial.record.failures) {
      if (failure.reason !== 'crash' || failure.executor === undefined || failure.executor === worked.id) continue
      const blamed = this.blamedTrials.get(failure.executor) ?? new Set<string>()
      blamed.add(trial.record.id)
      this.blamedTrials.set(failure.executor, blamed)
      const executor = this.executors.get(failure.executor)
      if (executor && blamed.size >= this.setup.blacklistAfter && !this.retired.has(executor.id)) {
        this.retired.add(executor.id)
        this.setup.pool.retire(executor)
      }
    }
  }

  private speculationCandidate(executor: Executor): LiveTrial | undefined {
    const durations = this.trials
      .filter((trial) => trial.record.state === 'finished' && trial.record.durationMs !== undefined && !trial.record.reused)
      .map((trial) => trial.record.durationMs as number)
      .sort((a, b) => a - b)
    if (durations.length === 0) return undefined
    const median = durations[Math.floor(durations.length / 2)]
    const now = Date.now()
    const startOf = (trial: LiveTrial): number => [...trial.attempts.values()][0].startedAt
    const slowest = this.running()
      .filter((trial) => trial.record.state === 'running' && !trial.speculated && trial.attempts.size === 1 && !trial.avoid.has(executor.id))
      .sort((a, b) => startOf(a) - startOf(b))[0]
    if (!slowest || now - startOf(slowest) < SPECULATION_FACTOR * median) return undefined
    return slowest
  }

  private running(): LiveTrial[] {
    return this.trials.filter((trial) => trial.attempts.size > 0)
  }

  private cancelAll(trial: LiveTrial, reason: string): void {
    for (const attempt of trial.attempts.values()) attempt.task.cancel(reason)
  }

  private async settleRunning(): Promise<void> {
    const pending = this.running().flatMap((trial) => [...trial.attempts.values()].map((attempt) => attempt.task.outcome))
    await Promise.all(pending)
    // Outcome handlers run in later microtasks; let them record before the final write.
    await new Promise((resolve) => setImmediate(resolve))
  }

  /** Resolves at the next trial event, or after a short poll while a speculative copy may become due. */
  private nextChange(): Promise<void> {
    return new Promise((resolve) => {
      const timer =
        this.setup.speculative && this.algorithmDone ? setTimeout(resolve, SPECULATION_POLL_MS) : undefined
      this.wakeUp = () => {
        if (timer) clearTimeout(timer)
        resolve()
      }
    })
  }

  private async acquire(): Promise<Executor | undefined> {
    const { signal } = this.setup
    if (signal?.aborted) return undefined
    let onAbort: () => void = () => undefined
    const aborted = new Promise<undefined>((resolve) => {
      onAbort = () => resolve(undefined)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
    const acquiring = this.setup.pool.acquire()
    try {
      const executor = await Promise.race([acquiring, aborted])
      if (executor === undefined) void acquiring.then((late) => this.setup.pool.release(late), () => undefined)
      return executor
    } catch (error) {
      // Every executor was blacklisted: fail what is left, keep what finished.
      this.fatal ??= error as Error
      for (const trial of this.retryQueue.splice(0)) {
        trial.record.state = 'failed'
        trial.view.state = 'failed'
        this.complete(trial)
      }
      return undefined
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  private persistTrial(trial: LiveTrial): void {
    const snapshot = structuredClone(trial.record)
    this.persist(() => this.setup.sink.writeTrialResult(snapshot))
    void this.persistExperiment()
  }

  private persistExperiment(): Promise<void> {
    const snapshot = structuredClone(this.setup.record)
    return this.persist(() => this.setup.sink.writeExperiment(snapshot))
  }

  /** Writes run one after another (result.json before experiment.json); a failed write ends the search. */
  private persist(write: () => Promise<void>): Promise<void> {
    this.persistChain = this.persistChain.then(write).catch((error: unknown) => {
      this.fatal ??= error as Error
      this.wakeUp()
    })
    return this.persistChain
  }

  private progress(): void {
    const onProgress = this.setup.onProgress
    if (onProgress) safely('onProgress', () => onProgress(this.snapshot()))
  }

  private snapshot(): SearchProgress {
    const records = this.trials.map((trial) => trial.record)
    const count = (state: TrialRecord['state']): number => records.filter((r) => r.state === state).length
    const finished = count('finished')
    const ended = records.filter((r) => r.durationMs !== undefined && !r.reused)
    const meanMs = ended.length ? ended.reduce((sum, r) => sum + (r.durationMs as number), 0) / ended.length : undefined
    const total = this.setup.expectedTrials
    const left = total === undefined ? undefined : Math.max(0, total - finished - count('failed') - count('stopped'))
    return {
      total,
      finished,
      running: this.running().length,
      failed: count('failed'),
      stopped: count('stopped'),
      best: this.setup.record.best?.value,
      etaMs: meanMs !== undefined && left !== undefined ? (meanMs * left) / Math.max(1, this.setup.pool.capacity) : undefined,
    }
  }
}

/** Runs a user callback; an error in it is reported, and the search goes on. */
function safely(name: string, callback: () => void): void {
  try {
    callback()
  } catch (error) {
    process.stderr.write(`malt: the ${name} callback threw (the search goes on): ${(error as Error)?.stack ?? String(error)}\n`)
  }
}

function decodeOutput(value: JsonValue): TrialOutput {
  const output = value as unknown as TrialOutput
  return { ...output, metrics: decodeMetrics(output.metrics as Record<string, number | string | null>) }
}
