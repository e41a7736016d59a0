// A driver in miniature for search algorithms whose objective is a plain function: no executors,
// no files. The conformance tests and the search-quality benchmark run algorithms through it.
import { MaltError } from '../../errors.js'
import type { Direction, Params, SearchAlgorithm, SearchSpace, TrialState } from '../types.js'

/** One trial as the in-memory driver keeps it (a TrialView, mutable). */
export interface InMemoryTrial {
  id: string
  params: Params
  state: TrialState
  value?: number
  intermediate: { step: number; value: number }[]
}

/** Options of {@link runInMemory}. */
export interface InMemoryOptions {
  /** @defaultValue 0 */
  seed?: number
  /** @defaultValue 'max' */
  direction?: Direction
  /** Trials in flight at once; the oldest ends first, then the driver asks again. @defaultValue 1 */
  parallel?: number
  /** Stop after this many trials even if the algorithm would go on. @defaultValue Infinity */
  maxTrials?: number
}

/**
 * Runs `algorithm` on `objective` (a returned `undefined` or a throw fails the trial) until it
 * says 'done' and nothing runs, keeping `parallel` trials in flight. Throws
 * `EXPERIMENT_DEADLOCK` when the algorithm answers 'wait' while nothing runs.
 */
export function runInMemory(
  algorithm: SearchAlgorithm,
  space: SearchSpace,
  objective: (params: Params) => number | undefined,
  options: InMemoryOptions = {},
): InMemoryTrial[] {
  const { seed = 0, direction = 'max', parallel = 1, maxTrials = Infinity } = options
  algorithm.setup({ space, direction, seed })
  const trials: InMemoryTrial[] = []
  const running: InMemoryTrial[] = []
  let done = false
  for (;;) {
    while (!done && running.length < parallel && trials.length < maxTrials) {
      const answer = algorithm.suggest(trials.map((t) => ({ ...t })))
      if (answer === 'done') done = true
      if (typeof answer !== 'object') break
      const trial: InMemoryTrial = { id: `t${String(trials.length + 1).padStart(4, '0')}`, params: answer.params, state: 'running', intermediate: [] }
      trials.push(trial)
      running.push(trial)
    }
    const oldest = running.shift()
    if (oldest === undefined) {
      if (done || trials.length >= maxTrials) return trials
      throw new MaltError('EXPERIMENT_DEADLOCK', `${algorithm.name}: answered 'wait' with no trial running, after ${trials.length} trials`)
    }
    let value: number | undefined
    try {
      value = objective(oldest.params)
    } catch {
      value = undefined
    }
    if (value === undefined) oldest.state = 'failed'
    else Object.assign(oldest, { state: 'finished', value })
  }
}
