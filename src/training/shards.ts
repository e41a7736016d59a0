// The training data as each worker reads it: the driver streams the dataset once and deals its
// rows into one file per worker as fixed-size float32 records — in rounds of n rows, each round
// in a seeded random order of the shards, so shards stay equal in size (±1) but a periodic order
// in the source (Fashion-MNIST's rows cycle through the classes: a plain every-n-th-row shard,
// as Dataset.shard(i, n) takes, would give each of 2 workers only half of the classes) is broken; a worker reads its file in blocks, in a shuffled order
// each epoch, with the next block read while the current one trains (prefetch).
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises'
import { MaltError, describeValue } from '../errors.js'
import { SeededRandom } from '../util/random.js'
import type { Dataset } from '../data/dataset.js'
import type { Row } from '../data/types.js'

/** What a shard file holds (its `.json` sidecar). */
export interface ShardMeta {
  rows: number
  /** float32 values of features per row. */
  featureWidth: number
  /** float32 values of label per row (1: a class index or a value). */
  labelWidth: number
}

/** Which columns make the features and the label. */
export interface ShardColumns {
  /** A vector column (e.g. `image`) or numeric columns side by side. */
  features: string | string[]
  label: string
}

/** One batch from a shard: `rows` records of features and labels, flat. */
export interface ShardBatch {
  rows: number
  features: Float32Array
  labels: Float32Array
}

const ROWS_PER_WRITE = 512

function cellError(column: string, row: number, detail: string, what: string): MaltError {
  return new MaltError('TRAIN_BAD_ROW', `row ${row} of the ${what}: column "${column}" ${detail}`, { location: { field: column } })
}

/** Writes one row's features and label into `out` at `offset`; returns the values written. */
function writeRecord(row: Row, rowNumber: number, columns: readonly string[], label: string, out: Float32Array, offset: number, width: number, what: string): void {
  let at = offset
  for (const column of columns) {
    const value = row[column]
    if (typeof value === 'number' || typeof value === 'boolean') {
      out[at++] = Number(value)
    } else if (Array.isArray(value) || ArrayBuffer.isView(value)) {
      const vector = value as unknown as ArrayLike<number>
      if (at + vector.length > offset + width) throw cellError(column, rowNumber, `has ${vector.length} values; the first row had ${width} features in all`, what)
      for (let i = 0; i < vector.length; i++) out[at++] = Number(vector[i])
    } else {
      throw cellError(column, rowNumber, value === undefined ? `is missing; the row has columns ${Object.keys(row).join(', ')}` : `expected a number or a numeric vector, received ${describeValue(value)}`, what)
    }
  }
  if (at !== offset + width) throw cellError(columns.at(-1)!, rowNumber, `gives ${at - offset} features; the first row gave ${width}`, what)
  const y = row[label]
  if (typeof y !== 'number' && typeof y !== 'boolean') throw cellError(label, rowNumber, `expected a numeric label, received ${describeValue(y)}`, what)
  out[at] = Number(y)
}

function featureWidth(row: Row, columns: readonly string[], rowNumber: number, what: string): number {
  let width = 0
  for (const column of columns) {
    const value = row[column]
    if (typeof value === 'number' || typeof value === 'boolean') width += 1
    else if (Array.isArray(value) || ArrayBuffer.isView(value)) width += (value as unknown as ArrayLike<number>).length
    else throw cellError(column, rowNumber, value === undefined ? `is missing; the row has columns ${Object.keys(row).join(', ')}` : `expected a number or a numeric vector, received ${describeValue(value)}`, what)
  }
  return width
}

async function write(file: FileHandle, data: Float32Array): Promise<void> {
  await file.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
}

/**
 * Deals the rows of `data` into `count` shard files `${prefix}-<i>.bin` (plus `.json` metadata), in
 * one pass, each round of `count` rows in a random order of the shards (seeded by `seed`). Every shard gets at least one row or the call fails (too few rows for the workers).
 */
export async function writeShards(data: Dataset<Row> | Iterable<Row> | AsyncIterable<Row>, count: number, prefix: string, columns: ShardColumns, seed = 42, what = 'training data'): Promise<ShardMeta[]> {
  const random = new SeededRandom(seed)
  let round: number[] = []
  const featureColumns = Array.isArray(columns.features) ? columns.features : [columns.features]
  const files: FileHandle[] = []
  const rows = new Array<number>(count).fill(0)
  let width = -1
  let pending: Float32Array[] = []
  let fill: number[] = []
  let rowNumber = 0
  try {
    for (let i = 0; i < count; i++) files.push(await open(`${prefix}-${i}.bin`, 'w'))
    for await (const row of data) {
      if (width < 0) {
        width = featureWidth(row, featureColumns, 0, what)
        pending = Array.from({ length: count }, () => new Float32Array(ROWS_PER_WRITE * (width + 1)))
        fill = new Array<number>(count).fill(0)
      }
      if (rowNumber % count === 0) round = shuffled(count, random)
      const shard = round[rowNumber % count]
      writeRecord(row, rowNumber, featureColumns, columns.label, pending[shard], fill[shard] * (width + 1), width, what)
      rowNumber++
      rows[shard]++
      if (++fill[shard] === ROWS_PER_WRITE) {
        await write(files[shard], pending[shard])
        pending[shard] = new Float32Array(ROWS_PER_WRITE * (width + 1))
        fill[shard] = 0
      }
    }
    for (let i = 0; i < count && width >= 0; i++) if (fill[i] > 0) await write(files[i], pending[i].subarray(0, fill[i] * (width + 1)))
  } finally {
    await Promise.all(files.map((file) => file.close()))
  }
  if (rowNumber < count) throw new MaltError('TRAIN_TOO_LITTLE_DATA', `the ${what} has ${rowNumber} rows; ${count} workers need at least one each`)
  const metas = rows.map((n) => ({ rows: n, featureWidth: width, labelWidth: 1 }))
  await Promise.all(metas.map((meta, i) => writeFile(`${prefix}-${i}.json`, JSON.stringify(meta))))
  return metas
}

/** Reads a shard's metadata. */
export async function readShardMeta(prefix: string, index: number): Promise<ShardMeta> {
  return JSON.parse(await readFile(`${prefix}-${index}.json`, 'utf8')) as ShardMeta
}

function shuffled(count: number, random: SeededRandom): number[] {
  const order = Array.from({ length: count }, (_, i) => i)
  for (let i = count - 1; i > 0; i--) {
    const j = random.nextInt(i + 1)
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  return order
}

/**
 * One epoch of batches from shard `${prefix}-<index>`: blocks of `blockRows` rows in a shuffled
 * order (seeded by `seed`), rows shuffled within each block, the next block read ahead. The last
 * batch may be smaller.
 */
export async function* shardBatches(prefix: string, index: number, meta: ShardMeta, batchSize: number, seed: number, blockRows = 4096): AsyncGenerator<ShardBatch> {
  const record = meta.featureWidth + meta.labelWidth
  const file = await open(`${prefix}-${index}.bin`, 'r')
  try {
    const random = new SeededRandom(seed)
    const blocks = shuffled(Math.ceil(meta.rows / blockRows), random)
    const readBlock = async (block: number): Promise<Float32Array> => {
      const rows = Math.min(blockRows, meta.rows - block * blockRows)
      const data = new Float32Array(rows * record)
      const bytes = new Uint8Array(data.buffer)
      let done = 0
      while (done < bytes.byteLength) {
        const { bytesRead } = await file.read(bytes, done, bytes.byteLength - done, block * blockRows * record * 4 + done)
        if (bytesRead === 0) throw new MaltError('TRAIN_SHARD_TRUNCATED', `shard ${prefix}-${index}.bin ends early (block ${block})`)
        done += bytesRead
      }
      return data
    }
    let ahead = blocks.length > 0 ? readBlock(blocks[0]) : undefined
    const fresh = (): ShardBatch => ({ rows: 0, features: new Float32Array(batchSize * meta.featureWidth), labels: new Float32Array(batchSize * meta.labelWidth) })
    let batch = fresh()
    for (let b = 0; b < blocks.length; b++) {
      const data = await ahead!
      ahead = b + 1 < blocks.length ? readBlock(blocks[b + 1]) : undefined
      for (const row of shuffled(data.length / record, random)) {
        batch.features.set(data.subarray(row * record, row * record + meta.featureWidth), batch.rows * meta.featureWidth)
        batch.labels.set(data.subarray(row * record + meta.featureWidth, (row + 1) * record), batch.rows * meta.labelWidth)
        if (++batch.rows === batchSize) {
          yield batch
          batch = fresh()
        }
      }
    }
    if (batch.rows > 0) yield { rows: batch.rows, features: batch.features.subarray(0, batch.rows * meta.featureWidth), labels: batch.labels.subarray(0, batch.rows * meta.labelWidth) }
  } finally {
    await file.close()
  }
}
