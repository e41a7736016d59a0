// Tests of profileDataset: column discovery, missing values, kinds and types, limits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'
import { profileDataset, stripSamples } from './profile.js'

const rows: Row[] = [
  { x: 1, city: 'Oslo', ok: true, v: Float32Array.from([0, 1]) },
  { x: 0, city: 'Rome', ok: false, v: [2, 0] },
  { x: null, city: 'Oslo', ok: true, v: [0, 5] },
  { x: 5, city: null, ok: true, extra: 'late' },
  { x: NaN, city: 'Oslo', ok: true, v: Float32Array.from([1, 1]) },
  { x: 2.5, city: 'Lima', ok: false, v: [3, 3] },
]

test('profileDataset discovers columns as the union of keys and counts missing values of every form', async () => {
  const profile = await profileDataset(Dataset.fromArray(rows), { name: 'small' })
  assert.equal(profile.name, 'small')
  assert.equal(profile.rows, 6)
  assert.deepEqual(profile.columns.map((c) => c.name), ['x', 'city', 'ok', 'v', 'extra'])
  const by = Object.fromEntries(profile.columns.map((c) => [c.name, c]))
  // x: null and NaN are missing; values 1 0 5 2.5.
  assert.equal(by.x.kind, 'numeric')
  assert.equal(by.x.type, 'number')
  assert.equal(by.x.count, 4)
  assert.equal(by.x.missing, 2)
  assert.equal(by.x.numeric?.mean, 2.125)
  assert.equal(by.x.numeric?.median, 1.75)
  assert.equal(by.x.numeric?.zeros, 1)
  assert.equal(by.x.numeric?.min, 0)
  assert.equal(by.x.numeric?.max, 5)
  assert.equal(by.city.kind, 'categorical')
  assert.equal(by.city.type, 'string')
  assert.equal(by.city.missing, 1)
  assert.equal(by.city.categorical?.distinct, 3)
  assert.deepEqual(by.city.categorical?.top[0], { value: 'Oslo', count: 3 })
  assert.equal(by.ok.type, 'boolean')
  assert.deepEqual(by.ok.categorical?.top, [{ value: 'true', count: 4 }, { value: 'false', count: 2 }])
  // v: absent in row 4, a vector of length 2 elsewhere.
  assert.equal(by.v.kind, 'vector')
  assert.equal(by.v.missing, 1)
  assert.equal(by.v.vector?.minLength, 2)
  assert.equal(by.v.vector?.elements?.count, 10)
  assert.equal(by.v.vector?.elements?.zeros, 3)
  assert.equal(by.v.vector?.elements?.max, 5)
  // A column first seen in row 4 counts the earlier rows as missing.
  assert.equal(by.extra.count, 1)
  assert.equal(by.extra.missing, 5)
  assert.equal(profile.truncated, false)
})

test('integer columns, bigints, mixed types and empty columns are typed from what was seen', async () => {
  const profile = await profileDataset([
    { n: 1, big: 10n, mixed: 1, none: null },
    { n: 2, big: 2n ** 60n, mixed: 'a' },
    { n: 3, big: 3n, mixed: 2, none: undefined },
  ])
  const by = Object.fromEntries(profile.columns.map((c) => [c.name, c]))
  assert.equal(by.n.type, 'integer')
  assert.equal(by.big.type, 'integer')
  assert.equal(by.big.numeric?.max, 2 ** 60)
  assert.equal(by.mixed.kind, 'numeric')
  assert.deepEqual(by.mixed.typeCounts, { number: 2, string: 1 })
  assert.equal(by.mixed.categorical?.count, 1)
  assert.equal(by.none.kind, 'empty')
  assert.equal(by.none.type, 'null')
  assert.equal(by.none.missing, 3)
})

test('limit stops reading the source; options are checked before any work', async () => {
  let pulled = 0
  const source = Dataset.fromGenerator(function* () {
    for (let i = 0; i < 1_000; i++) {
      pulled++
      yield { i }
    }
  })
  const profile = await profileDataset(source, { limit: 10 })
  assert.equal(profile.rows, 10)
  assert.equal(profile.truncated, true)
  assert.ok(pulled <= 11, `pulled ${pulled} rows`)
  await assert.rejects(profileDataset([], { sampleSize: 0 }), (e: unknown) => e instanceof MaltError && e.code === 'PROFILE_BAD_OPTION' && e.message === 'profile: expected sampleSize to be a positive integer, received 0')
  await assert.rejects(profileDataset([{ a: 1 }, 'x' as unknown as Row]), (e: unknown) => e instanceof MaltError && /row 2/.test(e.message))
})

test('truncated means rows were left unread: not when the data has exactly limit rows', async () => {
  const ten = Array.from({ length: 10 }, (_v, i) => ({ i }))
  const exact = await profileDataset(ten, { limit: 10 })
  assert.equal(exact.rows, 10)
  assert.equal(exact.truncated, false)
  const cut = await profileDataset([...ten, { i: 10 }], { limit: 10 })
  assert.equal(cut.rows, 10)
  assert.equal(cut.truncated, true)
  assert.equal((await profileDataset([], { limit: 0 })).truncated, false)
  const none = await profileDataset(ten, { limit: 0 })
  assert.deepEqual([none.rows, none.truncated], [0, true])
  await assert.rejects(profileDataset([], { limit: -1 }), (e: unknown) => e instanceof MaltError && e.message === 'profile: expected limit to be a non-negative integer, received -1')
})

test('known columns are profiled first and appear even with no rows (a header-only CSV)', async () => {
  const headerOnly = await profileDataset([], { columns: ['id', 'label'] })
  assert.equal(headerOnly.rows, 0)
  assert.deepEqual(headerOnly.columns.map((c) => [c.name, c.kind, c.type, c.count, c.missing]), [
    ['id', 'empty', 'null', 0, 0],
    ['label', 'empty', 'null', 0, 0],
  ])
  const some = await profileDataset([{ label: 'a', extra: 1 }], { columns: ['id', 'label'] })
  assert.deepEqual(some.columns.map((c) => [c.name, c.count, c.missing]), [['id', 0, 1], ['label', 1, 0], ['extra', 1, 0]])
  const capped = await profileDataset([{ c: 1 }], { columns: ['a', 'b'], maxColumns: 1 })
  assert.deepEqual([capped.columns.map((c) => c.name), capped.columnsDropped], [['a'], 2])
  await assert.rejects(profileDataset([], { columns: 'id' as unknown as string[] }), (e: unknown) => e instanceof MaltError && e.code === 'PROFILE_BAD_OPTION' && /columns/.test(e.message))
})

test('a large column keeps bounded samples; stripSamples empties them for JSON', async () => {
  const profile = await profileDataset(
    (function* () {
      for (let i = 0; i < 50_000; i++) yield { x: i, label: `c${i % 7}` }
    })(),
    { sampleSize: 1_000, bins: 10 },
  )
  const x = profile.columns[0].numeric!
  assert.equal(x.sample.length, 1_000)
  assert.equal(x.approximate, true)
  assert.ok(Math.abs(x.median - 25_000) < 2_500, `median ${x.median}`)
  assert.equal(x.histogram.length, 10)
  assert.equal(profile.columns[1].categorical?.distinct, 7)
  const stripped = stripSamples(profile)
  assert.equal(stripped.columns[0].numeric?.sample.length, 0)
  assert.equal(profile.columns[0].numeric?.sample.length, 1_000, 'the original is untouched')
  assert.ok(JSON.stringify(stripped).length < 20_000)
})

test('bytes holding short UTF-8 text are profiled as categories; binary bytes stay bytes', async () => {
  const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
  const profile = await profileDataset([
    { kind: encode('odd'), blob: new Uint8Array([0, 255, 3]) },
    { kind: encode('even'), blob: new Uint8Array([1, 2, 0]) },
    { kind: encode('odd'), blob: new Uint8Array([0xc3, 0x28]) },
  ])
  const kind = profile.columns.find((column) => column.name === 'kind')!
  assert.equal(kind.kind, 'categorical')
  assert.deepEqual(kind.categorical?.top, [{ value: 'odd', count: 2 }, { value: 'even', count: 1 }])
  const blob = profile.columns.find((column) => column.name === 'blob')!
  assert.equal(blob.type, 'bytes')
})
