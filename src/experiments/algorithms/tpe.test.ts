// Tests of TPE beyond the shared suite: Optuna's gamma, weights and bandwidths, densities checked against
// Optuna 5's _ParzenEstimator, the split, constant liar, and TPE beating random search on a quadratic.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Params, SearchSpace, TrialView } from '../types.js'
import { SeededRandom } from '../../util/random.js'
import { runInMemory } from './in-memory.js'
import { ParzenEstimator, bandwidths } from './parzen.js'
import { RandomSearch } from './random.js'
import { TPE, defaultGamma, defaultWeights, splitTrials } from './tpe.js'

const OPTUNA_PARZEN = { priorWeight: 1, magicClip: true, considerEndpoints: false }

function trial(id: number, params: Params, state: TrialView['state'], value?: number, intermediate: TrialView['intermediate'] = []): TrialView {
  return { id: `t${id}`, params, state, value, intermediate }
}

describe('TPE building blocks', () => {
  it('splits with gamma(n) = min(ceil(0.1·n), 25) and weights older observations down past 25', () => {
    assert.deepEqual([0, 1, 10, 11, 100, 250, 1000].map(defaultGamma), [0, 1, 1, 2, 10, 25, 25])
    assert.deepEqual(defaultWeights(3), [1, 1, 1])
    const w = defaultWeights(27)
    assert.equal(w.length, 27)
    assert.deepEqual(w.slice(0, 2), [1 / 27, 1])
    assert.ok(w.slice(2).every((x) => x === 1))
  })

  it('sizes kernels by the larger gap to a neighbour, outermost by their inner gap, clipped (by hand)', () => {
    // [0, 1], observations 0.2, 0.5, 0.6: gaps 0.3 and 0.1; 4 kernels → min sigma 1/min(100, 5) = 0.2.
    // 0.2: inner gap 0.3; 0.5: max(0.3, 0.1) = 0.3; 0.6: inner gap 0.1 → clipped to 0.2.
    const sigmas = bandwidths([0.5, 0.2, 0.6], 0, 1, OPTUNA_PARZEN)
    assert.deepEqual(sigmas.map((s) => Number(s.toFixed(12))), [0.3, 0.3, 0.2])
    // A lone observation takes the larger distance to a bound.
    assert.deepEqual(bandwidths([0.3], 0, 1, OPTUNA_PARZEN), [0.7])
  })

  it('gives the densities Optuna 5 gives for the same observations (float, int, log, categorical)', () => {
    const specs: SearchSpace = {
      f: { type: 'float', min: 0, max: 1 },
      i: { type: 'int', min: 1, max: 10 },
      l: { type: 'float', min: 1e-4, max: 1, log: true },
      il: { type: 'int', min: 1, max: 64, log: true },
      c: { type: 'categorical', choices: ['a', 'b', 'c'] },
    }
    const observations = [
      { f: 0.2, i: 2, l: 1e-3, il: 2, c: 'a' },
      { f: 0.5, i: 3, l: 0.5, il: 32, c: 'c' },
      { f: 0.6, i: 7, l: 0.01, il: 4, c: 'c' },
    ]
    const joint = new ParzenEstimator(Object.entries(specs), observations, [1, 1, 1], OPTUNA_PARZEN)
    const points = [
      { f: 0.1, i: 1, l: 1e-4, il: 1, c: 'a' },
      { f: 0.55, i: 3, l: 0.002, il: 5, c: 'b' },
      { f: 0.99, i: 10, l: 0.9, il: 64, c: 'c' },
    ]
    // optuna.samplers._tpe.parzen_estimator._ParzenEstimator(...).log_pdf, Optuna 5.0.0.
    const optuna = [-5.807054723679387, -8.615932658645454, -12.296398133316412]
    for (const [k, point] of points.entries()) assert.ok(Math.abs(joint.logPdf(point) - optuna[k]) < 1e-9, `point ${k}: ${joint.logPdf(point)} vs ${optuna[k]}`)
    const ints = new ParzenEstimator([['i', specs.i]], observations, [1, 1, 1], OPTUNA_PARZEN)
    const optunaInts = [-2.104298836242429, -1.9876527064228575, -2.8807997859509222]
    for (const [k, i] of [1, 3, 10].entries()) assert.ok(Math.abs(ints.logPdf({ i }) - optunaInts[k]) < 1e-9)
    const priorOnly = new ParzenEstimator([['f', specs.f]], [], [], OPTUNA_PARZEN)
    assert.ok(Math.abs(priorOnly.logPdf({ f: 0.3 }) - 0.02097780049094955) < 1e-12)
  })

  it('samples inside the bounds with integral ints', () => {
    const spec = { type: 'int', min: 1, max: 64, log: true } as const
    const estimator = new ParzenEstimator([['n', spec]], [{ n: 1 }, { n: 64 }], [1, 1], OPTUNA_PARZEN)
    for (const sample of estimator.sample(new SeededRandom(1), 500)) {
      assert.ok(Number.isInteger(sample.n) && (sample.n as number) >= 1 && (sample.n as number) <= 64)
    }
  })

  it('splits finished trials by value, then early-stopped ones; failed left out; running are bad under constant liar', () => {
    const trials = [
      trial(0, { x: 0 }, 'finished', 5),
      trial(1, { x: 1 }, 'failed'),
      trial(2, { x: 2 }, 'finished', -3),
      trial(3, { x: 3 }, 'running'),
      trial(4, { x: 4 }, 'stopped', 100, [{ step: 9, value: 100 }]),
      trial(5, { x: 5 }, 'stopped', 50, [{ step: 3, value: 50 }]),
      trial(6, { x: 6 }, 'finished', 1),
    ]
    const ids = (list: readonly TrialView[]) => list.map((t) => t.id)
    // min, gamma 2 of 5 ended: the two best finished (−3, 1).
    let split = splitTrials(trials, 'min', () => 2, true)
    assert.deepEqual([ids(split.good), ids(split.bad)], [['t2', 't6'], ['t0', 't3', 't4', 't5']])
    // max, gamma 4: all 3 finished, then the stopped trial that got furthest (step 9).
    split = splitTrials(trials, 'max', () => 4, false)
    assert.deepEqual([ids(split.good), ids(split.bad)], [['t0', 't2', 't4', 't6'], ['t5']])
  })
})

describe('TPE', () => {
  const square: SearchSpace = { x: { type: 'float', min: -5, max: 5 }, y: { type: 'float', min: -5, max: 5 } }
  const quadratic = (p: Params) => ((p.x as number) - 1.3) ** 2 + ((p.y as number) + 0.7) ** 2

  it('samples at random until nStartupTrials trials have ended, whatever the values', () => {
    const first = (objective: (p: Params) => number) =>
      runInMemory(new TPE({ trials: 10 }), square, objective, { seed: 3 }).map((t) => t.params)
    assert.deepEqual(first(quadratic), first((p) => -quadratic(p)))
  })

  it('beats random search on a quadratic (median best of 10 seeds, 40 trials)', () => {
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
    const best = (make: () => TPE | RandomSearch, seed: number) =>
      Math.min(...runInMemory(make(), square, quadratic, { seed, direction: 'min' }).map((t) => t.value as number))
    const seeds = Array.from({ length: 10 }, (_, i) => i)
    const tpe = median(seeds.map((s) => best(() => new TPE({ trials: 40 }), s)))
    const random = median(seeds.map((s) => best(() => new RandomSearch({ trials: 40 }), s)))
    assert.ok(tpe < random / 3, `TPE median best ${tpe} is well below random's ${random}`)
  })

  it('counts running trials as bad under constant liar, and ignores them without it', () => {
    const line: SearchSpace = { x: { type: 'float', min: -5, max: 5 } }
    const f = (x: number) => (x - 1.3) ** 2
    const history = Array.from({ length: 12 }, (_, i) => trial(i, { x: -5 + (10 * i) / 11 }, 'finished', f(-5 + (10 * i) / 11)))
    const runningAt = (x: number) => [0, 1, 2, 3, 4, 5].map((k) => trial(90 + k, { x: x + k * 1e-3 }, 'running'))
    const suggest = (constantLiar: boolean, trials: TrialView[]) => {
      const tpe = new TPE({ constantLiar })
      tpe.setup({ space: line, direction: 'min', seed: 1 })
      const answer = tpe.suggest(trials)
      assert.ok(typeof answer === 'object')
      return answer.params.x as number
    }
    // Without constant liar, where the running trials are does not matter.
    const spot = suggest(false, [...history, ...runningAt(-4)])
    assert.equal(suggest(false, [...history, ...runningAt(spot)]), spot)
    // With it, six trials running at that spot push the next suggestion away from it.
    const moved = suggest(true, [...history, ...runningAt(spot)])
    assert.ok(Math.abs(moved - spot) > 0.05, `suggestion ${moved} moved away from the running trials at ${spot}`)
  })

  it('rejects bad options, naming them', () => {
    for (const [options, name] of [[{ trials: 0 }, 'trials'], [{ nStartupTrials: -1 }, 'nStartupTrials'], [{ nEiCandidates: 0 }, 'nEiCandidates'],
      [{ priorWeight: 0 }, 'priorWeight'], [{ multivariate: 'yes' }, 'multivariate'], [{ gamma: 3 }, 'gamma']] as const) {
      assert.throws(() => new TPE(options as never), (error: Error & { code?: string }) => error.code === 'EXPERIMENT_BAD_OPTION' && error.message.includes(`option ${name}`))
    }
  })
})
