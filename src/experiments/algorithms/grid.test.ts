// Tests of grid search beyond the shared suite: order, resume, listing of int ranges.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { gridCombinations, paramsKey } from '../space.js'
import type { SearchSpace, TrialView } from '../types.js'
import { GridSearch } from './grid.js'
import { runInMemory } from './in-memory.js'

const SPACE: SearchSpace = {
  lr: { type: 'categorical', choices: [0.001, 0.005, 0.01] },
  dropout: { type: 'categorical', choices: [0.5, 0.6] },
}

describe('GridSearch', () => {
  it('suggests the cartesian product in order, first key slowest', () => {
    const trials = runInMemory(new GridSearch(), SPACE, () => 1, { parallel: 4 })
    assert.deepEqual(trials.map((t) => t.params), gridCombinations({ lr: [0.001, 0.005, 0.01], dropout: [0.5, 0.6] }))
  })

  it('skips combinations already in the history (resume), whatever their state', () => {
    const grid = new GridSearch()
    grid.setup({ space: SPACE, direction: 'max', seed: 0 })
    const done = (params: TrialView['params'], state: TrialView['state']): TrialView => ({ id: paramsKey(params), params, state, intermediate: [] })
    const history = [done({ lr: 0.001, dropout: 0.5 }, 'finished'), done({ dropout: 0.6, lr: 0.001 }, 'failed'), done({ lr: 0.005, dropout: 0.6 }, 'running')]
    assert.deepEqual(grid.suggest(history), { params: { lr: 0.005, dropout: 0.5 } })
    history.push(done({ lr: 0.005, dropout: 0.5 }, 'running'))
    assert.deepEqual(grid.suggest(history), { params: { lr: 0.01, dropout: 0.5 } })
    // A fresh (shorter) history starts over.
    assert.deepEqual(grid.suggest([]), { params: { lr: 0.001, dropout: 0.5 } })
  })

  it('lists int ranges and refuses float ranges', () => {
    const grid = new GridSearch()
    grid.setup({ space: { layers: { type: 'int', min: 1, max: 3 }, act: { type: 'categorical', choices: ['relu'] } }, direction: 'max', seed: 0 })
    assert.equal(grid.size, 3)
    assert.throws(() => new GridSearch().setup({ space: { lr: { type: 'float', min: 0, max: 1 } }, direction: 'max', seed: 0 }), {
      code: 'EXPERIMENT_BAD_SPACE',
      message: /"lr".*cannot be listed/,
    })
  })
})
