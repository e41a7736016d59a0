// Tests of the Parquet source against files written by an independent writer (hyparquet-writer).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { MaltError } from '../../errors.js'
import { LocalStorage, registerStorage, type ByteRange, type Storage } from '../../storage/index.js'
import { parquet, parquetInfo } from './parquet.js'

const ROWS = 2_500
const GROUP = 1_000

interface Expected {
  id: number
  big: number
  score: number
  name: string | null
  flag: boolean | null
}

function expectedRow(i: number): Expected {
  return {
    id: i,
    big: 2 ** 40 + i,
    score: i / 8 - 3.5,
    name: i % 7 === 3 ? null : `row-${i}-${'é'.repeat(i % 3)}`,
    flag: i % 5 === 0 ? null : i % 2 === 0,
  }
}

type Codec = 'SNAPPY' | 'UNCOMPRESSED' | 'GZIP' | 'BROTLI' | 'ZSTD'

/** Writer-side compressors for the codecs hyparquet-writer lacks (ZSTD: a stand-in label). */
const writerCompressors = {
  GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)),
  BROTLI: (input: Uint8Array) => new Uint8Array(brotliCompressSync(input)),
  ZSTD: (input: Uint8Array) => input,
}

function writeSample(path: string, codec: Codec): void {
  const rows = Array.from({ length: ROWS }, (_, i) => expectedRow(i))
  const buffer = parquetWriteBuffer({
    codec,
    compressors: writerCompressors,
    rowGroupSize: GROUP,
    columnData: [
      { name: 'id', type: 'INT32', data: rows.map((r) => r.id), nullable: false },
      { name: 'big', type: 'INT64', data: rows.map((r) => BigInt(r.big)) },
      { name: 'score', type: 'DOUBLE', data: rows.map((r) => r.score) },
      { name: 'name', type: 'STRING', data: rows.map((r) => r.name) },
      { name: 'flag', type: 'BOOLEAN', data: rows.map((r) => r.flag) },
    ],
  })
  writeFileSync(path, new Uint8Array(buffer))
}

/** Local storage under its own scheme that records every range read. */
function spyStorage(scheme: string): { storage: Storage; ranges: ByteRange[] } {
  const local = new LocalStorage()
  const ranges: ByteRange[] = []
  const storage: Storage = Object.assign(Object.create(local) as LocalStorage, {
    scheme,
    readFile: (path: string, range?: ByteRange) => {
      ranges.push(range ?? {})
      return local.readFile(path, range)
    },
  })
  return { storage, ranges }
}

describe('parquet', () => {
  let dir: string
  const pathOf = (codec: Codec): string => join(dir, `${codec.toLowerCase()}.parquet`)
  let snappyPath: string
  let plainPath: string

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'malt-'))
    for (const codec of ['SNAPPY', 'UNCOMPRESSED', 'GZIP', 'BROTLI', 'ZSTD'] as const) writeSample(pathOf(codec), codec)
    snappyPath = pathOf('SNAPPY')
    plainPath = pathOf('UNCOMPRESSED')
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  for (const codec of ['SNAPPY', 'UNCOMPRESSED', 'GZIP', 'BROTLI'] as const) {
    test(`reads every row and type across row groups (${codec})`, async () => {
      const rows = []
      for await (const row of parquet(pathOf(codec))) rows.push(row)
      assert.equal(rows.length, ROWS)
      for (const i of [0, 3, 5, 999, 1000, 1001, 2003, ROWS - 1]) {
        assert.deepEqual(rows[i], expectedRow(i), `row ${i}`)
      }
      assert.equal(rows.filter((r) => r.name === null).length, Math.ceil((ROWS - 3) / 7))
      assert.equal(rows.filter((r) => r.flag === null).length, ROWS / 5)
    })
  }

  test('the footer tells rows, row groups and column types', async () => {
    const info = await parquetInfo(`file://${snappyPath}`)
    assert.equal(info.rows, ROWS)
    assert.deepEqual(info.rowGroupRows, [1000, 1000, 500])
    assert.deepEqual(
      info.columns.map((c) => c.name),
      ['id', 'big', 'score', 'name', 'flag'],
    )
    assert.equal(info.columns[3].type, 'UTF8')
    assert.equal(info.columns[0].type, 'INT32')
  })

  test('selects columns in the requested order and keeps int64 as bigint on request', async () => {
    const rows = []
    for await (const row of parquet(snappyPath, { columns: ['big', 'id'], int64: 'bigint' })) rows.push(row)
    assert.equal(rows.length, ROWS)
    assert.deepEqual(Object.keys(rows[1200]), ['big', 'id'])
    assert.deepEqual(rows[1200], { big: BigInt(2 ** 40 + 1200), id: 1200 })
  })

  test('is re-iterable: two passes give the same rows', async () => {
    const data = parquet(plainPath, { columns: ['score'] })
    const first = []
    for await (const row of data) first.push(row.score)
    const second = []
    for await (const row of data) second.push(row.score)
    assert.equal(first.length, ROWS)
    assert.deepEqual(second, first)
  })

  test('reads by ranges, one row group at a time, never the whole file', async () => {
    const spy = spyStorage('spyparquet')
    registerStorage(spy.storage)
    const { size } = await spy.storage.stat(snappyPath)
    const bytesRead = (): number => spy.ranges.reduce((sum, r) => sum + (r.end ?? size) - (r.start ?? 0), 0)
    let seen = 0
    let readDuringFirstGroup = 0
    for await (const row of parquet(`spyparquet://${snappyPath}`)) {
      assert.equal(row.id, seen++)
      if (seen === 10) readDuringFirstGroup = bytesRead()
    }
    assert.equal(seen, ROWS)
    // While the first of three row groups is consumed, the later ones have not been fetched.
    assert.ok(readDuringFirstGroup < size * 0.5, `${readDuringFirstGroup} of ${size} bytes read during the first group`)
    assert.ok(bytesRead() >= size * 0.9, 'the whole file is read by the end')
    for (const range of spy.ranges) {
      assert.ok(range.start !== undefined && range.end !== undefined, 'every read is a range')
      assert.ok(range.end - range.start < size * 0.5, `read ${range.start}..${range.end} of ${size} bytes`)
    }
  })

  test('an unknown column is named with the available ones', async () => {
    await assert.rejects(
      async () => {
        for await (const _ of parquet(snappyPath, { columns: ['id', 'nope'] })) void _
      },
      (error: unknown) =>
        error instanceof MaltError &&
        error.code === 'PARQUET_UNKNOWN_COLUMN' &&
        error.message.includes('"nope"') &&
        error.message.includes('id, big, score, name, flag'),
    )
  })

  test('a file that is not Parquet is named in the error', async () => {
    const csv = join(dir, 'not.parquet')
    writeFileSync(csv, 'a,b\n1,2\n3,4\n5,6\n')
    await assert.rejects(parquetInfo(csv), (error: unknown) => {
      return error instanceof MaltError && error.code === 'PARQUET_BAD_MAGIC' && error.message.includes(csv)
    })
    const truncated = join(dir, 'truncated.parquet')
    const whole = Buffer.from(await import('node:fs').then((fs) => fs.readFileSync(snappyPath)))
    writeFileSync(truncated, whole.subarray(0, whole.length - 100))
    await assert.rejects(
      async () => {
        for await (const _ of parquet(truncated)) void _
      },
      (error: unknown) => error instanceof MaltError && error.code === 'PARQUET_BAD_MAGIC' && error.message.includes(truncated),
    )
  })

  test('a codec it cannot decode is named with the column', async () => {
    const file = pathOf('ZSTD')
    assert.equal((await parquetInfo(file)).rows, ROWS)
    await assert.rejects(
      async () => {
        for await (const _ of parquet(file, { columns: ['score'] })) void _
      },
      (error: unknown) =>
        error instanceof MaltError &&
        error.code === 'PARQUET_UNSUPPORTED_CODEC' &&
        error.message.includes('ZSTD') &&
        error.message.includes('"score"') &&
        error.message.includes(file),
    )
  })

  test('rejects bad options before reading', () => {
    assert.throws(() => parquet(snappyPath, { int64: 'string' as 'number' }), /int64/)
    assert.throws(() => parquet(snappyPath, { columns: 'id' as unknown as string[] }), /columns/)
  })
})
