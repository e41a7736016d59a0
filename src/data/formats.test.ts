// Tests of openDataset: every supported format opens by its extension, others fail clearly.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { MaltError } from '../errors.js'
import { writeTfRecord } from './sources/tfrecord.js'
import { openDataset } from './formats.js'
import { profileDataset } from './profile/profile.js'

let dir: string

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'malt-'))
})

after(() => rmSync(dir, { recursive: true, force: true }))

test('openDataset reads CSV, TSV, JSON Lines, Parquet and TFRecord (plain and gzip)', async () => {
  const files: Record<string, string> = {
    'a.csv': 'x,name\n1,a\n2,b\n3,c\n',
    'a.tsv': 'x\tname\n1\ta\n2\tb\n3\tc\n',
    'a.ndjson': '{"x":1,"name":"a"}\n{"x":2,"name":"b"}\n{"x":3,"name":"c"}\n',
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  const parquet = parquetWriteBuffer({
    columnData: [
      { name: 'x', type: 'INT32', data: [1, 2, 3] },
      { name: 'name', type: 'STRING', data: ['a', 'b', 'c'] },
    ],
  })
  writeFileSync(join(dir, 'a.parquet'), new Uint8Array(parquet))
  const rows = [{ x: 1, name: 'a' }, { x: 2, name: 'b' }, { x: 3, name: 'c' }]
  await writeTfRecord(join(dir, 'a.tfrecord'), rows)
  await writeTfRecord(join(dir, 'a.tfrecord.gz'), rows, { compression: 'gzip' })
  const bytesAsText = (value: unknown) => (value instanceof Uint8Array ? new TextDecoder().decode(value) : value)
  for (const name of [...Object.keys(files), 'a.parquet', 'a.tfrecord', 'a.tfrecord.gz']) {
    const read = await openDataset(join(dir, name)).toArray()
    assert.deepEqual(read.map((r) => [Number(r.x), bytesAsText(r.name)]), [[1, 'a'], [2, 'b'], [3, 'c']], name)
  }
  const profile = await profileDataset(openDataset(join(dir, 'a.tsv')))
  assert.equal(profile.columns[0].numeric?.mean, 2)
})

test('openDataset rejects an unknown extension at once, listing the supported ones', () => {
  assert.throws(
    () => openDataset(join(dir, 'data.xlsx')),
    (e: unknown) => e instanceof MaltError && e.code === 'DATA_UNKNOWN_FORMAT' && /data\.xlsx.*\.csv.*\.tsv.*\.jsonl.*\.parquet.*\.tfrecord/.test(e.message),
  )
})

test('openDataset passes onError and stats to the reader', async () => {
  const path = join(dir, 'bad.jsonl')
  writeFileSync(path, '{"x":1}\nnot json\n{"x":2}\n')
  const stats = { rowsRead: 0, rowsSkipped: 0, skipped: [] as string[] }
  const read = await openDataset(path, { onError: 'skip', stats }).toArray()
  assert.equal(read.length, 2)
  assert.equal(stats.rowsSkipped, 1)
  await assert.rejects(openDataset(path).toArray(), (e: unknown) => e instanceof MaltError && /bad\.jsonl:2/.test(e.message))
})
