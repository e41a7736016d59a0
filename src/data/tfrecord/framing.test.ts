// TFRecord framing on real files: the byte layout, streaming across chunks, corruption with
// file/record/offset in the message, onError: 'skip', gzip, and atomic writes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newReadStats } from '../types.js'
import { crc32c, maskCrc } from './crc32c.js'
import { RecordParser, createRecordWriter, encodeRecord, readRecordBatches, scanRecords, type RecordReadOptions } from './framing.js'
import { rejectsWith } from '../../../test/helpers/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'malt-'))
test.after(() => rmSync(dir, { recursive: true, force: true }))

/** Records of lengths 10, 11, 12, ... with recognisable bytes. */
const records = (count: number): Uint8Array[] => Array.from({ length: count }, (_, i) => Uint8Array.from({ length: 10 + i }, (_, j) => (i * 31 + j) & 0xff))
/** Byte offset of record `k` in a file of `records(n)`: 16 bytes of framing each. */
const offsetOf = (k: number): number => Array.from({ length: k }, (_, i) => 16 + 10 + i).reduce((a, b) => a + b, 0)

async function writeRecords(path: string, data: Uint8Array[], compression?: 'gzip'): Promise<void> {
  const writer = await createRecordWriter(path, { compression })
  for (const record of data) await writer.write(record)
  assert.equal(await writer.commit(), data.length)
}

async function readAll(path: string, options: RecordReadOptions = {}): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const batch of readRecordBatches(path, options)) for (const record of batch.records) out.push(new Uint8Array(record))
  return out
}


test('a record is uint64 length, masked CRC of it, the data, masked CRC of the data', () => {
  const data = new TextEncoder().encode('hello tfrecord')
  const framed = encodeRecord(data)
  const view = new DataView(framed.buffer)
  assert.equal(framed.length, 8 + 4 + data.length + 4)
  assert.equal(view.getBigUint64(0, true), BigInt(data.length))
  assert.equal(view.getUint32(8, true), maskCrc(crc32c(framed.subarray(0, 8))))
  assert.deepEqual(framed.subarray(12, 12 + data.length), data)
  assert.equal(view.getUint32(12 + data.length, true), maskCrc(crc32c(data)))
})

test('records written are read back in order with their offsets', async () => {
  const path = join(dir, 'plain.tfrecord')
  const data = records(50)
  await writeRecords(path, data)
  assert.equal(readFileSync(path).length, offsetOf(50))
  assert.deepEqual(await readAll(path), data)
  const offsets: number[] = []
  const count = await scanRecords(path, (_buf, _start, _end, index, offset) => {
    assert.equal(index, offsets.length)
    offsets.push(offset)
  })
  assert.equal(count, 50)
  assert.deepEqual(offsets, Array.from({ length: 50 }, (_, k) => offsetOf(k)))
})

test('the parser gives the same records whatever the chunk boundaries, and records larger than a chunk', async () => {
  const frame = (data: Uint8Array[]): Uint8Array => {
    const file = new Uint8Array(data.reduce((n, r) => n + r.length + 16, 0))
    let at = 0
    for (const record of data) {
      file.set(encodeRecord(record), at)
      at += record.length + 16
    }
    return file
  }
  const parse = (file: Uint8Array, chunkSize: number): Uint8Array[] => {
    const parser = new RecordParser('mem')
    const seen: Uint8Array[] = []
    for (let i = 0; i < file.length; i += chunkSize) {
      parser.push(file.subarray(i, i + chunkSize), (buf, start, end) => seen.push(new Uint8Array(buf.subarray(start, end))))
    }
    parser.finish()
    return seen
  }
  const small = records(20)
  for (const chunkSize of [1, 5, 13, 100, 4096]) assert.deepEqual(parse(frame(small), chunkSize), small, `chunk size ${chunkSize}`)
  const data = [...records(3), new Uint8Array(3 << 20).fill(7), ...records(3)]
  for (const chunkSize of [4093, 1 << 20]) assert.deepEqual(parse(frame(data), chunkSize), data, `chunk size ${chunkSize}`)
  // Through a real file and stream too (1 MiB chunks).
  const path = join(dir, 'big.tfrecord')
  await writeRecords(path, data)
  const read = await readAll(path)
  assert.equal(read.length, data.length)
  assert.deepEqual(read[20], data[20])
})

test('an empty file has no records', async () => {
  const path = join(dir, 'empty.tfrecord')
  writeFileSync(path, new Uint8Array(0))
  assert.deepEqual(await readAll(path), [])
})

test('a flipped byte in a length throws TFRECORD_CORRUPT with record and byte offset', async () => {
  const path = join(dir, 'bad-length.tfrecord')
  await writeRecords(path, records(6))
  const bytes = readFileSync(path)
  bytes[offsetOf(4) + 1] ^= 0x40
  writeFileSync(path, bytes)
  const error = await rejectsWith(readAll(path), 'TFRECORD_CORRUPT', [path, 'record 4', `byte offset ${offsetOf(4)}`, 'length CRC mismatch', 'stored 0x'])
  assert.equal(error.location?.offset, offsetOf(4))
  assert.equal(error.location?.file, path)
  // Corruption of a length is never skipped: where the next record starts is unknown.
  await rejectsWith(readAll(path, { onError: 'skip' }), 'TFRECORD_CORRUPT', ['record 4'])
})

test('a flipped byte in the data throws, or is skipped and counted with onError: skip', async () => {
  const path = join(dir, 'bad-data.tfrecord')
  const data = records(6)
  await writeRecords(path, data)
  const bytes = readFileSync(path)
  bytes[offsetOf(3) + 12 + 5] ^= 0x01
  writeFileSync(path, bytes)
  await rejectsWith(readAll(path), 'TFRECORD_CORRUPT', [`${path}: record 3 at byte offset ${offsetOf(3)}: data CRC mismatch (stored 0x`, ', computed 0x'])
  const stats = newReadStats()
  const read = await readAll(path, { onError: 'skip', stats })
  assert.deepEqual(read, [...data.slice(0, 3), ...data.slice(4)])
  assert.equal(stats.rowsSkipped, 1)
  assert.match(stats.skipped[0], /record 3 at byte offset \d+: data CRC mismatch/)
  // verify: false reads the damaged bytes without complaint.
  const unchecked = await readAll(path, { verify: false })
  assert.equal(unchecked.length, 6)
  assert.notDeepEqual(unchecked[3], data[3])
})

test('a flipped byte in a stored data CRC is caught too', async () => {
  const path = join(dir, 'bad-crc.tfrecord')
  await writeRecords(path, records(3))
  const bytes = readFileSync(path)
  bytes[offsetOf(2) - 1] ^= 0x80 // The last byte of record 1's data CRC.
  writeFileSync(path, bytes)
  await rejectsWith(readAll(path), 'TFRECORD_CORRUPT', ['record 1', `byte offset ${offsetOf(1)}`, 'data CRC mismatch'])
})

test('a truncated file throws with the offset of the unfinished record', async () => {
  const path = join(dir, 'truncated.tfrecord')
  await writeRecords(path, records(5))
  const bytes = readFileSync(path)
  writeFileSync(path, bytes.subarray(0, offsetOf(4) + 20)) // Inside record 4's data.
  await rejectsWith(readAll(path), 'TFRECORD_CORRUPT', ['record 4', `byte offset ${offsetOf(4)}`, 'truncated record', 'needs 30 bytes (14 of data), found 20'])
  writeFileSync(path, bytes.subarray(0, offsetOf(2) + 5)) // Inside record 2's header.
  await rejectsWith(readAll(path, { onError: 'skip' }), 'TFRECORD_CORRUPT', ['record 2', `byte offset ${offsetOf(2)}`, 'header needs 12 bytes, found 5'])
})

test('gzip-compressed files are written and read; a gzip file read plainly says so', async () => {
  const path = join(dir, 'packed.tfrecord.gz')
  const data = records(40)
  await writeRecords(path, data, 'gzip')
  const bytes = readFileSync(path)
  assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b])
  assert.deepEqual(await readAll(path, { compression: 'gzip' }), data)
  await rejectsWith(readAll(path), 'TFRECORD_CORRUPT', ['record 0 at byte offset 0', "compression: 'gzip'"])
  // A file gzipped by another tool (one member) reads the same.
  const plain = join(dir, 'plain-for-gzip.tfrecord')
  await writeRecords(plain, data)
  writeFileSync(`${plain}.gz`, gzipSync(readFileSync(plain)))
  assert.deepEqual(await readAll(`${plain}.gz`, { compression: 'gzip' }), data)
  // Not gzip data at all.
  await rejectsWith(readAll(plain, { compression: 'gzip' }), 'TFRECORD_CORRUPT', [plain, 'expected gzip-compressed'])
})

test('a missing file is a STORAGE_NOT_FOUND error, compressed or not', async () => {
  await rejectsWith(readAll(join(dir, 'nope.tfrecord')), 'STORAGE_NOT_FOUND', ['nope.tfrecord'])
  await rejectsWith(readAll(join(dir, 'nope.tfrecord.gz'), { compression: 'gzip' }), 'STORAGE_NOT_FOUND', ['nope.tfrecord.gz'])
})

test('abort leaves no file and no temporary file behind', async () => {
  const sub = mkdtempSync(join(dir, 'abort-'))
  for (const compression of [undefined, 'gzip'] as const) {
    const path = join(sub, `aborted-${compression ?? 'none'}.tfrecord`)
    const writer = await createRecordWriter(path, { compression })
    for (const record of records(100)) await writer.write(record)
    await writer.write(new Uint8Array(2 << 20)) // Forces a flush to the temporary file first.
    await writer.abort()
    assert.equal(existsSync(path), false)
  }
  assert.deepEqual(readdirSync(sub), [])
})
