// Tests of schema inference, schema parsing and validation (every violation, right row numbers).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import type { Row } from '../types.js'
import { profileDataset } from './profile.js'
import { inferSchema, parseSchema, validate, type Schema } from './schema.js'

const train: Row[] = [
  { age: 30, city: 'Oslo', score: 0.5, member: true, pixels: [1, 2, 3] },
  { age: 45, city: 'Rome', score: null, member: false, pixels: [0, 0, 0] },
  { age: 22, city: 'Oslo', score: 0.9, member: true, pixels: [4, 5, 6] },
]

test('inferSchema records types, nullability, ranges, categories and vector lengths, from a profile or rows', async () => {
  const expected: Schema = {
    columns: [
      { name: 'age', type: 'integer', nullable: false, min: 22, max: 45 },
      { name: 'city', type: 'string', nullable: false, values: ['Oslo', 'Rome'] },
      { name: 'score', type: 'number', nullable: true, min: 0.5, max: 0.9 },
      { name: 'member', type: 'boolean', nullable: false },
      { name: 'pixels', type: 'vector', nullable: false, length: 3 },
    ],
  }
  assert.deepEqual(inferSchema(await profileDataset(train)), expected)
  assert.deepEqual(await inferSchema(train), expected)
  const loose = inferSchema(await profileDataset(train), { ranges: false, maxCategories: 1 })
  assert.equal(loose.columns[0].min, undefined)
  assert.equal(loose.columns[1].values, undefined)
  assert.deepEqual(JSON.parse(JSON.stringify(expected)), expected, 'a schema is plain JSON')
})

test('validate lists every violation with its 1-based record number, column, expectation and value', async () => {
  const schema = inferSchema(await profileDataset(train))
  const rows: Row[] = [
    { age: 30, city: 'Oslo', score: 0.6, member: true, pixels: [1, 1, 1] }, // 1: valid
    { age: 99, city: 'Paris', score: null, member: true, pixels: [1, 1, 1] }, // 2: range, category
    { city: 'Oslo', score: 0.7, member: 'yes', pixels: [1, 1] }, // 3: missing age, type member, length
    { age: 30.5, city: null, score: 0.7, member: true, pixels: [1, 1, 1], bonus: 1 }, // 4: type age, null city, unexpected
  ]
  const result = await validate(rows, schema)
  assert.equal(result.valid, false)
  assert.equal(result.rows, 4)
  const summary = result.violations.map((v) => [v.row, v.column, v.kind])
  assert.deepEqual(summary, [
    [2, 'age', 'range'],
    [2, 'city', 'category'],
    [3, 'age', 'missing_column'],
    [3, 'member', 'type'],
    [3, 'pixels', 'length'],
    [4, 'age', 'type'],
    [4, 'city', 'null'],
    [4, 'bonus', 'unexpected_column'],
  ])
  assert.equal(result.counts.total, 8)
  assert.deepEqual(result.counts.byKind, { range: 1, category: 1, missing_column: 1, type: 2, length: 1, null: 1, unexpected_column: 1 })
  assert.equal(result.counts.byColumn.age, 3)
  const range = result.violations[0]
  assert.equal(range.expected, 'a value in [22, 45]')
  assert.equal(range.received, '99')
  assert.equal(range.message, 'record 2 (data row 2), column "age": expected a value in [22, 45], received 99')
  assert.match(result.violations[1].expected, /one of "Oslo", "Rome"/)
  assert.equal(result.violations[3].received, '"yes" (string)')
  const allowed = await validate(rows.slice(3), schema, { allowUnexpected: true })
  assert.equal(allowed.counts.byKind.unexpected_column, undefined)
  assert.equal((await validate(rows.slice(0, 1), schema)).valid, true)
})

test('describeRecord lets a caller that knows file lines name them in messages', async () => {
  const schema: Schema = { columns: [{ name: 'x', type: 'integer', nullable: false }] }
  const result = await validate([{ x: 1 }, { x: 'a' }], schema, { describeRecord: (n) => `train.csv:${n + 1}` })
  assert.equal(result.violations[0].row, 2)
  assert.equal(result.violations[0].message, 'train.csv:3, column "x": expected a value of type integer, received "a" (string)')
  await assert.rejects(validate([], schema, { maxViolations: -1 }), (e: unknown) => e instanceof MaltError && e.message === 'validate: expected maxViolations to be a non-negative integer, received -1')
})

test('a header-only file gives a schema that names its columns and allows nulls', async () => {
  const schema = inferSchema(await profileDataset([], { columns: ['id', 'label'] }))
  assert.deepEqual(schema.columns, [
    { name: 'id', type: 'string', nullable: true },
    { name: 'label', type: 'string', nullable: true },
  ])
  assert.equal((await validate([{ id: null, label: 'x' }], schema)).valid, true)
  assert.equal((await validate([{ id: 'a', label: 'b', more: 1 }], schema)).counts.byKind.unexpected_column, 1)
})

test('validate stores at most maxViolations but counts them all', async () => {
  const schema: Schema = { columns: [{ name: 'x', type: 'integer', nullable: false, min: 0, max: 1 }] }
  const rows = Array.from({ length: 5_000 }, (_v, i) => ({ x: i }))
  const result = await validate(rows, schema, { maxViolations: 100 })
  assert.equal(result.violations.length, 100)
  assert.equal(result.counts.total, 4_998)
  assert.equal(result.violations[0].row, 3)
  assert.equal(result.violations[99].row, 102)
})

test('parseSchema names the bad field of a malformed schema', () => {
  const bad = (value: unknown, pattern: RegExp) =>
    assert.throws(() => parseSchema(value, 'schema.json'), (e: unknown) => e instanceof MaltError && e.code === 'SCHEMA_INVALID' && pattern.test(e.message))
  bad([], /schema\.json: columns: expected an object/)
  bad({ columns: [{ name: 'a', type: 'float' }] }, /columns\[0\]\.type: expected one of number, integer.*received "float"/)
  bad({ columns: [{ name: 'a', type: 'string' }, { name: 'a', type: 'string' }] }, /columns\[1\]\.name: expected a name not used/)
  bad({ columns: [{ name: 'a', type: 'number', min: '0' }] }, /columns\[0\]\.min: expected a number/)
  assert.equal(parseSchema({ columns: [{ name: 'a', type: 'string' }] }).columns[0].nullable, false)
})
