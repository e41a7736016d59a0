// The experiment functions users call: `launch` (one run, or zipped lists of runs), the
// searches (grid, random, evolutionary, TPE, any SearchAlgorithm) and `resume`. Each finds
// the training function's module, checks the space and options before anything runs, and
// hands a plan to the session.
import { hostname } from 'node:os'
import { MaltError, describeValue } from '../errors.js'
import { resolveFunctionRef } from './locate.js'
import { inExecutor, offerFromExecutor } from './executor-hook.js'
import { DifferentialEvolution, GridSearch, RandomSearch, TPE } from './algorithms/index.js'
import type { DifferentialEvolutionOptions, RandomSearchOptions, TpeOptions } from './algorithms/index.js'
import { FixedList } from './algorithms/fixed-list.js'
import { ablationRuns } from './ablation.js'
import { gridCombinations, normalizeRangeSpace, validateValueLists, zipCombinations } from './space.js'
import { SKIPPED_IN_EXECUTOR, runExperiment, storable, validateOptions, type ExperimentOptions, type ExperimentResult } from './session.js'
import type { FunctionRef } from './records.js'
import type { Direction, ParamValue, SearchAlgorithm, SpaceInput } from './types.js'
import { ExperimentIndex } from './store/index-db.js'
import { maltHome } from './store/layout.js'
import { loadExperiment } from './store/run-store.js'

/** A training function, or where to find one (`{ module: 'file:///…/train.js', export: 'train' }`). */
// Parameters typed `never`: any function of (params, ctx) fits, whatever its params' type
// (`(p: { lr: number }) => …` is not assignable to a function of `Params`).
export type TrainingFunctionRef = ((params: never, ctx: never) => unknown) | FunctionRef

/** Options of {@link launch}. */
export interface LaunchOptions extends ExperimentOptions {
  /** Hyperparameters; lists are zipped into several runs (`{a: [1, 2], b: [5, 3]}`: (1,5) and (2,3)). */
  params?: Record<string, ParamValue | readonly ParamValue[]>
}

async function locate(fn: TrainingFunctionRef): Promise<FunctionRef> {
  return resolveFunctionRef(fn)
}

function seedOf(options: { seed?: number }): number {
  const seed = options.seed ?? 0
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `Option seed: expected an integer; received ${describeValue(seed)}`)
  }
  return seed
}

/**
 * Runs the training function once with `params` (or once per zipped combination).
 * @example await experiment.launch(train, { name: 'mnist', params: { lr: 0.01 }, versionedResources: ['train.ts'] })
 */
export async function launch(fn: TrainingFunctionRef, options: LaunchOptions = {}): Promise<ExperimentResult> {
  if (inExecutor()) return offerFromExecutor(fn, 'launch', SKIPPED_IN_EXECUTOR)
  validateOptions(options)
  const runs = Object.keys(options.params ?? {}).length === 0 ? [{}] : zipCombinations(options.params ?? {})
  const algorithm = new FixedList(runs)
  algorithm.setup({ space: {}, direction: options.direction ?? 'max', seed: 0 })
  const { params, ...rest } = options
  return runExperiment(
    { kind: 'launch', fn: await locate(fn), algorithm, space: params ?? {}, storedOptions: storable(rest), expectedTrials: runs.length, metricOptional: true },
    rest,
  )
}

/**
 * Every combination of the value lists (the cartesian product), run in parallel.
 * @example await experiment.gridSearch(train, { lr: [0.001, 0.01], dropout: [0.5, 0.6] }, { metric: 'accuracy' }) // 4 trials
 */
export async function gridSearch(fn: TrainingFunctionRef, space: Record<string, readonly ParamValue[]>, options: ExperimentOptions = {}): Promise<ExperimentResult> {
  if (inExecutor()) return offerFromExecutor(fn, 'gridSearch', SKIPPED_IN_EXECUTOR)
  validateOptions(options)
  const lists = validateValueLists(space, 'gridSearch')
  const total = gridCombinations(lists).length
  const algorithm = new GridSearch()
  algorithm.setup({ space: normalizeRangeSpace(categoricalSpace(lists)), direction: options.direction ?? 'max', seed: 0 })
  return runExperiment({ kind: 'grid', fn: await locate(fn), algorithm, space, storedOptions: storable(options), expectedTrials: total }, options)
}

function categoricalSpace(lists: Record<string, readonly ParamValue[]>): SpaceInput {
  return Object.fromEntries(Object.entries(lists).map(([key, values]) => [key, { type: 'categorical', choices: values }]))
}

/** Options of {@link randomSearch}. */
export interface RandomSearchRunOptions extends ExperimentOptions, RandomSearchOptions {
  /** Seed of the draws. @defaultValue 0 */
  seed?: number
}

/**
 * `trials` distinct random combinations from ranges (`[min, max]`, `float`, `int`) and choices.
 * @example await experiment.randomSearch(train, { lr: experiment.float(1e-4, 1e-1, { log: true }), layers: [1, 4] }, { trials: 20, seed: 1 })
 */
export async function randomSearch(fn: TrainingFunctionRef, space: SpaceInput, options: RandomSearchRunOptions = {}): Promise<ExperimentResult> {
  const algorithm = new RandomSearch(options)
  return searchWith('random', fn, space, algorithm, options, algorithm.trials)
}

/** Options of {@link evolutionarySearch}. */
export interface EvolutionarySearchOptions extends ExperimentOptions, DifferentialEvolutionOptions {
  /** Seed of the initial population and the mutations. @defaultValue 0 */
  seed?: number
}

/**
 * Differential evolution (DE/rand/1/bin) over bounded ranges, as HopsML's evolutionary search.
 * @example await experiment.evolutionarySearch(train, { lr: [0.0001, 0.01], layers: [1, 5] }, { generations: 10, population: 8 })
 */
export async function evolutionarySearch(fn: TrainingFunctionRef, space: SpaceInput, options: EvolutionarySearchOptions = {}): Promise<ExperimentResult> {
  const algorithm = new DifferentialEvolution(options)
  return searchWith('evolutionary', fn, space, algorithm, options, algorithm.population * (algorithm.generations + 1))
}

/** Options of {@link bayesianSearch}. */
export interface BayesianSearchOptions extends ExperimentOptions, TpeOptions {
  /** Seed of the sampler. @defaultValue 0 */
  seed?: number
}

/**
 * Bayesian optimisation with the Tree-structured Parzen Estimator (Optuna's default sampler).
 * @example await experiment.bayesianSearch(train, { lr: experiment.float(1e-4, 1e-1, { log: true }) }, { trials: 30 })
 */
export async function bayesianSearch(fn: TrainingFunctionRef, space: SpaceInput, options: BayesianSearchOptions = {}): Promise<ExperimentResult> {
  const algorithm = new TPE(options)
  return searchWith('tpe', fn, space, algorithm, options, algorithm.trials)
}

/** Options of {@link search}. */
export interface CustomSearchOptions extends ExperimentOptions {
  seed?: number
  /** Trials expected, for the progress bar's total and ETA. */
  expectedTrials?: number
}

/** Runs any {@link SearchAlgorithm} (your own, or one of Malt's with custom options) over a space. */
export async function search(fn: TrainingFunctionRef, space: SpaceInput, algorithm: SearchAlgorithm, options: CustomSearchOptions = {}): Promise<ExperimentResult> {
  if (typeof algorithm?.suggest !== 'function' || typeof algorithm.setup !== 'function') {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `search: expected a SearchAlgorithm (setup, suggest); received ${describeValue(algorithm)}`)
  }
  return searchWith('custom', fn, space, algorithm, options, options.expectedTrials)
}

async function searchWith(
  kind: 'random' | 'evolutionary' | 'tpe' | 'custom',
  fn: TrainingFunctionRef,
  space: SpaceInput,
  algorithm: SearchAlgorithm,
  options: ExperimentOptions & { seed?: number },
  expectedTrials: number | undefined,
): Promise<ExperimentResult> {
  if (inExecutor()) return offerFromExecutor(fn, { random: 'randomSearch', evolutionary: 'evolutionarySearch', tpe: 'bayesianSearch', custom: 'search' }[kind], SKIPPED_IN_EXECUTOR)
  validateOptions(options)
  const direction: Direction = options.direction ?? 'max'
  algorithm.setup({ space: normalizeRangeSpace(space), direction, seed: seedOf(options) })
  return runExperiment({ kind, fn: await locate(fn), algorithm, space, storedOptions: storable(options), expectedTrials }, options)
}

/** Options of {@link resume}. */
export type ResumeOptions = Omit<ExperimentOptions, 'name' | 'metric' | 'direction' | 'versionedResources'>

/**
 * Continues an interrupted run (killed, or its driver died): finished trials are kept, the
 * rest run. `ref` is the index id, `<appId>/<runId>` or the run directory.
 */
export async function resume(ref: number | string, options: ResumeOptions = {}): Promise<ExperimentResult> {
  if (inExecutor()) return offerFromExecutor(undefined, 'resume', SKIPPED_IN_EXECUTOR)
  const home = options.home ?? maltHome()
  const index = await ExperimentIndex.open(home)
  let runDir: string
  try {
    const row = index.getExperiment(ref)
    if (!row) {
      throw new MaltError('EXPERIMENT_NOT_FOUND', `No experiment ${JSON.stringify(String(ref))} under ${home}; \`malt experiments list\` shows them`)
    }
    runDir = row.runDir
  } finally {
    index.close()
  }
  const { experiment: record } = await loadExperiment(runDir)
  if (record.state === 'finished') {
    throw new MaltError('EXPERIMENT_FINISHED', `Experiment ${record.id} (${runDir}) already finished; nothing to resume`)
  }
  if (record.state === 'running' && record.driver && driverAlive(record.driver)) {
    throw new MaltError(
      'EXPERIMENT_RUNNING',
      `Experiment ${record.id} is still running in process ${record.driver.pid} on ${record.driver.host}; stop it (Ctrl-C) before resuming`,
    )
  }
  const stored = record.options as Record<string, unknown>
  const algorithm = rebuildAlgorithm(record.kind, record.space, stored)
  const space =
    record.kind === 'launch' || record.kind === 'ablation'
      ? {}
      : normalizeRangeSpace(
          record.kind === 'grid' ? categoricalSpace(validateValueLists(record.space as Record<string, unknown>, 'gridSearch')) : (record.space as SpaceInput),
        )
  algorithm.setup({ space, direction: record.direction, seed: typeof stored.seed === 'number' ? stored.seed : 0 })
  const ablationPlan =
    record.kind === 'ablation' ? { features: (stored.features as string[]) ?? [], baseModel: stored.baseModel as FunctionRef | undefined } : undefined
  const expected = record.kind === 'grid' ? gridCombinations(record.space as Record<string, unknown>).length : record.kind === 'launch' ? undefined : (stored.trials as number | undefined)
  const { stopping, features: _features, layers: _layers, baseModel: _baseModel, ...rest } = stored as ExperimentOptions & Record<string, unknown>
  // A rule given as an object was stored by name only; the named ones can be rebuilt.
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as ResumeOptions
  const merged: ExperimentOptions = { ...rest, stopping: stopping === 'median' || stopping === 'asha' ? stopping : undefined, ...given, home }
  return runExperiment(
    {
      kind: record.kind,
      fn: record.function,
      algorithm,
      space: record.space,
      storedOptions: stored,
      expectedTrials: expected,
      metricOptional: record.kind === 'launch',
      resume: { runDir, record },
      ablation: ablationPlan,
    },
    merged,
  )
}

/** True when the driver process is this machine's and still alive (another machine's cannot be checked: assume dead). */
function driverAlive(driver: { host: string; pid: number }): boolean {
  if (driver.host !== hostname() || driver.pid === process.pid) return false
  try {
    process.kill(driver.pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function rebuildAlgorithm(kind: string, space: unknown, stored: Record<string, unknown>): SearchAlgorithm {
  switch (kind) {
    case 'launch': {
      const params = space as Record<string, ParamValue | readonly ParamValue[]>
      return new FixedList(Object.keys(params).length === 0 ? [{}] : zipCombinations(params))
    }
    case 'grid':
      return new GridSearch()
    case 'random':
      return new RandomSearch(stored as RandomSearchOptions)
    case 'evolutionary':
      return new DifferentialEvolution(stored as DifferentialEvolutionOptions)
    case 'tpe':
      return new TPE(stored as TpeOptions)
    case 'ablation':
      return new FixedList(ablationRuns((stored.features as string[]) ?? [], (stored.layers as string[][]) ?? []))
    case 'distributed':
      throw new MaltError('EXPERIMENT_NOT_RESUMABLE', 'A distributed training run cannot be resumed with `malt experiments resume`: train again (its checkpoints/ hold the center after each epoch)')
    default:
      throw new MaltError('EXPERIMENT_NOT_RESUMABLE', `Experiments of kind ${JSON.stringify(kind)} (a search with your own algorithm) cannot be resumed: Malt cannot rebuild the algorithm; run the search again`)
  }
}
