// Tests of differential evolution beyond the shared suite: the DE/rand/1/bin arithmetic by hand,
// generation barriers, selection (failed = worst, negative metrics), reuse and option checks.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { paramsKey } from '../space.js'
import type { Params, SearchSpace, TrialView } from '../types.js'
import { DifferentialEvolution, binomialCrossover, mutantVector } from './evolutionary.js'
import { runInMemory } from './in-memory.js'

type Trial = { -readonly [K in keyof TrialView]: TrialView[K] }

/** Asks for suggestions until 'wait' or 'done', adding each as a running trial. */
function fill(de: DifferentialEvolution, trials: Trial[]): string {
  for (;;) {
    const answer = de.suggest(trials)
    if (typeof answer !== 'object') return answer
    trials.push({ id: `t${trials.length}`, params: answer.params, state: 'running', intermediate: [] })
  }
}

function finish(trials: Trial[], value: (params: Params) => number | undefined): void {
  for (const trial of trials.filter((t) => t.state === 'running')) {
    const v = value(trial.params)
    if (v === undefined) trial.state = 'failed'
    else Object.assign(trial, { state: 'finished', value: v })
  }
}

const LINE: SearchSpace = { x: { type: 'float', min: 0, max: 10 } }

describe('DE/rand/1/bin arithmetic', () => {
  it('computes the mutant a + F·(b − c) and the binomial crossover by hand', () => {
    // a = (1, 2, 3), b = (3, 5, 0), c = (2, 1, 1), F = 0.5 → (1 + 0.5·1, 2 + 0.5·4, 3 + 0.5·(−1)) = (1.5, 4, 2.5)
    assert.deepEqual(mutantVector([1, 2, 3], [3, 5, 0], [2, 1, 1], 0.5), [1.5, 4, 2.5])
    // CR 0.7: draws 0.5 (< 0.7: mutant), 0.9 (target), 0.8 (target, but jrand = 2 forces the mutant)
    assert.deepEqual(binomialCrossover([0, 0, 0], [1.5, 4, 2.5], 0.7, [0.5, 0.9, 0.8], 2), [1.5, 0, 2.5])
    // CR 0: only jrand comes from the mutant; CR 1: all of it.
    assert.deepEqual(binomialCrossover([0, 0, 0], [1, 1, 1], 0, [0.1, 0.1, 0.1], 1), [0, 1, 0])
    assert.deepEqual(binomialCrossover([0, 0, 0], [1, 1, 1], 1, [0.99, 0.99, 0.99], 0), [1, 1, 1])
  })

  it('builds generation 1 from three other members, clipped to the bounds', () => {
    const de = new DifferentialEvolution({ population: 4, generations: 1, mutation: 0.5 })
    de.setup({ space: LINE, direction: 'min', seed: 5 })
    const trials: Trial[] = []
    assert.equal(fill(de, trials), 'wait', 'generation 1 waits for generation 0')
    assert.equal(trials.length, 4)
    finish(trials, (p) => p.x as number)
    const population = trials.map((t) => t.params.x as number)
    assert.equal(fill(de, trials), 'done', 'the last generation is all suggested')
    const generation1 = trials.slice(4).map((t) => t.params.x as number)
    assert.equal(generation1.length, 4)
    // In one dimension the crossover always takes the mutant (jrand), so each trial is
    // clip(x_a + 0.5·(x_b − x_c), 0, 10) for some distinct a, b, c other than its target.
    for (const [i, x] of generation1.entries()) {
      const others = [0, 1, 2, 3].filter((j) => j !== i)
      const possible = others.flatMap((a) => others.flatMap((b) => others.filter((c) => a !== b && b !== c && a !== c).map((c) => {
        const raw = population[a] + 0.5 * (population[b] - population[c])
        return Math.min(10, Math.max(0, raw))
      })))
      assert.ok(possible.some((p) => Math.abs(p - x) < 1e-12), `trial ${i} (${x}) is a DE/rand/1 mutant of ${population}`)
    }
  })
})

describe('DE selection', () => {
  it('keeps the better of target and trial; a failed trial counts as worst; negative metrics work', () => {
    const de = new DifferentialEvolution({ population: 5, generations: 1 })
    de.setup({ space: LINE, direction: 'max', seed: 9 })
    const trials: Trial[] = []
    fill(de, trials)
    // Negative metric, best at x = 7; target 0 fails, so any trial replaces it.
    const metric = (x: number) => -100 - (x - 7) ** 2
    finish(trials, (p) => (p === trials[0].params ? undefined : metric(p.x as number)))
    fill(de, trials)
    // Trial 1 of generation 1 fails: its target stays.
    finish(trials, (p) => (p === trials[6].params ? undefined : metric(p.x as number)))
    assert.equal(de.suggest(trials), 'done')
    assert.equal(de.members.length, 5)
    for (let i = 0; i < 5; i++) {
      const [target, trial] = [trials[i], trials[5 + i]]
      const member = de.members[i]
      if (target.value === undefined) assert.deepEqual(member, { params: trial.params, value: trial.value })
      else if (trial.value === undefined) assert.deepEqual(member, { params: target.params, value: target.value })
      else {
        const winner = trial.value > target.value ? trial : target
        assert.deepEqual(member, { params: winner.params, value: winner.value })
      }
    }
  })

  it('minimises when asked', () => {
    const trials = runInMemory(new DifferentialEvolution({ population: 6, generations: 8 }), LINE, (p) => ((p.x as number) - 3) ** 2 - 50, { direction: 'min', seed: 2 })
    const best = Math.min(...trials.map((t) => t.value as number))
    assert.ok(best < -49.9, `best ${best} is near the minimum −50`)
  })
})

describe('DE reuse', () => {
  it('does not re-run a combination already evaluated: it records the reuse and uses the known value', () => {
    const space: SearchSpace = { a: { type: 'int', min: 0, max: 2 }, b: { type: 'categorical', choices: ['x', 'y'] } }
    const de = new DifferentialEvolution({ population: 4, generations: 4 })
    const trials = runInMemory(de, space, (p) => (p.a as number) + (p.b === 'y' ? 0.5 : 0), { seed: 4, parallel: 4 })
    const keys = trials.map((t) => paramsKey(t.params))
    assert.equal(new Set(keys).size, keys.length, 'every trial is a new combination')
    assert.ok(trials.length <= 6, `at most the 6 combinations of the space were run (${trials.length})`)
    assert.ok(de.reused.length > 0, 'some planned individuals were reused')
    for (const reuse of de.reused) {
      const source = trials.find((t) => t.id === reuse.trialId)
      assert.ok(source !== undefined && paramsKey(source.params) === paramsKey(reuse.params), 'a reuse names the trial that has its combination')
      assert.ok(reuse.generation >= 0 && reuse.generation <= 4 && reuse.slot >= 0 && reuse.slot < 4)
    }
    assert.equal(de.generation, 5, 'all generations were evaluated')
  })

  it('waits for a running trial with the same combination instead of suggesting it again', () => {
    const de = new DifferentialEvolution({ population: 4, generations: 2 })
    de.setup({ space: LINE, direction: 'max', seed: 1 })
    const trials: Trial[] = []
    fill(de, trials)
    finish(trials, (p) => p.x as number)
    // Pretend the driver already runs one of generation 1's combinations under another trial id.
    const next = de.suggest(trials)
    assert.ok(typeof next === 'object')
    trials.push({ id: 'elsewhere', params: next.params, state: 'running', intermediate: [] })
    const after = fill(de, trials)
    assert.equal(after, 'wait')
    assert.equal(trials.filter((t) => paramsKey(t.params) === paramsKey(next.params)).length, 1)
  })
})

describe('DE options', () => {
  it('has HopsML defaults', () => {
    const de = new DifferentialEvolution()
    assert.deepEqual([de.generations, de.population, de.mutation, de.crossover], [4, 6, 0.5, 0.7])
  })

  it('rejects bad options, naming them', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ population: 3 }, 'population'],
      [{ population: 4.5 }, 'population'],
      [{ generations: 0 }, 'generations'],
      [{ mutation: 0 }, 'mutation'],
      [{ mutation: 2.5 }, 'mutation'],
      [{ crossover: 1.5 }, 'crossover'],
      [{ crossover: Number.NaN }, 'crossover'],
    ]
    for (const [options, name] of cases) {
      assert.throws(() => new DifferentialEvolution(options), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'EXPERIMENT_BAD_OPTION')
        assert.match(error.message, new RegExp(`option ${name}`))
        return true
      })
    }
    assert.throws(() => new DifferentialEvolution({ population: 3 }), /three other individuals/)
  })
})
