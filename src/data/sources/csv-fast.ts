// The fast path for purely numeric CSV files: bytes go straight into Float32Arrays (features
// and label) with no per-field strings, for training sets that fit in memory as tensors.
import { MaltError, describeValue } from '../../errors.js'
import { resolvePath } from '../../storage/index.js'
import { tf, ready } from '../../backend/index.js'
import type * as tfjs from '@tensorflow/tfjs'
import { csvColumnNames } from './csv.js'
import { NumericCsvParser, splitHeader, type ColumnSlots } from './csv-fast-parser.js'

/** Options of {@link readCsvTensors}. */
export interface CsvTensorOptions {
  /** The label column, by name or 0-based index. @defaultValue none: no labels are returned */
  label?: string | number
  /** The feature columns, by name or index, in the order wanted. @defaultValue every column but the label */
  features?: (string | number)[]
  /** The first line holds the column names; else columns are named `col0`, `col1`, …. @defaultValue true */
  header?: boolean
  /** The field separator, one ASCII character. @defaultValue ',' */
  delimiter?: string
  /** What an empty field becomes: an error naming file:line, or NaN. @defaultValue 'error' */
  missing?: 'error' | 'nan'
}

/** What {@link readCsvTensors} returns: row-major features and the label vector. */
export interface CsvTensorData {
  /** `rows × featureColumns.length` values, row after row. */
  features: Float32Array
  /** One value per row, or undefined when no label was asked for. */
  labels: Float32Array | undefined
  rows: number
  featureColumns: string[]
  labelColumn: string | undefined
}

/** The tensors of {@link csvTensors}: `xs` [rows, features] and `ys` [rows]. */
export interface CsvTensors {
  xs: tfjs.Tensor2D
  ys: tfjs.Tensor1D | undefined
  featureColumns: string[]
  labelColumn: string | undefined
}

const LF = 0x0a

function columnIndex(names: string[], key: string | number, what: string, uri: string): number {
  if (typeof key === 'number') {
    if (Number.isInteger(key) && key >= 0 && key < names.length) return key
    throw new MaltError('CSV_BAD_OPTION', `readCsvTensors: expected ${what} to be a column index in [0, ${names.length}) of ${uri}, received ${describeValue(key)}`)
  }
  const index = names.indexOf(key)
  if (index < 0) {
    throw new MaltError('CSV_BAD_OPTION', `readCsvTensors: ${what} names column "${key}", which ${uri} does not have; its columns are ${names.join(', ')}`)
  }
  return index
}

/** Maps every column of the file to a feature position, the label, or nothing. */
function planColumns(names: string[], options: CsvTensorOptions, uri: string): ColumnSlots {
  const label = options.label === undefined ? -1 : columnIndex(names, options.label, 'label', uri)
  const featureIndices = options.features
    ? options.features.map((key) => columnIndex(names, key, 'features', uri))
    : names.map((_name, i) => i).filter((i) => i !== label)
  const slots = new Int32Array(names.length).fill(-2)
  if (label >= 0) slots[label] = -1
  featureIndices.forEach((column, position) => {
    if (slots[column] !== -2) {
      const why = slots[column] === -1 ? 'is also the label' : 'is listed twice'
      throw new MaltError('CSV_BAD_OPTION', `readCsvTensors: feature column "${names[column]}" ${why}`)
    }
    slots[column] = position
  })
  return { names, slots, featureCount: featureIndices.length, hasLabel: label >= 0 }
}

function checkDelimiter(delimiter: string): number {
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter.charCodeAt(0) > 0x7f || '"\r\n0123456789.+-eE '.includes(delimiter)) {
    throw new MaltError('CSV_BAD_OPTION', `readCsvTensors: expected delimiter to be one ASCII character that cannot appear in a number, received ${describeValue(delimiter)}`)
  }
  return delimiter.charCodeAt(0)
}

/**
 * Reads a purely numeric CSV file into Float32Arrays, streaming its bytes (memory is bounded
 * by the output arrays, not the file). Columns not asked for are skipped and may hold text.
 * Throws a MaltError naming file:line and column for a non-numeric value or a row with the
 * wrong number of fields.
 *
 * @example
 * const { features, labels, rows } = await readCsvTensors('train.csv', { label: 'label' })
 */
export async function readCsvTensors(uri: string, options: CsvTensorOptions = {}): Promise<CsvTensorData> {
  const delimiter = checkDelimiter(options.delimiter ?? ',')
  const missing = options.missing ?? 'error'
  if (missing !== 'error' && missing !== 'nan') {
    throw new MaltError('CSV_BAD_OPTION', `readCsvTensors: expected missing to be "error" or "nan", received ${describeValue(missing)}`)
  }
  const header = options.header ?? true
  const { storage, path } = resolvePath(uri)
  const size = (await storage.stat(path)).size
  const input = storage.createReadStream(path)
  let parser: NumericCsvParser | undefined
  // Bytes of a line that started in an earlier chunk, kept as pieces so a long line is copied once.
  let carry: Uint8Array[] = []
  let consumed = 0

  // Blank lines before the first line with content (skipped, as csv() does).
  let blankLines = 0
  let atFileStart = true

  const start = (firstLine: Uint8Array): void => {
    const names = csvColumnNames(splitHeader(firstLine, delimiter), header, uri, blankLines + 1)
    parser = new NumericCsvParser(uri, planColumns(names, options, uri), delimiter, missing === 'nan', blankLines + (header ? 1 : 0))
  }

  /** Parses `bytes[from, to)`, which ends just after a newline. */
  const parseLines = (bytes: Uint8Array, from: number, to: number): void => {
    if (atFileStart) {
      if (bytes[from] === 0xef && bytes[from + 1] === 0xbb && bytes[from + 2] === 0xbf) from += 3 // a UTF-8 BOM
      atFileStart = false
    }
    while (!parser && from < to) {
      const lf = bytes.indexOf(LF, from)
      if (isBlank(bytes, from, lf)) {
        blankLines++
        from = lf + 1
        continue
      }
      start(bytes.subarray(from, lf + 1))
      if (header) from = lf + 1
    }
    if (from < to) {
      parser!.parse(bytes, from, to)
      if (consumed === 0) parser!.reserveFor(size, to - from)
    }
    consumed += to - from
  }

  try {
    for await (const chunk of input as AsyncIterable<Uint8Array>) {
      const last = chunk.lastIndexOf(LF)
      if (last < 0) {
        carry.push(chunk)
        continue
      }
      let from = 0
      if (carry.length > 0) {
        const first = chunk.indexOf(LF)
        const joined = concat([...carry, chunk.subarray(0, first + 1)])
        carry = []
        parseLines(joined, 0, joined.length)
        from = first + 1
      }
      if (from <= last) parseLines(chunk, from, last + 1)
      // Copy the tail: keeping a view would pin the whole chunk in memory.
      if (last + 1 < chunk.length) carry.push(chunk.slice(last + 1))
    }
    if (carry.length > 0) {
      const joined = concat([...carry, Uint8Array.of(LF)])
      parseLines(joined, 0, joined.length)
    }
  } finally {
    input.destroy()
  }
  if (!parser) {
    const what = header ? 'a header line and rows of numbers' : 'rows of numbers'
    throw new MaltError('CSV_EMPTY', `readCsvTensors: ${uri} is empty${blankLines > 0 ? ' (blank lines only)' : ''}; expected ${what}`, { location: { file: uri } })
  }
  const result = parser!.finish()
  const labelIndex = parser!.columns.slots.indexOf(-1)
  return { ...result, labelColumn: labelIndex >= 0 ? parser!.columns.names[labelIndex] : undefined }
}

/** True when the line `bytes[from, lf)` is empty (a lone LF or CRLF), as the parser's blank lines. */
function isBlank(bytes: Uint8Array, from: number, lf: number): boolean {
  return lf === from || (lf === from + 1 && bytes[from] === 0x0d)
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

/**
 * {@link readCsvTensors} as TF.js tensors: `xs` of shape [rows, features], `ys` of shape [rows].
 * The caller owns the tensors (dispose them when done).
 */
export async function csvTensors(uri: string, options: CsvTensorOptions = {}): Promise<CsvTensors> {
  const data = await readCsvTensors(uri, options)
  await ready()
  const xs = tf.tensor2d(data.features, [data.rows, data.featureColumns.length], 'float32')
  const ys = data.labels ? tf.tensor1d(data.labels, 'float32') : undefined
  return { xs, ys, featureColumns: data.featureColumns, labelColumn: data.labelColumn }
}
