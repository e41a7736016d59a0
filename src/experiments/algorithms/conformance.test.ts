// The suite every search algorithm runs (as Optuna's pytest_samplers): bounds, integrality, determinism,
// duplicates, termination, failed trials, negative metrics and both directions, 1 or 3 trials in flight.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { paramsKey } from '../space.js'
import type { Params, SearchAlgorithm, SearchSpace } from '../types.js'
import { runInMemory, type InMemoryOptions, type InMemoryTrial } from './in-memory.js'
import { DifferentialEvolution, GridSearch, RandomSearch, TPE } from './index.js'

/** The in-memory driver with a guard against algorithms that never end. */
function simulate(algorithm: SearchAlgorithm, space: SearchSpace, options: InMemoryOptions & { objective?: (params: Params) => number | undefined } = {}): InMemoryTrial[] {
  const trials = runInMemory(algorithm, space, options.objective ?? (() => 0), { seed: 7, ...options, maxTrials: 5000 })
  assert.ok(trials.length < 5000, `${algorithm.name} never said 'done'`)
  return trials
}

const MIXED: SearchSpace = {
  lr: { type: 'float', min: 1e-5, max: 1e-1, log: true },
  dropout: { type: 'float', min: 0, max: 0.9 },
  layers: { type: 'int', min: 1, max: 6 },
  units: { type: 'int', min: 8, max: 512, log: true },
  optimizer: { type: 'categorical', choices: ['adam', 'sgd', 'rmsprop'] },
  bn: { type: 'categorical', choices: [true, false] },
}
const DISCRETE: SearchSpace = {
  layers: { type: 'int', min: 1, max: 3 },
  optimizer: { type: 'categorical', choices: ['adam', 'sgd'] },
  units: { type: 'categorical', choices: [16, 32, 64] },
}

/** A smooth objective of the mixed space, best near lr 1e-3, dropout 0.2, 3 layers, 64 units, adam. */
function mixedObjective(params: Params): number {
  const lr = Math.log10(params.lr as number) + 3
  const units = Math.log2(params.units as number) - 6
  return (
    -((lr * lr) + (((params.dropout as number) - 0.2) * 4) ** 2 + ((params.layers as number) - 3) ** 2 / 4 + units * units / 4) +
    (params.optimizer === 'adam' ? 1 : 0) + (params.bn === true ? 0.5 : 0)
  )
}

interface Case {
  make: () => SearchAlgorithm
  /** Spaces it accepts (a grid cannot take float ranges). */
  space: SearchSpace
  objective: (params: Params) => number
  /** Never suggests a combination already in the history. */
  distinct: boolean
  /** Learns: later trials are better than early ones. */
  adaptive: boolean
}

const CASES: Record<string, Case> = {
  grid: { make: () => new GridSearch(), space: DISCRETE, objective: (p) => (p.layers as number) + (p.units as number) / 10, distinct: true, adaptive: false },
  random: { make: () => new RandomSearch({ trials: 25 }), space: MIXED, objective: mixedObjective, distinct: true, adaptive: false },
  evolutionary: { make: () => new DifferentialEvolution({ population: 8, generations: 5 }), space: MIXED, objective: mixedObjective, distinct: true, adaptive: true },
  tpe: { make: () => new TPE({ trials: 40 }), space: MIXED, objective: mixedObjective, distinct: false, adaptive: true },
}

function assertInSpace(params: Params, space: SearchSpace): void {
  assert.deepEqual(Object.keys(params), Object.keys(space), 'every key, in the space order')
  for (const [key, spec] of Object.entries(space)) {
    const value = params[key]
    if (spec.type === 'categorical') {
      assert.ok(spec.choices.includes(value), `${key}=${String(value)} is one of the choices`)
      continue
    }
    assert.equal(typeof value, 'number', `${key} is a number`)
    assert.ok((value as number) >= spec.min && (value as number) <= spec.max, `${key}=${String(value)} within [${spec.min}, ${spec.max}]`)
    if (spec.type === 'int') assert.ok(Number.isInteger(value), `${key}=${String(value)} is an integer`)
  }
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length

for (const [name, c] of Object.entries(CASES)) {
  describe(`search algorithm conformance: ${name}`, () => {
    for (const parallel of [1, 3]) {
      it(`stays in bounds, keeps ints integral and ends with 'done' (${parallel} in flight)`, () => {
        const trials = simulate(c.make(), c.space, { parallel, objective: c.objective })
        assert.ok(trials.length > 0)
        for (const trial of trials) assertInSpace(trial.params, c.space)
        assert.ok(trials.every((t) => t.state === 'finished'))
      })
    }

    it('is deterministic for a seed, and the seed matters', () => {
      const run = (seed: number) => simulate(c.make(), c.space, { seed, parallel: 3, objective: c.objective }).map((t) => paramsKey(t.params))
      assert.deepEqual(run(11), run(11))
      if (name !== 'grid') assert.notDeepEqual(run(11), run(12))
    })

    if (c.distinct) {
      it('never suggests a combination twice', () => {
        for (const space of [c.space, DISCRETE]) {
          const trials = simulate(c.make(), space, { parallel: 3, objective: c.objective })
          const keys = trials.map((t) => paramsKey(t.params))
          assert.equal(new Set(keys).size, keys.length)
        }
      })
    }

    it('survives failed trials (no value) and still ends', () => {
      let calls = 0
      const flaky = (params: Params): number | undefined => (++calls % 3 === 0 ? undefined : c.objective(params))
      const trials = simulate(c.make(), c.space, { parallel: 2, objective: flaky })
      assert.ok(trials.some((t) => t.state === 'failed'))
      for (const trial of trials) assertInSpace(trial.params, c.space)
      // Every trial failing is survivable too.
      const none = simulate(c.make(), c.space, { objective: () => undefined })
      assert.ok(none.length > 0 && none.every((t) => t.state === 'failed'))
    })

    it('handles negative metrics in both directions', () => {
      for (const direction of ['max', 'min'] as const) {
        // Negative everywhere; 'min' searches the mirrored objective, so both should climb the same hill.
        const objective = (params: Params): number => (direction === 'max' ? c.objective(params) - 100 : 100 - c.objective(params))
        const trials = simulate(c.make(), c.space, { direction, objective, seed: 3 })
        const values = trials.map((t) => t.value as number)
        assert.ok(values.every((v) => (direction === 'max' ? v < 0 : v > 0)))
        if (!c.adaptive) continue
        const better = (a: number, b: number) => (direction === 'max' ? a > b : a < b)
        const third = Math.floor(values.length / 3)
        const [early, late] = [mean(values.slice(0, third)), mean(values.slice(-third))]
        assert.ok(better(late, early), `${direction}: later trials (${late.toFixed(2)}) beat early ones (${early.toFixed(2)})`)
      }
    })
  })
}
