// The tensor reader's fast paths on real files: records matched against the layouts of earlier
// ones (key order changes, prefix names, varint lengths, exact float bits) and what breaks a match.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SeededRandom } from '../../util/random.js'
import { newReadStats } from '../types.js'
import { encodeExample, type FeatureInput } from './example.js'
import { createRecordWriter, scanRecords } from './framing.js'
import { LayoutCache } from './layout.js'
import { readTfRecordTensors } from './tensors.js'
import { WireReader } from './wire.js'
import { rejectsWith } from '../../../test/helpers/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'malt-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

async function writeRecords(name: string, records: Uint8Array[]): Promise<string> {
  const path = join(dir, name)
  const writer = await createRecordWriter(path)
  for (const record of records) await writer.write(record)
  await writer.commit()
  return path
}


const f32 = (value: number): number => Math.fround(value)

test('records in changing key orders, with prefix names and labels of every varint length', async () => {
  // Names where one is a prefix of another, in two orders that alternate irregularly, an
  // unrequested bytes feature of varying length, int64 labels of 1 to 10 varint bytes, and
  // int64 pairs of the same byte length split differently ([300, 1] and [1, 300]).
  const labels = [0, 5, 127, 128, 300, 16384, -1, -300, 2 ** 40, 7, 2 ** 52, 1]
  const random = new SeededRandom(11)
  const expected: number[] = []
  const records: Uint8Array[] = []
  for (let i = 0; i < 600; i++) {
    const values = [f32(random.next() * 10 - 5), f32(i), f32(-i / 3)]
    const label = labels[i % labels.length]
    const features: Array<[string, FeatureInput]> = [
      ['f1', { kind: 'float', values: [values[0]] }],
      ['f10', { kind: 'float', values: [values[1]] }],
      ['f', { kind: 'float', values: [values[2]] }],
      ['n', { kind: 'int64', values: i % 3 === 0 ? [300, 1] : [1, 300] }],
      ['f100', { kind: 'bytes', values: [new Uint8Array(i % 5).fill(i & 0xff)] }],
      ['label', { kind: 'int64', values: [label] }],
    ]
    if (random.next() < 0.3) features.reverse()
    records.push(encodeExample(Object.fromEntries(features)))
    expected.push(values[0], values[1], values[2], ...(i % 3 === 0 ? [300, 1] : [1, 300]), f32(label))
  }
  const path = await writeRecords('orders.tfrecord', records)
  const out = await readTfRecordTensors(path, { features: ['f1', 'f10', 'f', 'n'], label: 'label' })
  assert.equal(out.rows, 600)
  assert.deepEqual(out.featureWidths, [1, 1, 1, 2])
  const rows = Array.from({ length: 600 }, (_, i) => [...out.features.subarray(5 * i, 5 * i + 5), out.labels![i]])
  assert.deepEqual(rows.flat(), expected)
})

/** An Example with float features `name: [bits...]` given as raw float32 bit patterns. */
function rawFloats(features: Record<string, number[]>): Uint8Array {
  const input: Record<string, FeatureInput> = {}
  for (const [name, bits] of Object.entries(features)) input[name] = { kind: 'float', values: new Float32Array(new Uint32Array(bits).buffer) }
  const bytes = encodeExample(input)
  // protobufjs may canonicalize NaNs on the way in: write the bits back over the values.
  for (const [name, bits] of Object.entries(features)) {
    const key = new TextEncoder().encode(name)
    let at = findBytes(bytes, [0x0a, key.length, ...key, 0x12])
    at += 2 + key.length + 2 // entry key, then Feature tag + length
    const packed = bytes[at + 3]
    assert.equal(packed, 4 * bits.length)
    const view = new DataView(bytes.buffer, bytes.byteOffset)
    bits.forEach((b, i) => view.setUint32(at + 4 + 4 * i, b, true))
  }
  return bytes
}

function findBytes(haystack: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  throw new Error(`bytes ${needle.join(',')} not found`)
}

test('float bits are copied exactly: NaN payloads, -0, subnormals, in scalars, short and long lists', async () => {
  const special = [0x7f800001, 0xffc01234, 0x80000000, 0x00000001, 0x7f7fffff, 0xff800000]
  const records: Uint8Array[] = []
  for (let i = 0; i < 40; i++) {
    const bits = special.map((b, j) => (j === i % special.length ? b : (0x3f800000 + i * 8 + j) >>> 0))
    records.push(rawFloats({ s: [bits[0]], short: bits.slice(1, 4), long: Array.from({ length: 20 }, (_, k) => bits[k % bits.length]), y: [bits[5]] }))
  }
  const path = await writeRecords('bits.tfrecord', records)
  const out = await readTfRecordTensors(path, { features: ['s', 'short', 'long'], label: 'y' })
  assert.equal(out.width, 24)
  const words = new Uint32Array(out.features.buffer, out.features.byteOffset, out.features.length)
  const labelWords = new Uint32Array(out.labels!.buffer, out.labels!.byteOffset, out.rows)
  for (let i = 0; i < 40; i++) {
    const bits = special.map((b, j) => (j === i % special.length ? b : (0x3f800000 + i * 8 + j) >>> 0))
    const row = Array.from(words.subarray(24 * i, 24 * (i + 1)))
    assert.deepEqual(row, [bits[0], ...bits.slice(1, 4), ...Array.from({ length: 20 }, (_, k) => bits[k % bits.length])], `row ${i}`)
    assert.equal(labelWords[i], bits[5])
  }
})

test('after many matched records, a missing feature, a new shape and a bad value kind are still errors', async () => {
  const c: FeatureInput = { kind: 'int64', values: [300, 1] }
  const good = (i: number): Uint8Array => encodeExample({ a: { kind: 'float', values: [i] }, b: { kind: 'float', values: [i, i] }, c, y: { kind: 'int64', values: [i] } })
  const records = Array.from({ length: 50 }, (_, i) => good(i))
  records[30] = encodeExample({ a: { kind: 'float', values: [30] }, c, y: { kind: 'int64', values: [30] } })
  // Three varints in the bytes of two: as long as the record, but not the same layout.
  records[35] = encodeExample({ a: { kind: 'float', values: [35] }, b: { kind: 'float', values: [35, 35] }, c: { kind: 'int64', values: [1, 1, 1] }, y: { kind: 'int64', values: [35] } })
  assert.equal(records[35].length, records[34].length)
  records[40] = encodeExample({ a: { kind: 'float', values: [40] }, b: { kind: 'float', values: [1, 2, 3] }, y: { kind: 'int64', values: [40] } })
  records[45] = encodeExample({ a: { kind: 'bytes', values: [new Uint8Array(4)] }, b: { kind: 'float', values: [45, 45] }, y: { kind: 'int64', values: [45] } })
  const path = await writeRecords('breaks.tfrecord', records)
  const offset30 = records.slice(0, 30).reduce((sum, r) => sum + r.length + 16, 0)
  await rejectsWith(readTfRecordTensors(path, { features: ['a', 'b', 'c'], label: 'y' }), 'TFRECORD_MISSING_FEATURE', [`record 30 at byte offset ${offset30}`, 'feature "b" is missing'])
  const stats = newReadStats()
  const out = await readTfRecordTensors(path, { features: ['a', 'b', 'c'], label: 'y', onError: 'skip', stats })
  assert.equal(stats.rowsSkipped, 4)
  assert.match(stats.skipped[1], /record 35 .*feature "c" has 3 values, expected 2/)
  assert.match(stats.skipped[2], /record 40 .*feature "b" has 3 values, expected 2/)
  assert.match(stats.skipped[3], /record 45 .*feature "a" holds a bytes_list/)
  const kept = Array.from({ length: 50 }, (_, i) => i).filter((i) => ![30, 35, 40, 45].includes(i))
  assert.deepEqual(Array.from(out.labels!), kept)
  assert.deepEqual(Array.from(out.features), kept.flatMap((i) => [i, i, i, 300, 1]))
})

/** Wire bytes by hand, for what encodeExample cannot write (a name twice). */
const len = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, n >>> 7])
const floatFeature = (value: number): number[] => [0x12, 0x06, 0x0a, 0x04, ...new Uint8Array(Float32Array.of(value).buffer)]
const mapEntry = (name: string, feature: number[]): number[] => {
  const body = [0x0a, ...len(name.length), ...new TextEncoder().encode(name), 0x12, ...len(feature.length), ...feature]
  return [0x0a, ...len(body.length), ...body]
}
const exampleOf = (...entries: number[][]): Uint8Array => Uint8Array.from([0x0a, ...len(entries.flat().length), ...entries.flat()])

test('a name given twice takes its last value, also where the layout has another name there', async () => {
  const records = Array.from({ length: 30 }, (_, i) =>
    i % 4 === 3 ? exampleOf(mapEntry('x', floatFeature(-1)), mapEntry('x', floatFeature(i))) : exampleOf(mapEntry('x', floatFeature(i)), mapEntry('u', floatFeature(-1))),
  )
  const path = await writeRecords('twice.tfrecord', records)
  const out = await readTfRecordTensors(path, { features: 'x' })
  assert.deepEqual(Array.from(out.features), Array.from({ length: 30 }, (_, i) => i))
})

test('a flipped value byte in a record that matches a layout fails the CRC check', async () => {
  const records = Array.from({ length: 20 }, (_, i) => encodeExample({ x: { kind: 'float', values: [i + 0.5] }, y: { kind: 'int64', values: [1] } }))
  const path = await writeRecords('crc.tfrecord', records)
  const bytes = readFileSync(path)
  const at = 12 * (records[0].length + 16) + 12 + findBytes(records[12], [0x0a, 0x04]) + 2
  bytes[at] ^= 0x01
  writeFileSync(path, bytes)
  await rejectsWith(readTfRecordTensors(path, { features: 'x', label: 'y' }), 'TFRECORD_CORRUPT', ['record 12', 'data CRC mismatch'])
  const unchecked = await readTfRecordTensors(path, { features: 'x', label: 'y', verify: false })
  assert.notEqual(unchecked.features[12], 12.5)
  assert.equal(unchecked.features[13], 13.5)
})

test('records spanning stream chunks and in other encodings mid-file read like the rest', async () => {
  // ~2.4 MB: records cross the 1 MB chunk boundaries; every 97th is written with unpacked
  // floats (tag per value) and a feature order of its own, which no layout matches.
  const width = 200
  const records: Uint8Array[] = []
  const expected: number[] = []
  for (let i = 0; i < 3000; i++) {
    const values = Array.from({ length: width }, (_, j) => f32(i * 0.25 + j))
    expected.push(...values, i % 3)
    if (i % 97 === 0) records.push(unpackedExample(values, i % 3))
    else records.push(encodeExample({ x: { kind: 'float', values }, y: { kind: 'float', values: [i % 3] }, pad: { kind: 'int64', values: [i] } }))
  }
  const path = await writeRecords('chunks.tfrecord', records)
  const out = await readTfRecordTensors(path, { features: 'x', label: 'y' })
  assert.equal(out.rows, 3000)
  const got: number[] = []
  for (let i = 0; i < 3000; i++) got.push(...out.features.subarray(width * i, width * (i + 1)), out.labels![i])
  assert.deepEqual(got, expected)
})

/** `{y: [label], x: values}` with x as an unpacked float list (field tag before each value). */
function unpackedExample(values: number[], label: number): Uint8Array {
  const list = new Uint8Array(values.length * 5)
  const view = new DataView(list.buffer)
  values.forEach((v, i) => {
    list[5 * i] = 0x0d // FloatList.value, fixed32
    view.setFloat32(5 * i + 1, v, true)
  })
  const feature = [0x12, ...len(list.length), ...list] // Feature.float_list
  const x = [0x0a, 0x01, 0x78, 0x12, ...len(feature.length), ...feature]
  const y = Array.from(encodeExample({ y: { kind: 'float', values: [label] } }).subarray(4))
  const entries = [0x0a, ...len(y.length), ...y, 0x0a, ...len(x.length), ...x]
  return Uint8Array.from([0x0a, ...len(entries.length), ...entries])
}

test('the layout cache stops learning when records never repeat a layout', async () => {
  // Every record has its own length (a growing unrequested list): no layout ever matches.
  const records = Array.from({ length: 40 }, (_, i) => encodeExample({ x: { kind: 'float', values: [i] }, other: { kind: 'int64', values: new Array(i + 1).fill(1) } }))
  const path = await writeRecords('unique.tfrecord', records)
  const cache = new LayoutCache()
  const reader = new WireReader()
  const target = { featureCount: 1, rowOffsets: Int32Array.of(0), rowBytes: Int32Array.of(4) }
  const out = { features: new Float32Array(1), featureWords: new Int32Array(1), featureBytes: new Uint8Array(4), labels: new Float32Array(0), labelWords: new Int32Array(0), labelBytes: new Uint8Array(0) }
  const learned: boolean[] = []
  await scanRecords(path, (buf, start, end) => {
    reader.reset(buf, start, end)
    assert.equal(cache.apply(reader, start, end, out, 0, 0), false)
    learned.push(cache.learning)
    if (cache.learning) cache.learn(reader, start, end, target, (ks, ke) => (ke - ks === 1 && buf[ks] === 0x78 ? 0 : -1))
  })
  assert.deepEqual(learned.slice(0, 8), new Array(8).fill(true))
  assert.deepEqual(learned.slice(8), new Array(32).fill(false))
  // It tries again after 1024 more misses (records may become regular, as in a next file).
  for (let i = 0; i < 1024 - 32; i++) cache.apply(reader, 0, 1, out, 0, 0)
  assert.equal(cache.learning, true)
})

test('the layout cache matches a repeated layout and copies its values', async () => {
  const records = Array.from({ length: 10 }, (_, i) => encodeExample({ x: { kind: 'float', values: [i / 4] }, other: { kind: 'int64', values: [1000 + i * 1000] } }))
  const path = await writeRecords('repeat.tfrecord', records)
  const cache = new LayoutCache()
  const reader = new WireReader()
  const target = { featureCount: 1, rowOffsets: Int32Array.of(0), rowBytes: Int32Array.of(4) }
  const features = new Float32Array(10)
  const out = { features, featureWords: new Int32Array(features.buffer), featureBytes: new Uint8Array(features.buffer), labels: new Float32Array(0), labelWords: new Int32Array(0), labelBytes: new Uint8Array(0) }
  const hits: boolean[] = []
  let row = 0
  await scanRecords(path, (buf, start, end) => {
    reader.reset(buf, start, end)
    const hit = cache.apply(reader, start, end, out, row, row)
    hits.push(hit)
    if (!hit) {
      features[row] = row / 4 // what the full decode would have written
      cache.learn(reader, start, end, target, (ks, ke) => (ke - ks === 1 && buf[ks] === 0x78 ? 0 : -1))
    }
    row++
  })
  assert.deepEqual(hits, [false, ...new Array(9).fill(true)])
  assert.deepEqual(Array.from(features), Array.from({ length: 10 }, (_, i) => i / 4))
})
