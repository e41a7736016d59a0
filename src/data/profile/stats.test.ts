// Tests of the streaming statistics and sketches on data whose answers are known.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HyperLogLog, Reservoir, quantile } from './sketches.js'
import { CategoricalAccumulator, NumericAccumulator, VectorAccumulator, histogram } from './stats.js'

test('NumericAccumulator gives exact count, mean, population std, zeros, min, median, max on small data', () => {
  const acc = new NumericAccumulator(100, 1)
  for (const value of [4, 0, 2, 10, 0, 8, Infinity]) acc.add(value)
  const s = acc.finish(4)
  assert.equal(s.count, 6)
  assert.equal(s.infinite, 1)
  assert.equal(s.zeros, 2)
  assert.equal(s.mean, 4)
  // Deviations -4,-4,-2,0,4,6 → squares 16,16,4,0,16,36 = 88; / 6.
  assert.ok(Math.abs(s.std - Math.sqrt(88 / 6)) < 1e-12)
  assert.equal(s.min, 0)
  assert.equal(s.max, 10)
  assert.equal(s.median, 3) // sorted 0 0 2 4 8 10: mean of 2 and 4
  assert.equal(s.approximate, false)
  assert.deepEqual(s.sample, [0, 0, 2, 4, 8, 10])
  assert.deepEqual(s.histogram.map((b) => b.count), [3, 1, 0, 2]) // bins of width 2.5; 10 goes in the last
  assert.equal(s.histogram[0].low, 0)
  assert.equal(s.histogram[3].high, 10)
  assert.equal(acc.integral, true)
})

test('NumericAccumulator stays accurate with large offsets and estimates the median from its sample', () => {
  const acc = new NumericAccumulator(2_000, 7)
  const n = 100_000
  for (let i = 0; i < n; i++) acc.add(1e9 + (i % 1000))
  const s = acc.finish(10)
  assert.equal(s.count, n)
  assert.ok(Math.abs(s.mean - (1e9 + 499.5)) < 1e-4) // relative error 1e-13
  assert.ok(Math.abs(s.std - Math.sqrt((1000 * 1000 - 1) / 12)) < 1e-3)
  assert.equal(s.approximate, true)
  assert.equal(s.sample.length, 2_000)
  // The sample median of a uniform 0..999 pattern: within 5% of the range (rank error ~1/sqrt(2000)).
  assert.ok(Math.abs(s.median - (1e9 + 499.5)) < 50, `median ${s.median}`)
  const total = s.histogram.reduce((sum, b) => sum + b.count, 0)
  assert.ok(Math.abs(total - n) <= 10, `scaled histogram total ${total}`)
  for (const bin of s.histogram) assert.ok(Math.abs(bin.count - n / 10) < n / 10 * 0.25, `bin ${bin.count}`)
})

test('Reservoir keeps everything up to capacity and then a uniform sample of the right size', () => {
  const small = new Reservoir(10, 1)
  for (let i = 0; i < 10; i++) small.add(i)
  assert.deepEqual(small.sorted(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  const big = new Reservoir(1_000, 3)
  for (let i = 0; i < 200_000; i++) big.add(i)
  const sample = big.sorted()
  assert.equal(sample.length, 1_000)
  assert.equal(new Set(sample).size, 1_000)
  const mean = sample.reduce((a, b) => a + b, 0) / sample.length
  // Standard error of the mean: 200000/sqrt(12*1000) ≈ 1826; allow 4 of them.
  assert.ok(Math.abs(mean - 100_000) < 7_300, `sample mean ${mean}`)
  const late = sample.filter((v) => v >= 100_000).length
  assert.ok(late > 430 && late < 570, `half the sample should come from the second half, got ${late}`)
})

test('quantile interpolates between order statistics and histogram handles constant columns', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5)
  assert.equal(quantile([5], 0.75), 5)
  assert.ok(Number.isNaN(quantile([], 0.5)))
  assert.deepEqual(histogram([3, 3, 3], 3, 3, 10), [{ low: 3, high: 3, count: 3 }])
})

test('integer columns with fewer values than bins get one bin per integer', () => {
  const acc = new NumericAccumulator(100, 1)
  for (const value of [0, 1, 1, 3, 3, 3]) acc.add(value)
  const bins = acc.finish(20).histogram
  assert.deepEqual(bins, [
    { low: 0, high: 1, count: 1 },
    { low: 1, high: 2, count: 2 },
    { low: 2, high: 3, count: 0 },
    { low: 3, high: 4, count: 3 },
  ])
})

test('HyperLogLog estimates distinct counts within a few percent', () => {
  const hll = new HyperLogLog()
  for (let i = 0; i < 200_000; i++) hll.add(`value-${i % 50_000}`)
  const estimate = hll.estimate()
  assert.ok(Math.abs(estimate - 50_000) / 50_000 < 0.03, `estimate ${estimate}`)
  const few = new HyperLogLog()
  for (const v of ['a', 'b', 'c', 'a']) few.add(v)
  assert.equal(few.estimate(), 3)
})

test('CategoricalAccumulator counts exactly under the caps and switches to estimates past them', () => {
  const acc = new CategoricalAccumulator(100, 10)
  for (const v of ['b', 'a', 'b', 'c', 'b', 'a']) acc.add(v)
  const s = acc.finish(2)
  assert.equal(s.count, 6)
  assert.equal(s.distinct, 3)
  assert.equal(s.distinctApproximate, false)
  assert.deepEqual(s.top, [{ value: 'b', count: 3 }, { value: 'a', count: 2 }])
  assert.equal(s.otherCount, 0)
  assert.equal(s.meanLength, 1)

  const wide = new CategoricalAccumulator(1_000, 50)
  for (let i = 0; i < 20_000; i++) wide.add(i % 3 === 0 ? 'common' : `rare-${i}`)
  const w = wide.finish(5)
  assert.equal(w.distinctApproximate, true)
  assert.ok(Math.abs(w.distinct - 13_334) / 13_334 < 0.03, `distinct ${w.distinct}`)
  assert.equal(w.frequenciesApproximate, true)
  assert.equal(w.top[0].value, 'common')
  assert.ok(w.top[0].count > 6_000, 'a heavy hitter survives pruning')
  assert.equal(w.frequencies.length, 50)
  assert.equal(w.otherCount + w.frequencies.reduce((s2, f) => s2 + f.count, 0), 20_000)
})

test('VectorAccumulator summarises lengths and numeric elements; bytes only by length', () => {
  const acc = new VectorAccumulator(100, 1)
  acc.add(Float32Array.from([0, 1, 0, 3]), false)
  acc.add([2, 2], false)
  const s = acc.finish(4)
  assert.deepEqual([s.count, s.minLength, s.maxLength, s.meanLength], [2, 2, 4, 3])
  assert.equal(s.elementType, 'number')
  assert.equal(s.elements?.count, 6)
  assert.equal(s.elements?.zeros, 2)
  assert.equal(s.elements?.mean, 8 / 6)
  const bytes = new VectorAccumulator(100, 1)
  bytes.add(new Uint8Array(5), true)
  const b = bytes.finish(4)
  assert.equal(b.elementType, 'bytes')
  assert.equal(b.elements, undefined)
  assert.equal(b.maxLength, 5)
})
