// The contracts of the experiments layer: hyperparameters and spaces, the trial records the
// driver keeps, and the two pluggable parts (search algorithm, stopping rule). Implementations
// live one per file in algorithms/ and stopping/; the driver only sees these interfaces.

/** One hyperparameter value as a training function receives it. */
export type ParamValue = number | string | boolean

/** The hyperparameters of one trial, e.g. `{ lr: 0.01, dropout: 0.5 }`. */
export type Params = Record<string, ParamValue>

/** A float range, sampled uniformly or (with `log`) log-uniformly; `min <= x <= max`. */
export interface FloatSpec {
  type: 'float'
  min: number
  max: number
  /** Sample on a log scale (both bounds > 0). @defaultValue false */
  log?: boolean
}

/** An integer range, both bounds included. */
export interface IntSpec {
  type: 'int'
  min: number
  max: number
  /** Sample on a log scale (both bounds >= 1). @defaultValue false */
  log?: boolean
}

/** A choice among any number of values. */
export interface CategoricalSpec {
  type: 'categorical'
  choices: readonly ParamValue[]
}

/** A typed hyperparameter range, after normalisation. */
export type ParamSpec = FloatSpec | IntSpec | CategoricalSpec

/**
 * A search space as the user writes it. For `launch` and `gridSearch` a list is a list of values.
 * For the range-based algorithms (random, evolutionary, TPE) a list of two numbers is a range
 * (HopsML's `boundary_dict`: integers if both bounds are integers), any other list is a choice;
 * typed specs (`experiment.float(…)`, `int`, `categorical`) say it explicitly.
 */
export type SpaceInput = Record<string, readonly ParamValue[] | ParamSpec>

/** A validated space: every key has a typed spec. Key order is the user's order. */
export type SearchSpace = Record<string, ParamSpec>

/** Whether the search maximises or minimises its metric. */
export type Direction = 'max' | 'min'

/** Life of a trial, as the driver records it. */
export type TrialState = 'pending' | 'running' | 'finished' | 'failed' | 'stopped'

/** One intermediate result, from `ctx.report(step, metrics)`. */
export interface Report {
  step: number
  metrics: Record<string, number>
}

/**
 * What search algorithms and stopping rules see of a trial (read-only). `value` is the
 * search metric of a finished (or early-stopped) trial, in the metric's own sign: algorithms
 * apply `direction` themselves.
 */
export interface TrialView {
  /** Stable id within the run, e.g. `t0007`. */
  readonly id: string
  readonly params: Params
  readonly state: TrialState
  /** The search metric's final value (finished or stopped trials). */
  readonly value?: number
  /** The search metric's intermediate values by step, in report order. */
  readonly intermediate: readonly { step: number; value: number }[]
}

/** What a search algorithm is told once, before its first suggestion. */
export interface SearchSetup {
  space: SearchSpace
  direction: Direction
  /** Seed for every random choice the algorithm makes; same seed, same suggestions. */
  seed: number
}

/**
 * What an algorithm answers when asked for the next trial: parameters to run, `'wait'` (it
 * needs results of running trials first, e.g. the end of a DE generation) or `'done'`.
 */
export type Suggestion = { params: Params } | 'wait' | 'done'

/**
 * A search algorithm (Optuna's sampler, Ray Tune's searcher). The driver calls `setup` once,
 * then `suggest` whenever an executor is idle, passing every trial of the run so far
 * (including running ones), so the algorithm can be asynchronous: it may suggest again
 * before earlier suggestions have finished. `suggest` must be fast (no I/O) and deterministic
 * for a given seed and history. Finished trials are immutable.
 */
export interface SearchAlgorithm {
  readonly name: string
  setup(setup: SearchSetup): void
  suggest(trials: readonly TrialView[]): Suggestion
}

/**
 * An early-stopping rule (Optuna's pruner, Ray Tune's scheduler): asked after every
 * `ctx.report` of a running trial whether that trial should stop now. Pure: no I/O.
 */
export interface StoppingRule {
  readonly name: string
  shouldStop(trial: TrialView, trials: readonly TrialView[], direction: Direction): boolean
}
