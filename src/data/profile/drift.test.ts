// Tests of the drift statistics against hand-computed values, and of compareProfiles' flags.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { SeededRandom } from '../../util/random.js'
import { compareDatasets, compareProfiles, jensenShannonDistance, kolmogorovSurvival, ksTest, lInfinityDistance } from './drift.js'
import { profileDataset } from './profile.js'

const close = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: expected ${expected} ± ${tolerance}, received ${actual}`)

test('ksTest: D of two small samples equals the hand-computed value', () => {
  // ECDFs at 1..5: A = .2 .4 .6 .8 1, B = 0 0 1/7 2/7 3/7 → the gap peaks at 5: 1 − 3/7 = 4/7.
  const result = ksTest([1, 2, 3, 4, 5], [3, 4, 5, 6, 7, 8, 9])
  close(result.d, 4 / 7, 1e-12, 'D')
  assert.equal(result.n, 5)
  assert.equal(result.m, 7)
  // p = Q(sqrt(35/12) · 4/7).
  close(result.pValue, kolmogorovSurvival(Math.sqrt(35 / 12) * (4 / 7)), 1e-12, 'p')
  // Ties step both CDFs together: at 1, 2/3 vs 1/3; at 2, both reach 1.
  close(ksTest([1, 1, 2], [1, 2, 2]).d, 1 / 3, 1e-12, 'D with ties')
  assert.deepEqual(ksTest([1, 2, 3], [1, 2, 3]), { d: 0, pValue: 1, n: 3, m: 3 })
  close(ksTest([1, 2], [3, 4]).d, 1, 0, 'disjoint')
  assert.ok(Number.isNaN(ksTest([], [1]).d))
})

test('kolmogorovSurvival matches known values of the Kolmogorov distribution on both branches', () => {
  close(kolmogorovSurvival(1), 0.2699996717, 1e-9, 'Q(1)')
  close(kolmogorovSurvival(0.5), 1 - 0.0360547563, 1e-9, 'Q(0.5)')
  close(kolmogorovSurvival(1.3581), 0.05, 1e-4, 'Q(1.3581), the 5% critical value')
  close(kolmogorovSurvival(1.6276), 0.01, 1e-4, 'Q(1.6276), the 1% critical value')
  close(kolmogorovSurvival(0.9999999), kolmogorovSurvival(1.0000001), 1e-6, 'continuity at the branch switch')
  assert.equal(kolmogorovSurvival(0), 1)
  assert.ok(kolmogorovSurvival(5) < 1e-20)
})

test('ksTest p-values: same distribution gives large p, a shifted one tiny p', () => {
  const random = new SeededRandom(5)
  const draw = (n: number, shift: number) => Array.from({ length: n }, () => random.next() + shift).sort((a, b) => a - b)
  const same = ksTest(draw(2_000, 0), draw(2_000, 0))
  assert.ok(same.pValue > 0.01 && same.d < 0.06, `same: ${JSON.stringify(same)}`)
  const shifted = ksTest(draw(2_000, 0), draw(2_000, 0.2))
  close(shifted.d, 0.2, 0.05, 'D of a 0.2 shift of U(0,1)')
  assert.ok(shifted.pValue < 1e-20)
})

test('Jensen–Shannon and L-infinity distances of known distributions', () => {
  const m = (entries: [string, number][]) => new Map(entries)
  assert.equal(jensenShannonDistance(m([['a', 1], ['b', 3]]), m([['a', 10], ['b', 30]])), 0)
  assert.equal(jensenShannonDistance(m([['a', 1]]), m([['b', 1]])), 1)
  // P = (½, ½), Q = (1, 0), M = (¾, ¼): JSD = ½(½log2(2/3) + ½log2 2) + ½ log2(4/3) = 0.311278.
  close(jensenShannonDistance(m([['a', 1], ['b', 1]]), m([['a', 1]])), Math.sqrt(0.3112781245), 1e-9, 'JS distance')
  close(lInfinityDistance(m([['a', 1], ['b', 1]]), m([['a', 1]])), 0.5, 1e-12, 'L-infinity')
  assert.ok(Number.isNaN(jensenShannonDistance(m([]), m([['a', 1]]))))
})

test('compareProfiles flags shifted numbers, changed categories, type changes and one-sided columns', async () => {
  const random = new SeededRandom(9)
  const rows = (shift: number, cities: string[], extra: string) =>
    Array.from({ length: 1_500 }, (_v, i) => ({
      stable: random.next(),
      shifted: random.next() + shift,
      city: cities[i % cities.length],
      code: shift > 0 ? `c${i % 3}` : i % 3,
      [extra]: 1,
    }))
  const { a, b, comparison } = await compareDatasets(rows(0, ['x', 'y'], 'onlyA'), rows(0.5, ['x', 'y', 'z', 'w'], 'onlyB'))
  assert.equal(a.rows, 1_500)
  assert.equal(b.rows, 1_500)
  const by = Object.fromEntries(comparison.columns.map((c) => [c.name, c]))
  assert.equal(by.stable.drifted, false)
  assert.equal(by.stable.test, 'ks')
  assert.equal(by.shifted.drifted, true)
  assert.ok(by.shifted.ks!.d > 0.4)
  assert.equal(by.city.test, 'jensen-shannon')
  assert.equal(by.city.drifted, true)
  assert.match(by.code.reason, /type changed: integer in A, string in B/)
  assert.equal(by.onlyA.presence, 'a-only')
  assert.equal(by.onlyB.presence, 'b-only')
  assert.deepEqual(comparison.drifted.sort(), ['city', 'code', 'onlyA', 'onlyB', 'shifted'])
  // A looser threshold lets the category change through.
  assert.equal(compareProfiles(a, b, { jensenShannon: 0.9 }).columns.find((c) => c.name === 'city')?.drifted, false)
  assert.throws(() => compareProfiles(a, b, { ksPValue: 2 }), (e: unknown) => e instanceof MaltError && /ksPValue.*\[0, 1\].*2/.test(e.message))
})

test('compareProfiles tests vector columns on their elements', async () => {
  const random = new SeededRandom(3)
  const images = (scale: number) => Array.from({ length: 200 }, () => ({ image: Float32Array.from({ length: 16 }, () => random.next() * scale) }))
  const comparison = compareProfiles(await profileDataset(images(1)), await profileDataset(images(2)))
  assert.equal(comparison.columns[0].test, 'ks')
  assert.equal(comparison.columns[0].drifted, true)
})
