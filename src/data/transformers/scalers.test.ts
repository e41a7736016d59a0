// MinMaxScaler and StandardScaler on hand-checked numbers: scalars, vectors, constant
// columns, given ranges, shape checks and option errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'
import { MinMaxScaler, StandardScaler } from './index.js'

const column = (rows: Row[], name: string): unknown[] => rows.map((row) => row[name])
const close = (actual: ArrayLike<number>, expected: number[], tolerance = 1e-6): void => {
  assert.equal(actual.length, expected.length, `length of ${Array.from(actual)}`)
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `element ${i}: ${actual[i]} vs ${expected[i]}`)
}
const hasCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof MaltError && e.code === code && (!pattern || pattern.test(e.message))

test('MinMaxScaler maps [2, 4, 6] to [0, 0.5, 1] and keeps other columns', async () => {
  const rows = [{ x: 2, id: 'a' }, { x: 4, id: 'b' }, { x: 6, id: 'c' }]
  const scaler = await new MinMaxScaler({ inputCol: 'x' }).fit(rows)
  const out = rows.map((row) => scaler.transform(row))
  assert.deepEqual(column(out, 'x'), [0, 0.5, 1])
  assert.deepEqual(column(out, 'id'), ['a', 'b', 'c'])
  // Outside the fitted range is not clipped: 8 → 1.5.
  assert.equal(scaler.transform({ x: 8 }).x, 1.5)
})

test('MinMaxScaler scales each vector element to its own range, into [min, max]', async () => {
  const rows = [{ v: [0, 10, 7] }, { v: [5, 30, 7] }, { v: new Float32Array([10, 20, 7]) }]
  const scaler = await new MinMaxScaler({ inputCol: 'v', outputCol: 'w', min: -1, max: 1 }).fit(Dataset.fromArray(rows))
  const out = rows.map((row) => scaler.transform(row).w as Float32Array)
  assert.ok(out[0] instanceof Float32Array)
  // Element 0 spans 0..10, element 1 spans 10..30, element 2 is constant → min (-1), never NaN.
  close(out[0], [-1, -1, -1])
  close(out[1], [0, 1, -1])
  close(out[2], [1, 0, -1])
  assert.deepEqual(rows[0].v, [0, 10, 7], 'the input column is kept when outputCol differs')
})

test('MinMaxScaler: a constant scalar column maps to min', async () => {
  const scaler = await new MinMaxScaler({ inputCol: 'x', min: 3, max: 5 }).fit([{ x: 7 }, { x: 7 }])
  assert.equal(scaler.transform({ x: 7 }).x, 3)
})

test('MinMaxScaler with a given input range needs no fit (pixels 0..255)', () => {
  const scaler = new MinMaxScaler({ inputCol: 'image', inputMin: 0, inputMax: 255 })
  assert.equal(scaler.fitted, true)
  assert.equal(scaler.learnsFromData, false)
  close(scaler.transform({ image: new Uint8Array([0, 51, 255]) }).image as Float32Array, [0, 0.2, 1])
  assert.equal(scaler.transform({ image: 102 }).image, 0.4)
  const perElement = new MinMaxScaler({ inputCol: 'v', inputMin: [0, 10], inputMax: [2, 20] })
  close(perElement.transform({ v: [1, 15] }).v as Float32Array, [0.5, 0.5])
  assert.throws(() => perElement.transform({ v: [1, 2, 3] }), hasCode('TRANSFORMER_BAD_INPUT', /expected a vector of 2 numbers/))
})

test('MinMaxScaler checks options, shapes and missing values', async () => {
  assert.throws(() => new MinMaxScaler({ inputCol: 'x', min: 1, max: 1 }), hasCode('TRANSFORMER_BAD_OPTION', /expected max to be a number greater than min \(1\), received 1/))
  assert.throws(() => new MinMaxScaler({ inputCol: '' }), hasCode('TRANSFORMER_BAD_OPTION', /inputCol/))
  assert.throws(() => new MinMaxScaler({ inputCol: 'x', inputMin: 0 }), hasCode('TRANSFORMER_BAD_OPTION', /inputMax/))
  assert.throws(() => new MinMaxScaler({ inputCol: 'x', inputMin: [0, 1], inputMax: [1, 0] }), hasCode('TRANSFORMER_BAD_OPTION', /inputMax\[1\]/))
  await assert.rejects(new MinMaxScaler({ inputCol: 'x' }).fit([{ x: 1 }, { x: [1, 2] }]), hasCode('TRANSFORMER_BAD_INPUT', /row 1 of the fit data.*expected a number/))
  await assert.rejects(new MinMaxScaler({ inputCol: 'x' }).fit([{ x: 1 }, { x: null }]), hasCode('TRANSFORMER_BAD_INPUT', /row 1.*Imputer/))
  await assert.rejects(new MinMaxScaler({ inputCol: 'x' }).fit([{ x: 1 }, { x: NaN }]), hasCode('TRANSFORMER_BAD_INPUT', /finite/))
  await assert.rejects(new MinMaxScaler({ inputCol: 'x' }).fit([{ y: 1 }]), hasCode('TRANSFORMER_BAD_INPUT', /missing from the row, which has columns y/))
  const scaler = await new MinMaxScaler({ inputCol: 'v' }).fit([{ v: [1, 2] }, { v: [3, 4] }])
  assert.throws(() => scaler.transform({ v: [1, 2, 3] }), hasCode('TRANSFORMER_BAD_INPUT', /expected a vector of 2 numbers \(as in the fit data\), received 3/))
  assert.throws(() => scaler.transform({ v: 5 }), hasCode('TRANSFORMER_BAD_INPUT', /received the number 5/))
})

test('StandardScaler: [2, 4, 6] → [-1, 0, 1] with the sample std (2)', async () => {
  const scaler = await new StandardScaler({ inputCol: 'x', outputCol: 'z' }).fit([{ x: 2 }, { x: 4 }, { x: 6 }])
  assert.deepEqual(scaler.mean, [4])
  assert.deepEqual(scaler.std, [2])
  assert.deepEqual([2, 4, 6, 10].map((x) => scaler.transform({ x }).z), [-1, 0, 1, 3])
})

test('StandardScaler: withMean / withStd switch the steps off', async () => {
  const rows = [{ x: 2 }, { x: 4 }, { x: 6 }]
  const noMean = await new StandardScaler({ inputCol: 'x', withMean: false }).fit(rows)
  assert.deepEqual(rows.map((row) => noMean.transform(row).x), [1, 2, 3])
  const noStd = await new StandardScaler({ inputCol: 'x', withStd: false }).fit(rows)
  assert.deepEqual(rows.map((row) => noStd.transform(row).x), [-2, 0, 2])
  assert.throws(() => new StandardScaler({ inputCol: 'x', withMean: 'yes' as unknown as boolean }), hasCode('TRANSFORMER_BAD_OPTION', /withMean.*"yes"/))
})

test('StandardScaler on vectors: per element; std 0 leaves centred values, never NaN', async () => {
  const rows = [{ v: [1, 5, 0.1] }, { v: [3, 5, 0.1] }, { v: [5, 5, 0.1] }]
  const scaler = await new StandardScaler({ inputCol: 'v' }).fit(rows)
  close(scaler.std!, [2, 0, 0], 1e-12)
  const out = rows.map((row) => scaler.transform(row).v as Float32Array)
  close(out[0], [-1, 0, 0])
  close(out[2], [1, 0, 0])
  close(scaler.transform({ v: [3, 7, 0.6] }).v as Float32Array, [0, 2, 0.5])
  // One row: std 0 everywhere, values only centred.
  const single = await new StandardScaler({ inputCol: 'x' }).fit([{ x: 3 }])
  assert.equal(single.transform({ x: 5 }).x, 2)
})

test('StandardScaler matches a two-pass mean and std on 10,000 values', async () => {
  const values = Array.from({ length: 10_000 }, (_, i) => 1e6 + Math.sin(i) * 3)
  const mean = values.reduce((a, b) => a + b, 0) / values.length
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1))
  const scaler = await new StandardScaler({ inputCol: 'x' }).fit(values.map((x) => ({ x })))
  assert.ok(Math.abs(scaler.mean![0] - mean) < 1e-6)
  assert.ok(Math.abs(scaler.std![0] - std) / std < 1e-9)
})
