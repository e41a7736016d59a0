// Asynchronous successive halving (Li et al. 2020) as Optuna's SuccessiveHalvingPruner decides it: rungs
// at minResource·η^k steps; at a rung a trial goes on only if in the top 1/η recorded there so far.
import { MaltError, describeValue } from '../../errors.js'
import type { Direction, StoppingRule, TrialView } from '../types.js'

/** Options of {@link ASHA}; the defaults are Optuna's SuccessiveHalvingPruner's (η = 4, as Ray Tune's ASHAScheduler too). */
export interface AshaOptions {
  /** Step of the first rung (Ray Tune's `grace_period`): no trial is stopped before it. @defaultValue 1 */
  minResource?: number
  /** Ray Tune's name for `minResource`; give one or the other. */
  gracePeriod?: number
  /** η: rungs are η times further apart each, and the top 1/η go on. @defaultValue 4 */
  reductionFactor?: number
  /** s: the first rung is at minResource·η^s (Optuna's `min_early_stopping_rate`). @defaultValue 0 */
  minEarlyStoppingRate?: number
  /** No rung at or beyond this step (Ray Tune's `max_t`). @defaultValue Infinity */
  maxResource?: number
}

export const ASHA_DEFAULTS = { minResource: 1, reductionFactor: 4, minEarlyStoppingRate: 0, maxResource: Infinity } as const

function bad(option: string, expected: string, received: unknown): MaltError {
  return new MaltError('EXPERIMENT_BAD_OPTION', `ASHA: expected option ${option} to be ${expected}, received ${describeValue(received)}`, { location: { field: option } })
}

/** The value a trial recorded at a rung: that of its first report at or after the rung's step. */
function valueAtRung(trial: TrialView, rungStep: number): number | undefined {
  return trial.intermediate.find((r) => r.step >= rungStep)?.value
}

/**
 * Asked after each report of a running trial. The rungs its latest report reached for the first
 * time (rung step <= latest step, and no earlier report at or past it) are judged in order: the
 * trial's value there joins the values every other trial recorded at that rung so far, and the
 * trial is stopped unless its value is among the best ⌊n/η⌋ of those n values — or, while fewer
 * than η trials reached the rung, unless it is the best (Optuna's rule: no trial waits for
 * others). A NaN value at a rung stops the trial. Trials are never paused or resumed.
 */
export class ASHA implements StoppingRule {
  readonly name = 'asha'
  readonly minResource: number
  readonly reductionFactor: number
  readonly minEarlyStoppingRate: number
  readonly maxResource: number

  constructor(options: AshaOptions = {}) {
    const { gracePeriod, minResource } = options
    if (gracePeriod !== undefined && minResource !== undefined && gracePeriod !== minResource) {
      throw bad('gracePeriod', `the same as minResource (${minResource}); they are one option under two names`, gracePeriod)
    }
    const first = minResource ?? gracePeriod
    const firstName = minResource !== undefined ? 'minResource' : 'gracePeriod'
    if (first !== undefined && (typeof first !== 'number' || !Number.isFinite(first) || first <= 0)) throw bad(firstName, 'a number > 0', first)
    this.minResource = first ?? ASHA_DEFAULTS.minResource
    const eta = options.reductionFactor
    if (eta !== undefined && (typeof eta !== 'number' || !Number.isInteger(eta) || eta < 2)) throw bad('reductionFactor', 'an integer >= 2', eta)
    this.reductionFactor = eta ?? ASHA_DEFAULTS.reductionFactor
    const rate = options.minEarlyStoppingRate
    if (rate !== undefined && (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 0)) throw bad('minEarlyStoppingRate', 'an integer >= 0', rate)
    this.minEarlyStoppingRate = rate ?? ASHA_DEFAULTS.minEarlyStoppingRate
    const max = options.maxResource
    if (max !== undefined && (typeof max !== 'number' || Number.isNaN(max) || max <= this.minResource)) {
      throw bad('maxResource', `a number > minResource (${this.minResource})`, max)
    }
    this.maxResource = max ?? ASHA_DEFAULTS.maxResource
  }

  /** The step of rung k: minResource·η^(s + k). */
  rungStep(rung: number): number {
    return this.minResource * this.reductionFactor ** (this.minEarlyStoppingRate + rung)
  }

  shouldStop(trial: TrialView, trials: readonly TrialView[], direction: Direction): boolean {
    const reports = trial.intermediate
    if (reports.length === 0) return false
    const step = reports[reports.length - 1].step
    const previous = reports.slice(0, -1).reduce((max, r) => Math.max(max, r.step), -Infinity)
    const others = trials.filter((t) => t.id !== trial.id)
    for (let rung = 0; this.rungStep(rung) <= step && this.rungStep(rung) < this.maxResource; rung++) {
      const rungStep = this.rungStep(rung)
      if (previous >= rungStep) continue // judged at an earlier report, and it went on
      const value = valueAtRung(trial, rungStep) as number
      if (Number.isNaN(value)) return true
      const competing = [value]
      for (const other of others) {
        const recorded = valueAtRung(other, rungStep)
        if (recorded !== undefined && !Number.isNaN(recorded)) competing.push(recorded)
      }
      if (!this.promotable(value, competing, direction)) return true
    }
    return false
  }

  private promotable(value: number, competing: number[], direction: Direction): boolean {
    const kept = Math.max(1, Math.floor(competing.length / this.reductionFactor))
    competing.sort((a, b) => (direction === 'max' ? b - a : a - b))
    const threshold = competing[kept - 1]
    return direction === 'max' ? value >= threshold : value <= threshold
  }
}
