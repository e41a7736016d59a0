// TFRecord source and writer on real files: every feature kind round trip, options, atomic
// writes, directories, and the fast tensor reader with its shape and corruption errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeExample, encodeExample } from '../tfrecord/example.js'
import { createRecordWriter } from '../tfrecord/framing.js'
import { newReadStats, type Row } from '../types.js'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { assertClosesOnBreak } from '../../../test/helpers/fds.js'
import { MAX_SKIP_REASONS } from './row-errors.js'
import { readTfRecordTensors, tfrecord, tfrecordRecords, writeTfRecord } from './tfrecord.js'
import { rejectsWith } from '../../../test/helpers/errors.js'

const dir = useTempDir().path


test('every value kind round-trips through writeTfRecord and tfrecord()', async () => {
  const path = join(dir, 'kinds.tfrecord')
  const rows: Row[] = [
    {
      float: 0.25,
      floats: [1.5, -2.25, 3],
      f32: Float32Array.from([0.5, 4]),
      f64: Float64Array.from([0.125]),
      int: 7,
      negative: -3,
      big: 2n ** 60n,
      ints: Int32Array.from([1, -2, 3]),
      bigs: [1n, -(2n ** 63n)],
      flag: true,
      flags: [true, false],
      huge: 2 ** 60, // Not a safe integer: written as a float.
      text: 'héllo',
      texts: ['a', 'b'],
      blob: Uint8Array.from([0, 255, 7]),
      empty: [],
      missing: null,
      absent: undefined,
    },
    { int: 8, text: '' },
  ]
  assert.equal(await writeTfRecord(path, rows), 2)
  const read = await tfrecord(path).toArray()
  assert.deepEqual(read, [
    {
      float: 0.25,
      floats: [1.5, -2.25, 3],
      f32: [0.5, 4],
      f64: 0.125,
      int: 7,
      negative: -3,
      big: 2n ** 60n,
      ints: [1, -2, 3],
      bigs: [1, -(2n ** 63n)],
      flag: 1,
      flags: [1, 0],
      huge: 2 ** 60,
      text: new TextEncoder().encode('héllo'),
      texts: [Uint8Array.from([97]), Uint8Array.from([98])],
      blob: Uint8Array.from([0, 255, 7]),
      empty: [],
    },
    { int: 8, text: new Uint8Array(0) },
  ])
  const lists = await tfrecord(path, { keepLists: true, bytesAsString: true }).toArray()
  assert.deepEqual(lists[0].float, [0.25])
  assert.deepEqual(lists[0].text, ['héllo'])
  assert.deepEqual(lists[1], { int: [8], text: [''] })
  // Floats are float32 on disk: 0.1 comes back as its float32 value.
  await writeTfRecord(path, [{ x: 0.1 }])
  assert.deepEqual(await tfrecord(path).toArray(), [{ x: Math.fround(0.1) }])
})

test('types forces a feature kind; values that do not fit are errors naming row and feature', async () => {
  const path = join(dir, 'types.tfrecord')
  await writeTfRecord(path, [{ price: 3, ids: [1, 2], code: 'x' }], { types: { price: 'float', ids: 'int64', code: 'bytes' } })
  const [raw] = await tfrecordRecords(path).toArray()
  assert.deepEqual(Buffer.from(raw), Buffer.from(encodeExample({ price: { kind: 'float', values: [3] }, ids: { kind: 'int64', values: [1, 2] }, code: { kind: 'bytes', values: [new TextEncoder().encode('x')] } })))
  await rejectsWith(writeTfRecord(path, [{ a: 1 }, { a: 1.5 }], { types: { a: 'int64' } }), 'TFRECORD_BAD_VALUE', ['row 1', 'feature "a"', 'safe integers', '1.5'])
  await rejectsWith(writeTfRecord(path, [{ a: { nested: true } }]), 'TFRECORD_BAD_VALUE', ['row 0', 'feature "a"'])
  await rejectsWith(writeTfRecord(path, [{ a: 2n ** 64n }]), 'TFRECORD_BAD_VALUE', ['[-2^63, 2^63)'])
  await rejectsWith(writeTfRecord(path, [], { types: { a: 'double' as 'float' } }), 'TFRECORD_BAD_ARGUMENT', ['types["a"]', '"double"'])
  // The failed writes left the earlier file as it was.
  assert.deepEqual(await tfrecord(path).toArray(), [{ price: 3, ids: [1, 2], code: new TextEncoder().encode('x') }])
})

test('a failing row source leaves no file and no temporary file', async () => {
  const sub = join(dir, 'atomic')
  mkdirSync(sub)
  const path = join(sub, 'out.tfrecord')
  async function* rows(): AsyncGenerator<Row> {
    for (let i = 0; i < 50_000; i++) yield { x: [i, i + 1], y: i }
    throw new Error('source failed')
  }
  await assert.rejects(writeTfRecord(path, rows()), /source failed/)
  assert.equal(existsSync(path), false)
  assert.deepEqual(readdirSync(sub), [])
})

test('tfrecord reads directories and lists of files in order, and gzip files', async () => {
  const sub = join(dir, 'shards')
  mkdirSync(sub)
  await writeTfRecord(join(sub, 'part-00001.tfrecord'), [{ i: 2 }, { i: 3 }])
  await writeTfRecord(join(sub, 'part-00000.tfrecord'), [{ i: 0 }, { i: 1 }])
  writeFileSync(join(sub, '_SUCCESS'), '')
  writeFileSync(join(sub, '.hidden'), 'x')
  assert.deepEqual((await tfrecord(sub).toArray()).map((r) => r.i), [0, 1, 2, 3])
  assert.deepEqual((await tfrecord([join(sub, 'part-00001.tfrecord'), join(sub, 'part-00000.tfrecord')]).toArray()).map((r) => r.i), [2, 3, 0, 1])
  const gz = join(dir, 'rows.tfrecord.gz')
  assert.equal(await writeTfRecord(gz, [{ i: 5 }, { i: 6 }], { compression: 'gzip' }), 2)
  assert.deepEqual(await tfrecord(gz, { compression: 'gzip' }).toArray(), [{ i: 5 }, { i: 6 }])
  assert.throws(() => tfrecord(gz, { compression: 'zip' as 'gzip' }), /expected compression to be 'none', 'gzip' or 'zlib', received "zip"/)
  const zlib = join(dir, 'rows.tfrecord.zz')
  assert.equal(await writeTfRecord(zlib, [{ i: 7 }], { compression: 'zlib' }), 1)
  assert.deepEqual(readFileSync(zlib)[0], 0x78) // The zlib header (deflate, 32K window).
  assert.deepEqual(await tfrecord(zlib, { compression: 'zlib' }).toArray(), [{ i: 7 }])
  await assert.rejects(tfrecord(zlib, { compression: 'gzip' }).toArray(), /expected gzip-compressed TFRecord data/)
  // A Dataset is re-iterable: a second pass reads the file again.
  const data = tfrecord(gz, { compression: 'gzip' })
  assert.equal(await data.count(), 2)
  assert.equal(await data.count(), 2)
})

test('tfrecord names file, record and offset for bad records, and can skip them', async () => {
  const path = join(dir, 'mixed.tfrecord')
  const writer = await createRecordWriter(path)
  await writer.write(encodeExample({ i: { kind: 'int64', values: [0] } }))
  await writer.write(Uint8Array.from([0x0b, 0x00])) // Framed fine, but not an Example.
  await writer.write(encodeExample({ i: { kind: 'int64', values: [2] } }))
  await writer.commit()
  const second = 16 + encodeExample({ i: { kind: 'int64', values: [0] } }).length
  await rejectsWith(tfrecord(path).toArray(), 'TFRECORD_BAD_EXAMPLE', [`${path}: record 1 at byte offset ${second}`, 'unsupported wire type 3'])
  const stats = newReadStats()
  assert.deepEqual(await tfrecord(path, { onError: 'skip', stats }).toArray(), [{ i: 0 }, { i: 2 }])
  assert.deepEqual([stats.rowsRead, stats.rowsSkipped], [2, 1])
  assert.match(stats.skipped[0], /record 1 at byte offset \d+/)
  // Raw records do not parse, so all three come back, as copies.
  const raw = await tfrecordRecords(path).toArray()
  assert.equal(raw.length, 3)
  assert.deepEqual(raw[1], Uint8Array.from([0x0b, 0x00]))
  assert.equal(raw[1].constructor, Uint8Array)
  // A flipped data byte: the CRC catches it before any decoding.
  const bytes = readFileSync(path)
  bytes[second + 12] ^= 0xff
  writeFileSync(path, bytes)
  await rejectsWith(tfrecord(path).toArray(), 'TFRECORD_CORRUPT', [`record 1 at byte offset ${second}: data CRC mismatch`])
})

test('readTfRecordTensors packs list and scalar layouts, int64 labels and multiple files', async () => {
  const listPath = join(dir, 'list.tfrecord')
  const scalarPath = join(dir, 'scalars.tfrecord')
  const rows = Array.from({ length: 300 }, (_, i) => ({ values: Array.from({ length: 20 }, (_, j) => i + j / 8), label: i % 7 }))
  await writeTfRecord(listPath, rows.map((r) => ({ x: r.values, label: r.label, note: 'ignored' })))
  const types = Object.fromEntries(Array.from({ length: 20 }, (_, j) => [`f${j}`, 'float' as const]))
  await writeTfRecord(scalarPath, rows.map((r) => ({ label: r.label, ...Object.fromEntries(r.values.map((v, j) => [`f${j}`, v])) })), { types })
  const expected = Float32Array.from(rows.flatMap((r) => r.values))
  const labels = Float32Array.from(rows.map((r) => r.label))
  const list = await readTfRecordTensors(listPath, { features: 'x', label: 'label' })
  assert.deepEqual([list.rows, list.width, list.featureWidths], [300, 20, [20]])
  assert.deepEqual(list.features, expected)
  assert.deepEqual(list.labels, labels)
  const names = Array.from({ length: 20 }, (_, j) => `f${j}`)
  const scalars = await readTfRecordTensors(scalarPath, { features: names, label: 'label' })
  assert.deepEqual(scalars.features, expected)
  assert.deepEqual(scalars.labels, labels)
  // Order follows `features`, not the file; several files are concatenated.
  const some = await readTfRecordTensors([scalarPath, scalarPath], { features: ['f3', 'f0'] })
  assert.equal(some.rows, 600)
  assert.deepEqual(Array.from(some.features.subarray(0, 4)), [3 / 8, 0, 1 + 3 / 8, 1])
  assert.equal(some.labels, undefined)
})

test('readTfRecordTensors decodes unusual encodings through the generic path', async () => {
  const path = join(dir, 'odd.tfrecord')
  const writer = await createRecordWriter(path)
  // A long name (past the fast name cache), a 2-element int64 list, a label as float, gzip-free.
  const name = 'n'.repeat(200)
  for (let i = 0; i < 5; i++) {
    await writer.write(encodeExample({ [name]: { kind: 'int64', values: [i, 0 - i] }, y: { kind: 'float', values: [i / 2] } }))
  }
  await writer.commit()
  const out = await readTfRecordTensors(path, { features: name, label: 'y' })
  assert.deepEqual(Array.from(out.features), [0, 0, 1, -1, 2, -2, 3, -3, 4, -4])
  assert.deepEqual(Array.from(out.labels!), [0, 0.5, 1, 1.5, 2])
})

test('readTfRecordTensors errors name file, record, offset and feature; skip drops bad rows', async () => {
  const path = join(dir, 'shapes.tfrecord')
  const good = (i: number): Row => ({ x: [i, i, i], y: i, img: new Uint8Array([1]) })
  await writeTfRecord(path, [good(0), good(1), { x: [9, 9], y: 2 }, good(3), { y: 4 }, good(5)])
  const third = 2 * (16 + encodeExample({ x: { kind: 'float', values: [0, 0, 0] }, y: { kind: 'int64', values: [0] }, img: { kind: 'bytes', values: [new Uint8Array([1])] } }).length)
  await rejectsWith(readTfRecordTensors(path, { features: 'x', label: 'y' }), 'TFRECORD_SHAPE', [`${path}: record 2 at byte offset ${third}`, 'feature "x" has 2 values, expected 3'])
  const stats = newReadStats()
  const kept = await readTfRecordTensors(path, { features: 'x', label: 'y', onError: 'skip', stats })
  assert.deepEqual(Array.from(kept.labels!), [0, 1, 3, 5])
  assert.deepEqual(Array.from(kept.features), [0, 0, 0, 1, 1, 1, 3, 3, 3, 5, 5, 5])
  assert.deepEqual([stats.rowsRead, stats.rowsSkipped], [4, 2])
  assert.match(stats.skipped[1], /record 4 .*feature "x" is missing/)
  await rejectsWith(readTfRecordTensors(path, { features: 'img' }), 'TFRECORD_BAD_FEATURE', ['record 0', 'feature "img" holds a bytes_list'])
  await rejectsWith(readTfRecordTensors(path, { features: 'x', label: 'x' }), 'TFRECORD_BAD_ARGUMENT', ['requested twice'])
  await rejectsWith(readTfRecordTensors(path, { features: [] }), 'TFRECORD_BAD_ARGUMENT', ['at least one feature'])
  // A two-value label is a shape error too.
  await writeTfRecord(path, [{ x: [1], y: [1, 2] }])
  await rejectsWith(readTfRecordTensors(path, { features: 'x', label: 'y' }), 'TFRECORD_SHAPE', ['feature "y" has 2 values, expected 1'])
})

test('readTfRecordTensors grows its output for gzip input (size unknown) and reads an empty file', async () => {
  const path = join(dir, 'grow.tfrecord.gz')
  await writeTfRecord(path, Array.from({ length: 3000 }, (_, i) => ({ x: [i], y: -i })), { compression: 'gzip' })
  const out = await readTfRecordTensors(path, { features: 'x', label: 'y', compression: 'gzip' })
  assert.equal(out.rows, 3000)
  assert.equal(out.features.length, 3000)
  assert.equal(out.features[2999], 2999)
  assert.equal(out.labels![2999], -2999)
  const empty = join(dir, 'empty.tfrecord')
  await writeTfRecord(empty, [])
  assert.deepEqual(await readTfRecordTensors(empty, { features: 'x' }), { features: new Float32Array(0), labels: undefined, rows: 0, width: 0, featureWidths: [0] })
})

test('skipped records follow the shared policy: counts reset every pass, up to MAX_SKIP_REASONS reasons', async () => {
  const path = join(dir, 'many-bad.tfrecord')
  const writer = await createRecordWriter(path)
  for (let i = 0; i < 30; i++) {
    await writer.write(i % 3 === 0 ? encodeExample({ i: { kind: 'int64', values: [i] } }) : Uint8Array.from([0x0b, 0x00]))
  }
  await writer.commit()
  const stats = newReadStats()
  const data = tfrecord(path, { onError: 'skip', stats })
  for (let pass = 0; pass < 2; pass++) {
    assert.equal((await data.toArray()).length, 10)
    assert.deepEqual([stats.rowsRead, stats.rowsSkipped, stats.skipped.length], [10, 20, MAX_SKIP_REASONS], `pass ${pass}`)
    assert.match(stats.skipped[0], /record 1 at byte offset \d+: /)
  }
  const records = tfrecordRecords(path, { stats })
  assert.equal(await records.count(), 30)
  assert.equal(await records.count(), 30)
  assert.deepEqual([stats.rowsRead, stats.rowsSkipped, stats.skipped.length], [30, 0, 0])
})

test('a feature keeps the kind of the first row that holds it', async () => {
  const path = join(dir, 'kinds-fixed.tfrecord')
  const kindsOf = async (): Promise<string[]> => (await tfrecordRecords(path).toArray()).map((raw) => kindOf(raw))
  // An integral value after a float one stays float (and comes back as a number).
  await writeTfRecord(path, [{ x: 2.5 }, { x: 2 }, { x: [1, 2] }, { x: true }])
  assert.deepEqual(await kindsOf(), ['float', 'float', 'float', 'float'])
  assert.deepEqual((await tfrecord(path).toArray()).map((row) => row.x), [2.5, 2, [1, 2], 1])
  // number[] of integers is float_list (documented), and then fixes the feature's kind.
  await writeTfRecord(path, [{ x: [1, 2] }, { x: 3 }])
  assert.deepEqual(await kindsOf(), ['float', 'float'])
  // An int64 feature takes integral numbers in any form, and a feature that first holds null is free.
  await writeTfRecord(path, [{ x: null }, { x: 1 }, { x: [2, 3] }, { x: 4n }, { x: Int32Array.from([5]) }])
  assert.deepEqual(await kindsOf(), ['none', 'int64', 'int64', 'int64', 'int64'])
  // Declared kinds win from the first row.
  await writeTfRecord(path, [{ x: 1 }, { x: 2.5 }], { types: { x: 'float' } })
  assert.deepEqual(await kindsOf(), ['float', 'float'])
})

test('a float after an inferred int64 is a conflict naming feature, row and the types fix', async () => {
  const path = join(dir, 'conflict.tfrecord')
  await rejectsWith(writeTfRecord(path, [{ x: 1, y: 'a' }, { x: 3, y: 'b' }, { x: 2.5, y: 'c' }]), 'TFRECORD_TYPE_CONFLICT', [
    'row 2, feature "x"',
    'received 2.5',
    'int64_list, inferred from its value in row 0',
    `types: { "x": 'float' }`,
  ])
  assert.equal(existsSync(path), false)
  await rejectsWith(writeTfRecord(path, [{ x: [1, 2] }, { x: 'text' }]), 'TFRECORD_TYPE_CONFLICT', ['row 1, feature "x"', 'float_list', 'one kind of value'])
  await rejectsWith(writeTfRecord(path, [{ x: 'a' }, { x: 1 }]), 'TFRECORD_TYPE_CONFLICT', ['row 1', 'bytes_list'])
  await rejectsWith(writeTfRecord(path, [{ x: 1 }, { x: Uint8Array.from([1]) }]), 'TFRECORD_TYPE_CONFLICT', ['row 1', 'int64_list'])
  await rejectsWith(writeTfRecord(path, [{ x: 1 }, { x: 2 ** 60 }]), 'TFRECORD_TYPE_CONFLICT', [`types: { "x": 'float' }`])
  // Where types declares the kind, a value that does not fit stays a plain bad value.
  await rejectsWith(writeTfRecord(path, [{ x: 1 }, { x: 2.5 }], { types: { x: 'int64' } }), 'TFRECORD_BAD_VALUE', ['row 1', 'safe integers'])
  assert.equal(existsSync(path), false)
})

test('stopping a for await early closes the file', async () => {
  const path = join(dir, 'fds.tfrecord')
  // 4 MB: more than the stream reads ahead, so only closing the file can release it early.
  await writeTfRecord(path, Array.from({ length: 4000 }, (_, i) => ({ i, text: 'x'.repeat(1000) })))
  const data = tfrecord(path)
  await assertClosesOnBreak(data, (row) => {
    assert.equal(row.i, 0)
  })
})

/** The list kind of feature "x" in one serialized Example, or 'none' when it is absent. */
function kindOf(raw: Uint8Array): string {
  return decodeExample(raw).x?.kind ?? 'none'
}
