// The best trial of a run: the highest (or lowest) metric among trials that produced one.
// Early-stopped trials count with the value they stopped at, as Optuna's pruned trials do not:
// here a stopped trial's value is real but partial, so it only wins if it beat every finished one.
import type { BestTrial, TrialRecord } from './records.js'
import type { Direction } from './types.js'

/** The best trial by `direction`, or undefined when none has a finite value. */
export function bestTrial(trials: readonly TrialRecord[], direction: Direction): BestTrial | undefined {
  let best: TrialRecord | undefined
  for (const trial of trials) {
    if ((trial.state !== 'finished' && trial.state !== 'stopped') || trial.value === undefined) continue
    if (!Number.isFinite(trial.value)) continue
    if (best === undefined || (direction === 'max' ? trial.value > (best.value as number) : trial.value < (best.value as number))) {
      best = trial
    }
  }
  return best && { trialId: best.id, name: best.name, value: best.value as number, params: best.params }
}
