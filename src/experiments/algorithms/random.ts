// Random search (HopsML's random_search, Optuna's RandomSampler): `trials` combinations drawn
// uniformly (log-uniformly for log ranges), never the same combination twice.
import type { Params, SearchAlgorithm, SearchSetup, Suggestion, TrialView } from '../types.js'
import { paramsKey } from '../space.js'
import { combinationAt, discreteSize, integerOption, randomFor, requireSetup, sampleSpace, seenKeys } from './common.js'

/** Options of {@link RandomSearch}. */
export interface RandomSearchOptions {
  /** Number of trials to run (HopsML's `samples`). @defaultValue 10 */
  trials?: number
  /** Draws tried for a combination not in the history before giving up on drawing. @defaultValue 100 */
  maxDraws?: number
}

export const RANDOM_SEARCH_DEFAULTS = { trials: 10, maxDraws: 100 } as const

/** Above this many combinations a discrete space is not listed to find the unseen ones. */
const MAX_LISTED = 1_000_000

/**
 * Suggests `trials` distinct combinations, then 'done'. Every trial of the history (running
 * and failed ones too) counts towards `trials` and is never suggested again. A draw is a pure
 * function of the seed and the history's length. When `maxDraws` draws all hit seen
 * combinations, a discrete space (ints and categoricals) is listed and an unseen combination
 * is picked at random; when there is none (a space smaller than `trials`), the search is
 * 'done'. A continuous space practically never repeats; if it does `maxDraws` times, 'done'.
 */
export class RandomSearch implements SearchAlgorithm {
  readonly name = 'random'
  readonly trials: number
  readonly maxDraws: number
  private setupDone: SearchSetup | undefined

  constructor(options: RandomSearchOptions = {}) {
    this.trials = integerOption('RandomSearch', 'trials', options.trials, RANDOM_SEARCH_DEFAULTS.trials, 1)
    this.maxDraws = integerOption('RandomSearch', 'maxDraws', options.maxDraws, RANDOM_SEARCH_DEFAULTS.maxDraws, 1)
  }

  setup(setup: SearchSetup): void {
    this.setupDone = setup
  }

  suggest(trials: readonly TrialView[]): Suggestion {
    const { space, seed } = requireSetup('RandomSearch', this.setupDone)
    if (trials.length >= this.trials) return 'done'
    const seen = seenKeys(trials)
    const size = discreteSize(space)
    if (seen.size >= size) return 'done'
    const rng = randomFor(seed, trials.length)
    for (let attempt = 0; attempt < this.maxDraws; attempt++) {
      const params = sampleSpace(space, rng)
      if (!seen.has(paramsKey(params))) return { params }
    }
    if (size > MAX_LISTED) return 'done'
    const unseen: Params[] = []
    for (let index = 0; index < size; index++) {
      const params = combinationAt(space, index)
      if (!seen.has(paramsKey(params))) unseen.push(params)
    }
    return unseen.length === 0 ? 'done' : { params: unseen[rng.nextInt(unseen.length)] }
  }
}
