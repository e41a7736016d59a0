// The median stopping rule (Optuna's MedianPruner, Golovin et al. 2017's Vizier rule): stop a
// trial whose best intermediate value is worse than the median of finished trials at that step.
import { MaltError, describeValue } from '../../errors.js'
import type { Direction, StoppingRule, TrialView } from '../types.js'

/** Options of {@link MedianStoppingRule}; the defaults are Optuna's MedianPruner's. */
export interface MedianStoppingOptions {
  /** No trial is stopped until this many trials have finished. @defaultValue 5 */
  nStartupTrials?: number
  /** No trial is stopped at a step below this. @defaultValue 0 */
  nWarmupSteps?: number
  /** Check only once per this many steps (counted from `nWarmupSteps`). @defaultValue 1 */
  intervalSteps?: number
  /** Finished trials with a value at the step needed for a decision. @defaultValue 1 */
  minTrials?: number
}

export const MEDIAN_STOPPING_DEFAULTS = { nStartupTrials: 5, nWarmupSteps: 0, intervalSteps: 1, minTrials: 1 } as const

function option(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', `MedianStoppingRule: expected option ${name} to be an integer >= ${min}, received ${describeValue(value)}`, {
      location: { field: name },
    })
  }
  return value
}

/** The q-th percentile (0..100) of finite values, interpolating linearly as numpy does. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const position = ((sorted.length - 1) * q) / 100
  const below = Math.floor(position)
  const above = Math.min(below + 1, sorted.length - 1)
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below)
}

/**
 * Asked after each report of a running trial. With `step` its latest reported step, it says
 * stop when: at least `nStartupTrials` trials have finished, `step >= nWarmupSteps`, this is
 * the first report in its interval of `intervalSteps`, at least `minTrials` finished trials
 * reported a value at exactly `step`, and the trial's best value so far (max for 'max', min
 * for 'min') is worse than their median. A trial whose values are all NaN is stopped.
 */
export class MedianStoppingRule implements StoppingRule {
  readonly name = 'median'
  readonly nStartupTrials: number
  readonly nWarmupSteps: number
  readonly intervalSteps: number
  readonly minTrials: number

  constructor(options: MedianStoppingOptions = {}) {
    this.nStartupTrials = option('nStartupTrials', options.nStartupTrials, MEDIAN_STOPPING_DEFAULTS.nStartupTrials, 0)
    this.nWarmupSteps = option('nWarmupSteps', options.nWarmupSteps, MEDIAN_STOPPING_DEFAULTS.nWarmupSteps, 0)
    this.intervalSteps = option('intervalSteps', options.intervalSteps, MEDIAN_STOPPING_DEFAULTS.intervalSteps, 1)
    this.minTrials = option('minTrials', options.minTrials, MEDIAN_STOPPING_DEFAULTS.minTrials, 1)
  }

  shouldStop(trial: TrialView, trials: readonly TrialView[], direction: Direction): boolean {
    const finished = trials.filter((t) => t.state === 'finished' && t.id !== trial.id)
    if (finished.length === 0 || finished.length < this.nStartupTrials) return false
    const reports = trial.intermediate
    if (reports.length === 0) return false
    const step = reports[reports.length - 1].step
    if (step < this.nWarmupSteps) return false
    if (!this.firstInInterval(step, reports)) return false
    const own = reports.map((r) => r.value).filter((v) => !Number.isNaN(v))
    if (own.length === 0) return true
    const best = direction === 'max' ? Math.max(...own) : Math.min(...own)
    const atStep = finished.flatMap((t) => {
      const report = t.intermediate.findLast((r) => r.step === step)
      return report === undefined ? [] : [report.value]
    })
    if (atStep.length < this.minTrials) return false
    const median = percentile(atStep, 50)
    if (Number.isNaN(median)) return false
    return direction === 'max' ? best < median : best > median
  }

  /** True when no earlier report falls in the same interval as `step` (so each interval is judged once). */
  private firstInInterval(step: number, reports: readonly { step: number }[]): boolean {
    const intervalStart = Math.floor((step - this.nWarmupSteps) / this.intervalSteps) * this.intervalSteps + this.nWarmupSteps
    const previous = reports.reduce((max, r) => (r.step !== step && r.step > max ? r.step : max), -Infinity)
    return previous < intervalStart
  }
}
