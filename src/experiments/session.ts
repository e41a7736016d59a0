// One experiment run from start to end: validates the options, creates the run's directory
// and index row, starts the executor pool, runs the driver, marks the run killed on Ctrl-C
// (leaving no executor process behind) and closes everything.
import { availableParallelism, hostname } from 'node:os'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { MaltError, describeValue } from '../errors.js'
import { LocalProcessPool } from '../cluster/local/pool.js'
import type { ExecutorPool, JsonValue, RunnerRef } from '../cluster/types.js'
import type { AblationPlan } from './ablation-model.js'
import { runSearch, type RunSink } from './driver.js'
import { createSearchDisplay } from './progress.js'
import type { ExperimentKind, ExperimentRecord, FunctionRef, TrialRecord } from './records.js'
import { ExperimentIndex } from './store/index-db.js'
import { attemptDir } from './store/layout.js'
import { RunStore } from './store/run-store.js'
import { ASHA, MedianStoppingRule } from './stopping/index.js'
import type { Direction, ParamValue, SearchAlgorithm, StoppingRule } from './types.js'
import { writeHparamsExperiment, type HparamConfig, type HparamsExperimentConfig } from './tensorboard/index.js'
import { sharedThreadsEnv } from '../backend/threads.js'

/** An early-stopping rule by name (defaults of {@link MedianStoppingRule} / {@link ASHA}) or an instance. */
export type StoppingChoice = StoppingRule | 'median' | 'asha' | false

function resolveStopping(choice: StoppingChoice | undefined): StoppingRule | undefined {
  if (choice === undefined || choice === false) return undefined
  if (choice === 'median') return new MedianStoppingRule()
  if (choice === 'asha') return new ASHA()
  if (typeof choice === 'object' && choice !== null && typeof choice.shouldStop === 'function') return choice
  throw new MaltError(
    'EXPERIMENT_BAD_OPTION',
    `Option stopping: expected 'median', 'asha' or an object with shouldStop(); received ${describeValue(choice)}`,
  )
}

/** Options every experiment function takes. */
export interface ExperimentOptions {
  /** The experiment's name. @defaultValue the training function's export name */
  name?: string
  /** The metric to optimise, a key of what the function returns. @defaultValue `'metric'` (what a bare number is recorded as) */
  metric?: string
  /** Maximise or minimise the metric. @defaultValue 'max' */
  direction?: Direction
  /** Executor processes, or a pool (the cluster's, later). @defaultValue one per core */
  executors?: number | ExecutorPool
  /** Where runs are kept. @defaultValue $MALT_HOME, else ./malt-home */
  home?: string
  /** Files copied into the run (the code that produced it), relative to the working directory. */
  versionedResources?: string[]
  /** Times a crashed or timed-out trial is run again, on another executor when there is one. @defaultValue 2 */
  maxRetries?: number
  /** Crashes after which an executor is blacklisted for the rest of the run. @defaultValue 2 */
  blacklistAfter?: number
  /** Wall-clock limit per trial attempt, in milliseconds. @defaultValue none */
  trialTimeout?: number
  /** Start a second copy of the slowest trial when executors idle at the end (first result wins). @defaultValue true */
  speculative?: boolean
  /** Early stopping from `ctx.report`: `'median'`, `'asha'` or a rule. @defaultValue none */
  stopping?: StoppingChoice
  /** Progress on stderr (a bar on a terminal, a line per trial elsewhere). @defaultValue true */
  progress?: boolean
  /** Aborting it kills the run's trials and marks the run killed (it can be resumed). */
  signal?: AbortSignal
  /** Called when each trial ends, after its result was stored. */
  onTrialEnd?(trial: TrialRecord): void
  /** Receives `ctx.log` lines. */
  onLog?(trial: TrialRecord, text: string): void
}

/** What an experiment resolves with. */
export interface ExperimentResult {
  /** The index id (`malt experiments show ID`). */
  id: number
  runDir: string
  /** `skipped`: the call ran inside an executor importing the script for another experiment's trial. */
  state: ExperimentRecord['state'] | 'skipped'
  metric: string
  direction: Direction
  best?: ExperimentRecord['best']
  trials: TrialRecord[]
}

/** What an `experiment.*` call returns in an executor that imports the script for another experiment. */
export const SKIPPED_IN_EXECUTOR: ExperimentResult = { id: 0, runDir: '', state: 'skipped', metric: '', direction: 'max', trials: [] }

/** Thrown by a search interrupted through `signal` (Ctrl-C ends the process instead, after cleaning up). */
export const EXPERIMENT_KILLED = 'EXPERIMENT_KILLED'

const DEFAULTS = { metric: 'metric', direction: 'max', maxRetries: 2, blacklistAfter: 2, speculative: true, progress: true } as const

function nonNegativeInteger(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `Option ${option}: expected a non-negative integer; received ${describeValue(value)}`)
  }
  return value
}

/** Checks the options shared by every search before anything starts. */
export function validateOptions(options: ExperimentOptions): void {
  if (options.direction !== undefined && options.direction !== 'max' && options.direction !== 'min') {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `Option direction: expected 'max' or 'min'; received ${describeValue(options.direction)}`)
  }
  if (options.metric !== undefined && (typeof options.metric !== 'string' || options.metric.trim() === '')) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `Option metric: expected a metric name (non-empty string); received ${describeValue(options.metric)}`)
  }
  nonNegativeInteger('maxRetries', options.maxRetries, 0)
  if (options.blacklistAfter !== undefined && nonNegativeInteger('blacklistAfter', options.blacklistAfter, 1) < 1) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `Option blacklistAfter: expected at least 1; received ${options.blacklistAfter}`)
  }
  if (options.trialTimeout !== undefined && !(typeof options.trialTimeout === 'number' && options.trialTimeout > 0)) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `Option trialTimeout: expected milliseconds > 0; received ${describeValue(options.trialTimeout)}`)
  }
  const executors = options.executors
  if (typeof executors === 'number' && !(Number.isInteger(executors) && executors >= 1)) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `Option executors: expected an integer >= 1; received ${describeValue(executors)}`)
  }
  if (options.versionedResources !== undefined && !Array.isArray(options.versionedResources)) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `Option versionedResources: expected a list of file paths; received ${describeValue(options.versionedResources)}`)
  }
}

/** The trial runner executors import: this build's own file (.ts under tsx, .js from dist). */
function trialRunnerRef(): RunnerRef {
  const ts = new URL('./trial-runner.ts', import.meta.url)
  const module = import.meta.url.endsWith('.ts') && existsSync(fileURLToPath(ts)) ? ts : new URL('./trial-runner.js', import.meta.url)
  return { module: module.href, export: 'runTrial' }
}

/**
 * Executors import the training function's module. A TypeScript module needs a loader in
 * the executor processes: inherited when this process runs under tsx, else tsx found from the
 * module's folder (e.g. `malt experiments resume` runs compiled, the user's train.ts is not).
 */
export function typescriptLoader(fn: FunctionRef): string[] {
  if (!/\.[cm]?ts$/.test(new URL(fn.module).pathname)) return []
  if (process.execArgv.some((flag) => flag.includes('tsx'))) return []
  const modulePath = fileURLToPath(fn.module)
  try {
    const packageJson = createRequire(modulePath).resolve('tsx/package.json')
    const manifest = JSON.parse(readFileSync(packageJson, 'utf8')) as { exports?: Record<string, unknown> }
    const entry = manifest.exports?.['.']
    const loader = typeof entry === 'string' ? entry : (entry as { import?: string } | undefined)?.import
    if (typeof loader === 'string') return ['--import', pathToFileURL(join(dirname(packageJson), loader)).href]
  } catch {
    // Not installed where the module lives: said below.
  }
  throw new MaltError(
    'EXPERIMENT_TYPESCRIPT_LOADER',
    `The training function's module ${modulePath} is TypeScript, and executor processes need tsx to import it: ` +
      'install it beside your code (npm install --save-dev tsx) or run your script with `npx tsx`',
  )
}

/** What a kind of search contributes to a run. */
export interface RunPlan {
  kind: ExperimentKind
  fn: FunctionRef
  algorithm: SearchAlgorithm
  space: unknown
  /** Options to store for resume (JSON). */
  storedOptions: Record<string, unknown>
  expectedTrials?: number
  /** Set for a plain launch: a missing metric is not an error there. */
  metricOptional?: boolean
  /** Resuming: the run to continue. */
  resume?: { runDir: string; record: ExperimentRecord }
  /** An ablation study's constant part, sent to every trial as `ctx.ablation`. */
  ablation?: AblationPlan
}

/** The JSON-safe part of the options, kept in experiment.json for resume and display. */
export function storable(options: object): Record<string, unknown> {
  const kept: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || typeof value === 'function' || key === 'signal' || (key === 'executors' && typeof value === 'object')) continue
    if (key === 'stopping' && typeof value === 'object') {
      kept[key] = (value as { name?: string }).name ?? 'custom'
      continue
    }
    kept[key] = value
  }
  return kept
}

/** Runs a planned experiment with the common options. */
export async function runExperiment(plan: RunPlan, options: ExperimentOptions): Promise<ExperimentResult> {
  validateOptions(options)
  const direction = options.direction ?? plan.resume?.record.direction ?? DEFAULTS.direction
  const metric = options.metric ?? plan.resume?.record.metric ?? DEFAULTS.metric
  const stopping = resolveStopping(options.stopping)
  const loaderArgs = typeof options.executors === 'object' ? [] : typescriptLoader(plan.fn)
  const executorCount = typeof options.executors === 'number' ? options.executors : availableParallelism()
  const name = options.name ?? plan.resume?.record.name ?? (plan.fn.export === 'default' ? 'experiment' : plan.fn.export)

  // Executors start first: their processes load while the run's files and index are prepared.
  const pool =
    typeof options.executors === 'object'
      ? options.executors
      : new LocalProcessPool({
          size: executorCount,
          execArgv: loaderArgs,
          env: sharedThreadsEnv(executorCount),
          preload: [trialRunnerRef().module],
        })
  if (pool instanceof LocalProcessPool) pool.warm(Math.min(executorCount, plan.expectedTrials ?? executorCount))
  const ownsPool = typeof options.executors !== 'object'
  const prepare = async (): Promise<{ store: RunStore; index: ExperimentIndex; record: ExperimentRecord; previous: TrialRecord[] }> => {
    const opened = plan.resume ? await RunStore.open(plan.resume.runDir) : undefined
    const store = opened?.store ?? (await RunStore.create({ home: options.home, name, kind: plan.kind }))
    const index = await ExperimentIndex.open(store.home)
    const previous = opened?.experiment.trials ?? []
    const record: ExperimentRecord = opened
      ? { ...opened.experiment, state: 'running', finishedAt: undefined, driver: { host: hostname(), pid: process.pid }, trials: [] }
      : {
          id: 0,
          appId: store.appId,
          runId: store.runId,
          name,
          kind: plan.kind,
          state: 'running',
          metric,
          direction,
          space: plan.space,
          options: plan.storedOptions,
          function: plan.fn,
          versionedResources: options.versionedResources ?? [],
          startedAt: new Date().toISOString(),
          driver: { host: hostname(), pid: process.pid },
          trials: [],
        }
    try {
      if (!opened) {
        // Missing resources fail here, before any trial runs.
        await store.copyVersionedResources(options.versionedResources ?? [])
        await store.captureEnvironment()
      }
      record.id = index.syncExperiment({ ...record, runDir: store.dir, plannedTrials: plan.expectedTrials })
      await store.writeExperiment(record)
    } catch (error) {
      index.close()
      throw error
    }
    return { store, index, record, previous }
  }
  let prepared: Awaited<ReturnType<typeof prepare>>
  try {
    prepared = await prepare()
  } catch (error) {
    if (ownsPool) await pool.close()
    throw error
  }
  const { store, index, record, previous } = prepared

  const display = options.progress ?? DEFAULTS.progress ? createSearchDisplay(`${name} ${plan.kind}`, metric) : undefined
  const interrupt = watchInterrupts(options.signal)
  const sink: RunSink = {
    trialDir: (trialName) => store.trialDir(trialName),
    attemptDir,
    writeTrialParams: async (trial) => void (await store.writeTrialParams(trial)),
    writeTrialResult: async (trial) => {
      await store.writeTrialResult(trial)
      index.upsertTrial(record.id, trial)
    },
    writeExperiment: async (snapshot) => {
      await store.writeExperiment(snapshot)
      // Trial rows were written as each trial ended: only the run's row changes here (a full
      // sync per trial costs O(trials), 115 ms at 1,000 trials).
      index.updateExperiment(snapshot.id, {
        state: snapshot.state,
        finishedAt: snapshot.finishedAt ?? null,
        best: snapshot.best ? { trialId: snapshot.best.trialId, value: snapshot.best.value } : null,
      })
    },
  }
  let final: ExperimentRecord
  try {
    final = await runSearch({
      fn: plan.fn,
      runner: trialRunnerRef(),
      algorithm: plan.algorithm,
      stopping,
      metric,
      metricOptional: plan.metricOptional ?? false,
      metricExplicit: options.metric !== undefined || plan.resume !== undefined,
      direction,
      pool,
      sink,
      record,
      maxRetries: options.maxRetries ?? DEFAULTS.maxRetries,
      blacklistAfter: options.blacklistAfter ?? DEFAULTS.blacklistAfter,
      trialTimeoutMs: options.trialTimeout,
      speculative: options.speculative ?? DEFAULTS.speculative,
      expectedTrials: plan.expectedTrials,
      signal: interrupt.signal,
      previous,
      onProgress: display ? (progress) => display.progress(progress) : undefined,
      onTrialEnd: (trial, progress) => {
        display?.trialEnded(trial, progress)
        options.onTrialEnd?.(trial)
      },
      onLog: options.onLog,
      payloadExtras: plan.ablation ? { ablation: plan.ablation as unknown as JsonValue } : undefined,
    })
  } finally {
    display?.stop()
    if (ownsPool) await pool.close()
    try {
      index.syncExperiment({ ...record, runDir: store.dir, plannedTrials: plan.expectedTrials })
    } finally {
      index.close()
    }
    interrupt.dispose()
  }
  // Written once every trial's metric names are known, so the HParams dashboard lists them all.
  await writeHparamsExperiment(store.dir, hparamsOfRun(final)).catch(() => undefined)
  if (final.state === 'killed') {
    interrupt.reraise()
    const how = plan.kind === 'custom' ? 'run it again (a search with your own algorithm cannot be resumed)' : `resume it with \`malt experiments resume ${final.id}\``
    throw new MaltError(EXPERIMENT_KILLED, `Experiment ${final.id} (${store.dir}) was killed; ${how}`)
  }
  return {
    id: final.id,
    runDir: store.dir,
    state: final.state,
    metric: final.metric,
    direction: final.direction,
    best: final.best,
    trials: final.trials,
  }
}

/** The hparams plugin's experiment summary, from the values the trials actually used. */
export function hparamsOfRun(record: ExperimentRecord): HparamsExperimentConfig {
  const values = new Map<string, ParamValue[]>()
  const metricNames = new Set<string>(record.metric ? [record.metric] : [])
  for (const trial of record.trials) {
    for (const [key, value] of Object.entries(trial.params)) {
      const list = values.get(key) ?? []
      if (!list.includes(value)) list.push(value)
      values.set(key, list)
    }
    for (const name of Object.keys(trial.metrics)) metricNames.add(name)
  }
  const hparams: HparamConfig[] = [...values].map(([name, list]) => {
    const numbers = list.filter((value): value is number => typeof value === 'number')
    // Many distinct numbers (random, evolutionary, TPE) read better as an interval in the dashboard.
    if (numbers.length === list.length && list.length > 10) return { name, domain: { min: Math.min(...numbers), max: Math.max(...numbers) } }
    return { name, domain: { values: list } }
  })
  return { name: record.name, hparams, metrics: [...metricNames].map((tag) => ({ tag })), timeCreatedMs: Date.parse(record.startedAt) }
}

/**
 * While a run is active, Ctrl-C / SIGTERM abort it (so it can be marked killed and its
 * executors stopped) instead of ending the process at once; `reraise` then ends the process
 * with that signal as the default handler would have, unless the program handles it itself.
 */
function watchInterrupts(userSignal: AbortSignal | undefined): { signal: AbortSignal; dispose(): void; reraise(): void } {
  const controller = new AbortController()
  let received: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    received = signal
    controller.abort(new MaltError(EXPERIMENT_KILLED, `Received ${signal}`))
  }
  const onUserAbort = (): void => controller.abort(userSignal?.reason)
  if (userSignal?.aborted) controller.abort(userSignal.reason)
  userSignal?.addEventListener('abort', onUserAbort, { once: true })
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const dispose = (): void => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    userSignal?.removeEventListener('abort', onUserAbort)
  }
  return {
    signal: controller.signal,
    dispose,
    reraise() {
      if (received && process.listenerCount(received) === 0) process.kill(process.pid, received)
    },
  }
}
