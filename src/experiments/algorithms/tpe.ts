// The Tree-structured Parzen Estimator, as Optuna's default TPESampler: random for the first
// trials, then the candidate that maximises l(x)/g(x) between the good and the bad trials.
import type { Direction, ParamSpec, ParamValue, Params, SearchAlgorithm, SearchSetup, Suggestion, TrialView } from '../types.js'
import type { SeededRandom } from '../../util/random.js'
import { badOption, booleanOption, integerOption, numberOption, randomFor, requireSetup, sampleSpace, toLoss } from './common.js'
import { ParzenEstimator, type ParzenParameters } from './parzen.js'

/** Options of {@link TPE}; defaults are those of Optuna 5's `TPESampler()`. */
export interface TpeOptions {
  /** Number of trials to run. @defaultValue 30 */
  trials?: number
  /** Trials drawn at random before the estimators are used (ended trials, failed ones excluded). @defaultValue 10 */
  nStartupTrials?: number
  /** Candidates drawn from l(x) per suggestion; the best l/g ratio wins. @defaultValue 24 */
  nEiCandidates?: number
  /** Weight of the prior kernel. @defaultValue 1 */
  priorWeight?: number
  /** Floor the bandwidths at range / min(100, 1 + kernels). @defaultValue true */
  magicClip?: boolean
  /** Let the bounds count as neighbours of the outermost kernels. @defaultValue false */
  considerEndpoints?: boolean
  /**
   * One joint estimator over all parameters (kernels keep an observation's parameters together),
   * as Optuna ≥ 5 does by default; false gives the classic univariate TPE (Optuna ≤ 4's default).
   * @defaultValue true
   */
  multivariate?: boolean
  /**
   * Count trials still running as bad ones (they join g(x)), so that parallel suggestions spread
   * out instead of piling onto the same spot (Optuna ≥ 5's default `constant_liar`).
   * @defaultValue true
   */
  constantLiar?: boolean
  /** How many of n ended trials are "good". @defaultValue n => min(ceil(0.1·n), 25) */
  gamma?: (n: number) => number
}

export const TPE_DEFAULTS = {
  trials: 30,
  nStartupTrials: 10,
  nEiCandidates: 24,
  priorWeight: 1,
  magicClip: true,
  considerEndpoints: false,
  multivariate: true,
  constantLiar: true,
} as const

/** Optuna's default split: the best 10% of the ended trials, at most 25, are good. */
export function defaultGamma(n: number): number {
  return Math.min(Math.ceil(0.1 * n), 25)
}

/** Optuna's kernel weights: equal up to 25 observations, then older ones ramp down from 1/n. */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1)
  const ramp = n - 25
  const weights = Array.from({ length: ramp }, (_, i) => (ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1)))
  return [...weights, ...new Array<number>(25).fill(1)]
}

function fits(spec: ParamSpec, value: ParamValue | undefined): boolean {
  if (spec.type === 'categorical') return spec.choices.some((choice) => choice === value)
  return typeof value === 'number' && value >= spec.min && value <= spec.max && (spec.type === 'float' || Number.isInteger(value))
}

interface Ranked {
  trial: TrialView
  /** Position in the history (Optuna's trial number). */
  order: number
}

/**
 * Splits the history as Optuna does: finished trials ranked by loss fill the good group first
 * (gamma(n) of the n ended trials), early-stopped ones (ranked by how far they got, then by
 * value) fill what is left; the rest are bad, and so are running trials under constant liar.
 * Failed trials are left out. Both groups come back in history order.
 */
export function splitTrials(trials: readonly TrialView[], direction: Direction, gamma: (n: number) => number, constantLiar: boolean): { good: TrialView[]; bad: TrialView[] } {
  const finished: Ranked[] = []
  const stopped: Ranked[] = []
  const running: Ranked[] = []
  for (const [order, trial] of trials.entries()) {
    const valid = trial.value !== undefined && !Number.isNaN(trial.value)
    if (trial.state === 'finished' && valid) finished.push({ trial, order })
    else if (trial.state === 'stopped' && valid) stopped.push({ trial, order })
    else if (trial.state === 'running' || trial.state === 'pending') running.push({ trial, order })
  }
  const loss = (r: Ranked): number => toLoss(r.trial.value as number, direction)
  const lastStep = (r: Ranked): number => r.trial.intermediate.reduce((max, { step }) => Math.max(max, step), -Infinity)
  finished.sort((a, b) => loss(a) - loss(b) || a.order - b.order)
  stopped.sort((a, b) => lastStep(b) - lastStep(a) || loss(a) - loss(b) || a.order - b.order)
  let wanted = Math.max(0, Math.min(gamma(finished.length + stopped.length), finished.length + stopped.length))
  const good = finished.slice(0, wanted)
  wanted -= good.length
  good.push(...stopped.slice(0, wanted))
  const goodSet = new Set(good)
  const bad = [...finished, ...stopped].filter((r) => !goodSet.has(r))
  if (constantLiar) bad.push(...running)
  const byOrder = (a: Ranked, b: Ranked): number => a.order - b.order
  return { good: good.sort(byOrder).map((r) => r.trial), bad: bad.sort(byOrder).map((r) => r.trial) }
}

/**
 * TPE (Bergstra et al. 2011; Optuna's TPESampler, Watanabe 2023). Until `nStartupTrials` trials
 * have ended it samples at random. Then, per suggestion: split the ended trials into good
 * (gamma(n)) and bad, fit a Parzen estimator l(x) on the good and g(x) on the bad (a truncated
 * Gaussian per observation with Optuna's bandwidth rule plus a prior kernel; categorical
 * kernels put extra mass on the observed choice; ints are discrete Gaussian masses), draw
 * `nEiCandidates` candidates from l and return the one with the largest log l − log g.
 *
 * Asynchronous: it suggests while others run (under constant liar the running ones count as
 * bad, so the next suggestion goes elsewhere). A suggestion is a pure function of the seed and
 * the history. TPE may suggest a combination twice in a small discrete space (as Optuna does).
 */
export class TPE implements SearchAlgorithm {
  readonly name = 'tpe'
  readonly trials: number
  readonly nStartupTrials: number
  readonly nEiCandidates: number
  readonly multivariate: boolean
  readonly constantLiar: boolean
  readonly gamma: (n: number) => number
  private readonly parzen: ParzenParameters
  private setupDone: SearchSetup | undefined

  constructor(options: TpeOptions = {}) {
    const owner = 'TPE'
    this.trials = integerOption(owner, 'trials', options.trials, TPE_DEFAULTS.trials, 1)
    this.nStartupTrials = integerOption(owner, 'nStartupTrials', options.nStartupTrials, TPE_DEFAULTS.nStartupTrials, 0)
    this.nEiCandidates = integerOption(owner, 'nEiCandidates', options.nEiCandidates, TPE_DEFAULTS.nEiCandidates, 1)
    this.multivariate = booleanOption(owner, 'multivariate', options.multivariate, TPE_DEFAULTS.multivariate)
    this.constantLiar = booleanOption(owner, 'constantLiar', options.constantLiar, TPE_DEFAULTS.constantLiar)
    if (options.gamma !== undefined && typeof options.gamma !== 'function') throw badOption(owner, 'gamma', 'a function of n', options.gamma)
    this.gamma = options.gamma ?? defaultGamma
    this.parzen = {
      priorWeight: numberOption(owner, 'priorWeight', options.priorWeight, TPE_DEFAULTS.priorWeight, Number.MIN_VALUE, Number.MAX_VALUE),
      magicClip: booleanOption(owner, 'magicClip', options.magicClip, TPE_DEFAULTS.magicClip),
      considerEndpoints: booleanOption(owner, 'considerEndpoints', options.considerEndpoints, TPE_DEFAULTS.considerEndpoints),
    }
  }

  setup(setup: SearchSetup): void {
    this.setupDone = setup
  }

  suggest(trials: readonly TrialView[]): Suggestion {
    const { space, seed, direction } = requireSetup('TPE', this.setupDone)
    if (trials.length >= this.trials) return 'done'
    const rng = randomFor(seed, trials.length)
    const ended = trials.filter((t) => (t.state === 'finished' || t.state === 'stopped') && t.value !== undefined && !Number.isNaN(t.value))
    if (ended.length < this.nStartupTrials) return { params: sampleSpace(space, rng) }

    const { good, bad } = splitTrials(trials, direction, this.gamma, this.constantLiar)
    const entries = Object.entries(space)
    const params: Params = {}
    // Parameters with a single possible value are not searched.
    const searched = entries.filter(([key, spec]) => {
      const single = spec.type === 'categorical' ? spec.choices.length === 1 : spec.min === spec.max
      if (single) params[key] = spec.type === 'categorical' ? spec.choices[0] : spec.min
      return !single
    })
    const groups = this.multivariate ? [searched] : searched.map((entry) => [entry])
    for (const group of groups) {
      if (group.length > 0) Object.assign(params, this.sampleGroup(group, good, bad, rng))
    }
    const ordered: Params = {}
    for (const [key] of entries) ordered[key] = params[key]
    return { params: ordered }
  }

  /** The best of `nEiCandidates` draws from l(x) by log l(x) − log g(x). */
  private sampleGroup(group: [string, ParamSpec][], good: readonly TrialView[], bad: readonly TrialView[], rng: SeededRandom): Params {
    // Trials whose values do not fit the space (an older space on resume) are left out.
    const usable = (trials: readonly TrialView[]): Params[] => trials.map((t) => t.params).filter((p) => group.every(([key, spec]) => fits(spec, p[key])))
    const [goodParams, badParams] = [usable(good), usable(bad)]
    const below = new ParzenEstimator(group, goodParams, defaultWeights(goodParams.length), this.parzen)
    const above = new ParzenEstimator(group, badParams, defaultWeights(badParams.length), this.parzen)
    let best: Params | undefined
    let bestScore = -Infinity
    for (const candidate of below.sample(rng, this.nEiCandidates)) {
      const score = below.logPdf(candidate) - above.logPdf(candidate)
      if (best === undefined || score > bestScore) {
        best = candidate
        bestScore = score
      }
    }
    return best as Params
  }
}
