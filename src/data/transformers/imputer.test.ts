// Imputer: each strategy on hand-checked columns, several columns in one pass, the bounded
// median reservoir, and option errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { Dataset } from '../dataset.js'
import { Imputer } from './index.js'

const hasCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof MaltError && e.code === code && (!pattern || pattern.test(e.message))

const rows = [
  { age: 20, city: 'Oslo', income: 1 },
  { age: null, city: '', income: 2 },
  { age: 40, city: 'Bergen', income: NaN },
  { city: 'Oslo', income: 100 },
  { age: 90, city: undefined, income: 3 },
]

test('mean fills null, undefined, absent and NaN; present values pass through', async () => {
  const imputer = await new Imputer({ inputCol: ['age', 'income'] }).fit(rows)
  assert.deepEqual(imputer.fillValues, [50, 26.5])
  const out = rows.map((row) => imputer.transform(row))
  assert.deepEqual(out.map((row) => row.age), [20, 50, 40, 50, 90])
  assert.deepEqual(out.map((row) => row.income), [1, 2, 26.5, 100, 3])
  assert.equal(out[0].city, 'Oslo')
})

test('median: odd and even counts, exact below the sample size', async () => {
  const imputer = await new Imputer({ inputCol: ['age', 'income'], outputCol: ['ageFilled', 'incomeFilled'], strategy: 'median' }).fit(Dataset.fromArray(rows))
  assert.deepEqual(imputer.fillValues, [40, 2.5])
  const out = imputer.transform(rows[1])
  assert.equal(out.ageFilled, 40)
  assert.equal(out.age, null, 'the input column is kept when outputCol differs')
})

test('median of 100,000 values with a 2,000-value reservoir is close, and reproducible', async () => {
  // A shuffled 0..99999: the true median is 49999.5.
  const values = Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 100_000)
  const data = values.map((x) => ({ x }))
  const first = await new Imputer({ inputCol: 'x', strategy: 'median', sampleSize: 2000, seed: 5 }).fit(data)
  const second = await new Imputer({ inputCol: 'x', strategy: 'median', sampleSize: 2000, seed: 5 }).fit(data)
  const estimate = first.fillValues![0] as number
  assert.ok(Math.abs(estimate - 49_999.5) < 5_000, `estimate ${estimate}`)
  assert.equal(second.fillValues![0], estimate)
})

test('most_frequent counts strings (ties go to the first seen); constant needs no fit', async () => {
  const frequent = await new Imputer({ inputCol: 'city', strategy: 'most_frequent' }).fit(rows)
  assert.deepEqual(frequent.fillValues, ['Oslo'])
  assert.equal(frequent.transform({ city: '' }).city, 'Oslo')
  const tie = await new Imputer({ inputCol: 'c', strategy: 'most_frequent' }).fit([{ c: 'b' }, { c: 'a' }, { c: 'a' }, { c: 'b' }])
  assert.deepEqual(tie.fillValues, ['b'])
  const constant = new Imputer({ inputCol: 'city', strategy: 'constant', fillValue: 'unknown' })
  assert.equal(constant.fitted, true)
  assert.equal(constant.transform({ city: null }).city, 'unknown')
})

test('Imputer errors: non-numeric mean, all missing, bad options', async () => {
  await assert.rejects(new Imputer({ inputCol: 'city' }).fit(rows), hasCode('TRANSFORMER_BAD_INPUT', /column "city" \(row 0 of the fit data\): expected a number for strategy 'mean', received "Oslo"/))
  await assert.rejects(new Imputer({ inputCol: 'x' }).fit([{ x: null }, { x: '' }]), hasCode('TRANSFORMER_NO_DATA', /column "x" has no non-missing values/))
  await assert.rejects(
    new Imputer({ inputCol: 'x', strategy: 'most_frequent', maxDistinct: 2 }).fit([{ x: 1 }, { x: 2 }, { x: 3 }]),
    hasCode('TRANSFORMER_BAD_INPUT', /column "x" \(row 2 of the fit data\): more than maxDistinct \(2\)/),
  )
  assert.throws(() => new Imputer({ inputCol: 'x', sampleSize: 0 }), hasCode('TRANSFORMER_BAD_OPTION', /^Imputer: expected sampleSize to be a positive integer, received 0$/))
  assert.throws(() => new Imputer({ inputCol: 'x', maxDistinct: 2.5 }), hasCode('TRANSFORMER_BAD_OPTION', /^Imputer: expected maxDistinct to be a positive integer, received 2\.5$/))
  assert.throws(() => new Imputer({ inputCol: 'x', strategy: 'constant' }), hasCode('TRANSFORMER_BAD_OPTION', /fillValue/))
  assert.throws(() => new Imputer({ inputCol: 'x', fillValue: 0 }), hasCode('TRANSFORMER_BAD_OPTION', /constant' only/))
  assert.throws(() => new Imputer({ inputCol: 'x', strategy: 'mode' as 'mean' }), hasCode('TRANSFORMER_BAD_OPTION', /received "mode"/))
  assert.throws(() => new Imputer({ inputCol: ['a', 'b'], outputCol: 'c' }), hasCode('TRANSFORMER_BAD_OPTION', /2 column name\(s\)/))
  assert.throws(() => new Imputer({ inputCol: 'x' }).transform({ x: null }), hasCode('TRANSFORMER_NOT_FITTED', /Imputer on column "x" is not fitted/))
})
