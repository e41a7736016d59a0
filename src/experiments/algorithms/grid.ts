// Grid search (HopsML's grid_search): every combination of the value lists, first key slowest,
// each once; then 'done'. The space's categorical choices are the lists; int ranges are listed.
import { gridCombinations, listSpec, paramsKey } from '../space.js'
import type { Params, SearchAlgorithm, SearchSetup, Suggestion, TrialView } from '../types.js'
import { requireSetup, seenKeys } from './common.js'

/**
 * Suggests the combinations of a grid in order, skipping any already in the history (so a
 * resumed search goes on where it stopped). Stateless apart from a cursor that only speeds
 * up the scan; a float range in the space is rejected by `setup` (a grid needs values).
 *
 * @example new GridSearch() // with space { lr: categorical([0.001, 0.01]), layers: int(1, 3) }: 6 trials
 */
export class GridSearch implements SearchAlgorithm {
  readonly name = 'grid'
  private setupDone: SearchSetup | undefined
  private combinations: Params[] = []
  private keys: string[] = []
  /** Index of the first combination that was not in the history last time (the history only grows). */
  private cursor = 0
  private lastLength = 0

  setup(setup: SearchSetup): void {
    const lists: Record<string, unknown> = {}
    for (const [key, spec] of Object.entries(setup.space)) lists[key] = listSpec(key, spec)
    this.combinations = gridCombinations(lists)
    this.keys = this.combinations.map(paramsKey)
    this.setupDone = setup
    this.cursor = 0
    this.lastLength = 0
  }

  /** Number of combinations of the grid (known after `setup`). */
  get size(): number {
    return this.combinations.length
  }

  suggest(trials: readonly TrialView[]): Suggestion {
    requireSetup('GridSearch', this.setupDone)
    if (trials.length < this.lastLength) this.cursor = 0 // a different (shorter) history: rescan
    this.lastLength = trials.length
    const seen = seenKeys(trials)
    while (this.cursor < this.keys.length && seen.has(this.keys[this.cursor])) this.cursor++
    if (this.cursor >= this.keys.length) return 'done'
    return { params: { ...this.combinations[this.cursor] } }
  }
}
