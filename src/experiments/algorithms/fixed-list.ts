// The runs of `launch`: a fixed list of combinations, each run once in order (HopsML's
// launch zips its value lists into such a list). Repeats are allowed: launching the same
// parameters several times measures run-to-run variance.
import type { Params, SearchAlgorithm, SearchSetup, Suggestion, TrialView } from '../types.js'

/** Suggests `runs[i]` for the i-th trial, then 'done'. */
export class FixedList implements SearchAlgorithm {
  readonly name = 'list'

  constructor(private readonly runs: readonly Params[]) {}

  setup(_setup: SearchSetup): void {}

  suggest(trials: readonly TrialView[]): Suggestion {
    const next = this.runs[trials.length]
    return next === undefined ? 'done' : { params: { ...next } }
  }
}
