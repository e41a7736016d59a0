// TFRecord files of tf.train.Example as a Dataset of rows (and raw records), and the writer
// that turns rows into such files atomically. Framing and protobuf live in ../tfrecord/.
import { MaltError, describeValue } from '../../errors.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'
import { RowErrorPolicy } from './row-errors.js'
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
  return Dataset.fromGenerator(async function* () {
    // A new policy per pass: the stats describe the latest pass, as for csv() and jsonl().
    const policy = new RowErrorPolicy(options.onError ?? 'throw', options.stats)
    const decoder = new ExampleRowDecoder(options)
    for (const file of await expandRecordFiles(uri)) {
      for await (const batch of readRecordBatches(file, options)) {
        const rows: Row[] = []
        for (let i = 0; i < batch.records.length; i++) {
          try {
            rows.push(decoder.decode(batch.records[i]))
          } catch (error) {
            const where = recordError('TFRECORD_BAD_EXAMPLE', file, batch.indexes[i], batch.offsets[i], (error as Error).message, error)
            policy.bad(where.code, where.message, where.location ?? { file }, error)
          }
        }
        policy.read(rows.length)
        yield* rows
      }
    }
  })
}

/** The raw records (serialized protos of any kind) of TFRecord files, each a fresh copy. */
export function tfrecordRecords(uri: string | readonly string[], options: RecordReadOptions = {}): Dataset<Uint8Array> {
  checkRecordReadOptions('tfrecordRecords', options)
  return Dataset.fromGenerator(async function* () {
    const policy = new RowErrorPolicy(options.onError ?? 'throw', options.stats)
    for (const file of await expandRecordFiles(uri)) {
      for await (const batch of readRecordBatches(file, options)) {
        policy.read(batch.records.length)
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
 * when every row is written (a failure leaves no partial file). Each feature has one list kind
 * in every record: the one `types` declares, else the one inferred from the first row that
 * holds it. Inference: a safe-integer number, boolean (0/1), bigint, and integer typed arrays
 * (`Int32Array`, `BigInt64Array`, ...), `bigint[]`, `boolean[]` → int64_list; any other
 * number, `number[]` (integral or not, and `[]`), `Float32Array`/`Float64Array` → float_list
 * (float32 on disk); string, `Uint8Array` and arrays of them → bytes_list; null/undefined →
 * left out. Later rows follow that kind: integers go into a float feature as they are, but a
 * non-integer in a feature inferred as int64 (`{x: 1}` then `{x: 2.5}`) throws
 * `TFRECORD_TYPE_CONFLICT`, as earlier records are already written: declare
 * `types: { x: 'float' }`. Floats that happen to be integral (2.0 read from a float_list) are
 * numbers like any other, so declare their kind too when it matters.
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
  // The kind of every feature met so far: declared, or inferred from the row it first held a value.
  const kinds = new Map<string, FeatureKind>()
  for (const [name, type] of Object.entries(types)) kinds.set(name, { kind: type, inferredAt: undefined })
  const writer = await createRecordWriter(uri, { compression: options.compression })
  try {
    let index = 0
    for await (const row of rows) {
      const features: Record<string, FeatureInput> = {}
      for (const name of Object.keys(row)) {
        const value = row[name]
        if (value === null || value === undefined) continue
        setOwn(features, name, toFeature(value, name, index, kinds))
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

/** A feature's list kind, and the row it was inferred from (undefined when `types` declares it). */
interface FeatureKind {
  kind: TfRecordFeatureType
  inferredAt: number | undefined
}

/** One cell → the feature it is written as (see {@link writeTfRecord}); fixes the kind on first sight. */
function toFeature(value: unknown, name: string, index: number, kinds: Map<string, FeatureKind>): FeatureInput {
  const known = kinds.get(name)
  const type = known?.kind
  let values: ArrayLike<unknown>
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') values = [value]
  else if (value instanceof Uint8Array && type !== 'float' && type !== 'int64') values = [value]
  else if (Array.isArray(value) || ArrayBuffer.isView(value)) values = value as unknown as ArrayLike<unknown>
  else throw badValue(name, index, value, 'a number, bigint, boolean, string, Uint8Array, typed array or an array of them')
  // A Uint8Array is bytes to inference: it goes into a numeric feature only when `types` says so.
  if (known?.inferredAt !== undefined && value instanceof Uint8Array && known.kind !== 'bytes') throw conflict(name, index, value, known)
  if (known) return encodeValues(value, values, known, name, index)
  const inferred: FeatureKind = { kind: inferType(value, values), inferredAt: index }
  kinds.set(name, inferred)
  return encodeValues(value, values, inferred, name, index)
}

function badValue(name: string, index: number, value: unknown, expected: string): MaltError {
  return new MaltError('TFRECORD_BAD_VALUE', `writeTfRecord: row ${index}, feature ${JSON.stringify(name)}: expected ${expected}, received ${describeValue(value)}`, {
    location: { field: name },
  })
}

/** A value that does not fit the kind inferred from an earlier row: records already written cannot change. */
function conflict(name: string, index: number, value: unknown, feature: FeatureKind): MaltError {
  const values: ArrayLike<unknown> = Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof Uint8Array)) ? (value as unknown as ArrayLike<unknown>) : [value]
  // Only numbers that are not all integers: declaring the feature float then makes every row fit.
  let numbers = feature.kind === 'int64'
  for (let i = 0; numbers && i < values.length; i++) numbers = ['number', 'bigint', 'boolean'].includes(typeof values[i])
  const fix = numbers
    ? `declare the kind before writing: types: { ${JSON.stringify(name)}: 'float' }`
    : 'a feature holds one kind of value (numbers or bytes) in every record; convert the values first'
  return new MaltError(
    'TFRECORD_TYPE_CONFLICT',
    `writeTfRecord: row ${index}, feature ${JSON.stringify(name)}: received ${describeValue(value)}, but the feature is written as ${feature.kind}_list, ` +
      `inferred from its value in row ${feature.inferredAt} (earlier records are written already); ${fix}`,
    { location: { field: name } },
  )
}

/** Encodes `values` as `feature.kind`, or throws naming the row and the feature. */
function encodeValues(value: unknown, values: ArrayLike<unknown>, feature: FeatureKind, name: string, index: number): FeatureInput {
  const bad = (expected: string): MaltError => (feature.inferredAt === undefined ? badValue(name, index, value, expected) : conflict(name, index, value, feature))
  const { kind } = feature
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
      if (v < -(2n ** 63n) || v >= 2n ** 63n) throw badValue(name, index, value, 'int64 values in [-2^63, 2^63)')
      ints.push(v)
    } else if (typeof v === 'boolean') ints.push(v ? 1 : 0)
    else if (typeof v === 'number' && Number.isSafeInteger(v)) ints.push(v)
    else throw bad('safe integers or bigints for an int64 feature')
  }
  return { kind: 'int64', values: ints }
}

/** The list kind {@link writeTfRecord} infers for a value when `types` does not name it. */
export function featureKindOf(value: unknown): TfRecordFeatureType {
  return inferType(value, Array.isArray(value) ? value : [])
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
