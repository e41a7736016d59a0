// Tests of the stopping rules on constructed histories, in both directions: the median rule
// (Optuna's MedianPruner) and ASHA (Optuna's SuccessiveHalvingPruner rule).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { Direction, TrialState, TrialView } from '../types.js'
import { ASHA, MedianStoppingRule } from './index.js'
import { percentile } from './median.js'

let nextId = 0
function trial(state: TrialState, reports: [number, number][]): TrialView {
  return { id: `t${nextId++}`, params: {}, state, intermediate: reports.map(([step, value]) => ({ step, value })) }
}

/** Five finished trials whose values at steps 1..3 are 1..5 (step 1), 11..15 (step 2), 21..25 (step 3). */
function finishedFive(): TrialView[] {
  return [1, 2, 3, 4, 5].map((v) => trial('finished', [[1, v], [2, 10 + v], [3, 20 + v]]))
}

describe('MedianStoppingRule', () => {
  it('interpolates percentiles as numpy does', () => {
    assert.equal(percentile([1, 2, 3, 4, 5], 50), 3)
    assert.equal(percentile([4, 1, 3, 2], 50), 2.5)
    assert.equal(percentile([1, NaN, 3], 50), 2)
    assert.ok(Number.isNaN(percentile([], 50)))
  })

  it('stops a trial whose best value so far is worse than the median at its step, in both directions', () => {
    const rule = new MedianStoppingRule()
    const others = finishedFive()
    const ask = (reports: [number, number][], direction: Direction) => {
      const current = trial('running', reports)
      return rule.shouldStop(current, [...others, current], direction)
    }
    // Median at step 1 is 3.
    assert.equal(ask([[1, 2.5]], 'max'), true)
    assert.equal(ask([[1, 3.5]], 'max'), false)
    assert.equal(ask([[1, 3]], 'max'), false, 'equal to the median goes on')
    assert.equal(ask([[1, 2.5]], 'min'), false)
    assert.equal(ask([[1, 3.5]], 'min'), true)
    // Negative metrics: values mirrored, decisions mirrored.
    const negative = [1, 2, 3, 4, 5].map((v) => trial('finished', [[1, -v]]))
    const current = trial('running', [[1, -2.5]])
    assert.equal(rule.shouldStop(current, [...negative, current], 'max'), false)
    assert.equal(rule.shouldStop(current, [...negative, current], 'min'), true)
    // The best value so far counts, not the latest: 14 at step 1 then 0 at step 2 (median 13).
    assert.equal(ask([[1, 14], [2, 0]], 'max'), false)
    assert.equal(ask([[1, 0], [2, 12]], 'max'), true)
  })

  it('waits for nStartupTrials finished trials, nWarmupSteps and minTrials', () => {
    const others = finishedFive()
    const bad = trial('running', [[1, -100]])
    assert.equal(new MedianStoppingRule().shouldStop(bad, [...others.slice(0, 4), bad], 'max'), false, '4 < 5 finished')
    assert.equal(new MedianStoppingRule({ nStartupTrials: 4 }).shouldStop(bad, [...others.slice(0, 4), bad], 'max'), true)
    // Running and failed trials do not count as finished.
    const notFinished = [trial('running', [[1, 9]]), trial('failed', [[1, 9]]), trial('stopped', [[1, 9]])]
    assert.equal(new MedianStoppingRule({ nStartupTrials: 1 }).shouldStop(bad, [...notFinished, bad], 'max'), false)
    assert.equal(new MedianStoppingRule({ nWarmupSteps: 2 }).shouldStop(bad, [...others, bad], 'max'), false)
    assert.equal(new MedianStoppingRule({ minTrials: 6 }).shouldStop(bad, [...others, bad], 'max'), false)
    // No finished trial reported at this step: no decision.
    const late = trial('running', [[7, -100]])
    assert.equal(new MedianStoppingRule().shouldStop(late, [...others, late], 'max'), false)
    // Only NaN so far: stopped.
    const nan = trial('running', [[1, NaN]])
    assert.equal(new MedianStoppingRule().shouldStop(nan, [...others, nan], 'max'), true)
  })

  it('judges only the first report in each interval of intervalSteps', () => {
    const others = [1, 2, 3, 4, 5].map((v) => trial('finished', [0, 1, 2, 3, 4, 5].map((s) => [s, v] as [number, number])))
    const rule = new MedianStoppingRule({ intervalSteps: 2 })
    const ask = (reports: [number, number][]) => {
      const current = trial('running', reports)
      return rule.shouldStop(current, [...others, current], 'max')
    }
    assert.equal(ask([[0, 0]]), true, 'step 0 starts the interval [0, 2)')
    assert.equal(ask([[0, 9], [1, 0]]), false, 'step 1 is in the interval already judged at step 0')
    assert.equal(ask([[0, 0], [1, 0], [2, 0]]), true, 'step 2 starts a new interval')
  })

  it('rejects bad options, naming them', () => {
    assert.throws(() => new MedianStoppingRule({ intervalSteps: 0 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option intervalSteps/ })
    assert.throws(() => new MedianStoppingRule({ nStartupTrials: -1 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option nStartupTrials/ })
  })
})

describe('ASHA', () => {
  it('puts rungs at minResource·η^(s+k)', () => {
    const asha = new ASHA()
    assert.deepEqual([0, 1, 2, 3].map((k) => asha.rungStep(k)), [1, 4, 16, 64])
    assert.deepEqual([0, 1, 2].map((k) => new ASHA({ minResource: 2, reductionFactor: 3, minEarlyStoppingRate: 1 }).rungStep(k)), [6, 18, 54])
    assert.equal(new ASHA({ gracePeriod: 5 }).minResource, 5)
  })

  it('lets the first trial at a rung go on, then keeps only the top 1/η (at least the best), in both directions', () => {
    const asha = new ASHA()
    for (const direction of ['max', 'min'] as const) {
      const sign = direction === 'max' ? 1 : -1
      const first = trial('running', [[1, sign * 5]])
      assert.equal(asha.shouldStop(first, [first], direction), false, 'alone at the rung')
      const worse = trial('running', [[1, sign * 4]])
      assert.equal(asha.shouldStop(worse, [first, worse], direction), true, 'fewer than η at the rung: only the best goes on')
      const better = trial('running', [[1, sign * 6]])
      assert.equal(asha.shouldStop(better, [first, better], direction), false)
      // Seven others recorded 1..7 at rung 1 (step 1): with this one, 8 values, the top ⌊8/4⌋ = 2 go on.
      const seven = [1, 2, 3, 4, 5, 6, 7].map((v) => trial('finished', [[1, sign * v], [4, sign * v]]))
      const second = trial('running', [[1, sign * 6.5]])
      const third = trial('running', [[1, sign * 5.5]])
      assert.equal(asha.shouldStop(second, [...seven, second], direction), false, '2nd of 8 goes on')
      assert.equal(asha.shouldStop(third, [...seven, third], direction), true, '3rd of 8 stops')
    }
  })

  it('judges a rung once, when a report first reaches it, with the value recorded there', () => {
    const asha = new ASHA()
    const leader = trial('finished', [[1, 10], [2, 10], [4, 10], [16, 10]])
    // Between rungs (step 2, 3) nothing is judged, however bad the value.
    const between = trial('running', [[1, 11], [2, -50], [3, -50]])
    assert.equal(asha.shouldStop(between, [leader, between], 'max'), false)
    // Reaching rung 4 with a worse value than the leader recorded there: stopped.
    const atRung = trial('running', [[1, 11], [2, 11], [4, 9]])
    assert.equal(asha.shouldStop(atRung, [leader, atRung], 'max'), true)
    // Another trial's value at a rung is its first report at or after the rung's step (5 for rung 4).
    const skipper = trial('finished', [[1, 10], [3, 0], [5, 20]])
    const challenger = trial('running', [[1, 30], [4, 15]])
    assert.equal(asha.shouldStop(challenger, [skipper, challenger], 'max'), true, '15 < 20 recorded at rung 4')
    // A report that jumps over two rungs (1 → 20) is judged at both (4 and 16) with its value.
    const uneven = trial('finished', [[1, 10], [4, 9], [16, 10]])
    const jumper = trial('running', [[1, 11], [20, 9.5]])
    assert.equal(asha.shouldStop(jumper, [uneven, jumper], 'max'), true, 'passes rung 4 (9.5 >= 9), stopped at rung 16 (9.5 < 10)')
    assert.equal(asha.shouldStop(jumper, [uneven, jumper], 'min'), true, 'stopped at rung 4 (9.5 > 9)')
    const both = trial('running', [[1, 11], [20, 8]])
    assert.equal(asha.shouldStop(both, [uneven, both], 'min'), false, 'best at rungs 4 and 16; rung 1 was judged earlier')
  })

  it('has no rung at or past maxResource, stops NaN at a rung, and checks options', () => {
    const asha = new ASHA({ maxResource: 4 })
    const leader = trial('finished', [[1, 10], [4, 10]])
    const late = trial('running', [[1, 11], [4, 0]])
    assert.equal(asha.shouldStop(late, [leader, late], 'max'), false)
    const nan = trial('running', [[1, NaN]])
    assert.equal(new ASHA().shouldStop(nan, [nan], 'max'), true)
    assert.throws(() => new ASHA({ reductionFactor: 1 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option reductionFactor/ })
    assert.throws(() => new ASHA({ minResource: 0 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option minResource/ })
    assert.throws(() => new ASHA({ minResource: 2, gracePeriod: 3 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option gracePeriod/ })
    assert.throws(() => new ASHA({ maxResource: 1 }), { code: 'EXPERIMENT_BAD_OPTION', message: /option maxResource/ })
  })
})
