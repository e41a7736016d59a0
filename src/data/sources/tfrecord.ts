// TFRecord files of tf.train.Example as a Dataset of rows (and raw records), and the writer
// that turns rows into such files atomically. Framing and protobuf live in ../tfrecord/.
import { MaltError, describeValue } from '../../errors.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'
import { ExampleRowDecoder, encodeExample, setOwn, type FeatureInput } from '../tfrecord/example.js'
import { checkRecordReadOptions, createRecordWriter, expandRecordFiles, readRecordBatches, recordError, type RecordReadOptions, type TfRecordCompression } from '../tfrecord/framing.js'

export { readTfRecordTensors, type TfRecordTensorOptions, type TfRecordTensors } from '../tfrecord/tensors.js'
export type { RecordReadOptions, TfRecordCompression } from '../tfrecord/framing.js'

/** Options of {@link tfrecord}. */
export interface TfRecordOptions extends RecordReadOptions {
  /**
   * Keep every feature as a list. By default a list of exactly one value becomes that value
   * (`label: [3]` → `label: 3`); other lengths, 0 included, stay lists.
   * @defaultValue false
   */
  keepLists?: boolean
  /**
   * Decode bytes_list values as UTF-8 strings instead of `Uint8Array`s.
   * @defaultValue false
   */
  bytesAsString?: boolean
}

/**
 * Reads TFRecord files of tf.train.Example as rows `{ name: value }`: float_list →
 * `number[]`, int64_list → `number[]` (a `bigint` for each value beyond ±2^53), bytes_list →
 * `Uint8Array[]` (or `string[]`); one-value lists become scalars unless `keepLists`.
 * `uri` may be a file, a directory (its visible files, sorted) or a list of them.
 * A bad record throws `TFRECORD_CORRUPT` (CRC, truncation) or `TFRECORD_BAD_EXAMPLE`
 * (not an Example), naming file, record and byte offset; `onError: 'skip'` skips data CRC
 * and Example failures and counts them in `stats`.
 *
 * @example
 * for await (const row of tfrecord('train.tfrecord').batch(32)) { ... }
 */
export function tfrecord(uri: string | readonly string[], options: TfRecordOptions = {}): Dataset<Row> {
  checkRecordReadOptions('tfrecord', options)
  const skip = options.onError === 'skip'
  return Dataset.fromGenerator(async function* () {
    const decoder = new ExampleRowDecoder(options)
    for (const file of await expandRecordFiles(uri)) {
      for await (const batch of readRecordBatches(file, options)) {
        const rows: Row[] = []
        for (let i = 0; i < batch.records.length; i++) {
          try {
            rows.push(decoder.decode(batch.records[i]))
          } catch (error) {
            const where = recordError('TFRECORD_BAD_EXAMPLE', file, batch.indexes[i], batch.offsets[i], (error as Error).message, error)
            if (!skip) throw where
            if (options.stats) {
              options.stats.rowsSkipped++
              if (options.stats.skipped.length < 10) options.stats.skipped.push(where.message)
            }
          }
        }
        if (options.stats) options.stats.rowsRead += rows.length
        yield* rows
      }
    }
  })
}

/** The raw records (serialized protos of any kind) of TFRecord files, each a fresh copy. */
export function tfrecordRecords(uri: string | readonly string[], options: RecordReadOptions = {}): Dataset<Uint8Array> {
  checkRecordReadOptions('tfrecordRecords', options)
  return Dataset.fromGenerator(async function* () {
    for (const file of await expandRecordFiles(uri)) {
      for await (const batch of readRecordBatches(file, options)) {
        if (options.stats) options.stats.rowsRead += batch.records.length
        yield* batch.records.map((record) => new Uint8Array(record)) // Copies; Buffer#slice would not.
      }
    }
  })
}

const textEncoder = new TextEncoder()

/** The list kind a feature is written as. */
export type TfRecordFeatureType = 'float' | 'int64' | 'bytes'

/** Options of {@link writeTfRecord}. */
export interface WriteTfRecordOptions {
  /**
   * Forces the kind of named features, e.g. `{ price: 'float' }` so that integral prices are
   * not written as int64. Unnamed features follow the value mapping of {@link writeTfRecord}.
   * @defaultValue {}
   */
  types?: Record<string, TfRecordFeatureType>
  /**
   * `'gzip'` (`'zlib'`) writes a file TF reads with `compression_type='GZIP'` (`'ZLIB'`).
   * @defaultValue 'none'
   */
  compression?: TfRecordCompression
}

/**
 * Writes rows as tf.train.Example records; returns the number written. The file appears only
 * when every row is written (a failure leaves no partial file). Value mapping, unless `types`
 * says otherwise: a safe-integer number, boolean (0/1), bigint, and integer typed arrays
 * (`Int32Array`, `BigInt64Array`, ...), `bigint[]`, `boolean[]` → int64_list; any other
 * number, `number[]` (integral or not), `Float32Array`/`Float64Array` → float_list (float32
 * on disk); string, `Uint8Array` and arrays of them → bytes_list; null/undefined → left out.
 *
 * @example
 * await writeTfRecord('train.tfrecord', rows, { types: { price: 'float' } })
 */
export async function writeTfRecord(uri: string, rows: AsyncIterable<Row> | Iterable<Row>, options: WriteTfRecordOptions = {}): Promise<number> {
  const types = options.types ?? {}
  for (const [name, type] of Object.entries(types)) {
    if (type !== 'float' && type !== 'int64' && type !== 'bytes') {
      throw new MaltError('TFRECORD_BAD_ARGUMENT', `writeTfRecord: expected types[${JSON.stringify(name)}] to be 'float', 'int64' or 'bytes', received ${describeValue(type)}`)
    }
  }
  checkRecordReadOptions('writeTfRecord', { compression: options.compression })
  const writer = await createRecordWriter(uri, { compression: options.compression })
  try {
    let index = 0
    for await (const row of rows) {
      const features: Record<string, FeatureInput> = {}
      for (const name of Object.keys(row)) {
        const value = row[name]
        if (value === null || value === undefined) continue
        setOwn(features, name, toFeature(value, types[name], name, index))
      }
      await writer.write(encodeExample(features))
      index++
    }
    return await writer.commit()
  } catch (error) {
    await writer.abort()
    throw error
  }
}

/** One cell → the feature it is written as (see {@link writeTfRecord}). */
function toFeature(value: unknown, type: TfRecordFeatureType | undefined, name: string, index: number): FeatureInput {
  const bad = (expected: string): MaltError =>
    new MaltError('TFRECORD_BAD_VALUE', `writeTfRecord: row ${index}, feature ${JSON.stringify(name)}: expected ${expected}, received ${describeValue(value)}`, {
      location: { field: name },
    })
  let values: ArrayLike<unknown>
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') values = [value]
  else if (value instanceof Uint8Array && type !== 'float' && type !== 'int64') values = [value]
  else if (Array.isArray(value) || ArrayBuffer.isView(value)) values = value as unknown as ArrayLike<unknown>
  else throw bad('a number, bigint, boolean, string, Uint8Array, typed array or an array of them')
  const kind = type ?? inferType(value, values)
  if (kind === 'bytes') {
    const bytes: Uint8Array[] = []
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      if (typeof v === 'string') bytes.push(textEncoder.encode(v))
      else if (v instanceof Uint8Array) bytes.push(v)
      else throw bad('strings or Uint8Arrays for a bytes feature')
    }
    return { kind, values: bytes }
  }
  if (kind === 'float') {
    if (value instanceof Float32Array) return { kind, values: value }
    const floats = new Float32Array(values.length)
    for (let i = 0; i < values.length; i++) {
      const v = values[i]
      if (typeof v === 'number') floats[i] = v
      else if (typeof v === 'boolean' || typeof v === 'bigint') floats[i] = Number(v)
      else throw bad('numbers for a float feature')
    }
    return { kind, values: floats }
  }
  const ints: Array<number | bigint> = []
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v === 'bigint') {
      if (v < -(2n ** 63n) || v >= 2n ** 63n) throw bad('int64 values in [-2^63, 2^63)')
      ints.push(v)
    } else if (typeof v === 'boolean') ints.push(v ? 1 : 0)
    else if (typeof v === 'number' && Number.isSafeInteger(v)) ints.push(v)
    else throw bad('safe integers or bigints for an int64 feature')
  }
  return { kind: 'int64', values: ints }
}

function inferType(value: unknown, values: ArrayLike<unknown>): TfRecordFeatureType {
  if (value instanceof Uint8Array) return 'bytes'
  if (value instanceof Float32Array || value instanceof Float64Array) return 'float'
  if (ArrayBuffer.isView(value)) return 'int64' // The other typed arrays hold integers.
  if (!Array.isArray(value)) {
    if (typeof value === 'string') return 'bytes'
    if (typeof value === 'number') return Number.isSafeInteger(value) ? 'int64' : 'float'
    return 'int64' // bigint, boolean
  }
  if (values.length === 0) return 'float'
  const first = values[0]
  if (typeof first === 'string' || first instanceof Uint8Array) return 'bytes'
  if (typeof first === 'bigint' || typeof first === 'boolean') return 'int64'
  return 'float'
}
