// Tests of random search beyond the shared suite: the trial budget, exhaustion of small discrete
// spaces, purity of a suggestion and option checks.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { paramsKey } from '../space.js'
import type { SearchSpace } from '../types.js'
import { runInMemory } from './in-memory.js'
import { RandomSearch } from './random.js'

describe('RandomSearch', () => {
  it('runs `trials` trials (10 by default), failed ones included', () => {
    const space: SearchSpace = { x: { type: 'float', min: 0, max: 1 } }
    assert.equal(runInMemory(new RandomSearch(), space, () => 1).length, 10)
    assert.equal(runInMemory(new RandomSearch({ trials: 7 }), space, () => undefined, { parallel: 3 }).length, 7)
  })

  it('stops with done when a small discrete space is exhausted, having run each combination once', () => {
    const space: SearchSpace = { a: { type: 'int', min: 0, max: 2 }, b: { type: 'categorical', choices: [true, false] }, c: { type: 'float', min: 0.5, max: 0.5 } }
    const trials = runInMemory(new RandomSearch({ trials: 50, maxDraws: 1 }), space, () => 1, { parallel: 2 })
    assert.equal(trials.length, 6)
    assert.equal(new Set(trials.map((t) => paramsKey(t.params))).size, 6)
  })

  it('suggests as a pure function of the seed and the history', () => {
    const search = new RandomSearch({ trials: 5 })
    search.setup({ space: { x: { type: 'float', min: 0, max: 1, log: false } }, direction: 'min', seed: 42 })
    assert.deepEqual(search.suggest([]), search.suggest([]))
  })

  it('rejects bad options, naming them', () => {
    assert.throws(() => new RandomSearch({ trials: 0 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option trials/ })
    assert.throws(() => new RandomSearch({ trials: 2.5 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option trials/ })
    assert.throws(() => new RandomSearch({ maxDraws: 0 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option maxDraws/ })
  })
})
