// The CSV source: streams a delimited text file through csv-parse into typed rows, with
// column types inferred from the first rows, and bad rows thrown or skipped by file:line.
import { pipeline, type Readable } from 'node:stream'
import { parse, type Info } from 'csv-parse'
import { MaltError, describeValue } from '../../errors.js'
import { resolvePath } from '../../storage/index.js'
import { requireInteger } from '../../util/checks.js'
import { Dataset } from '../dataset.js'
import type { ColumnType, OnError, ReadStats, Row } from '../types.js'
import { RowErrorPolicy, checkOnError } from './row-errors.js'

/** The column types a CSV column can hold. */
export type CsvColumnType = Extract<ColumnType, 'number' | 'integer' | 'boolean' | 'string'>

/** Options of {@link csv} and {@link inferCsvSchema}. */
export interface CsvOptions {
  /** The first record holds the column names; else columns are named `col0`, `col1`, …. @defaultValue true */
  header?: boolean
  /** The field separator, one character (`'\t'` for TSV). @defaultValue ',' */
  delimiter?: string
  /** Column types that override inference, by column name, e.g. `{ zip: 'string' }`. @defaultValue none */
  columns?: Record<string, CsvColumnType>
  /**
   * How many rows are read to infer the column types. A column inferred as integer that later
   * holds 1.5 reads on as numbers; any other value that does not fit is a bad row (see onError).
   * @defaultValue 1000
   */
  inferRows?: number
  /** What to do with a malformed row or a value of the wrong type. @defaultValue 'throw' */
  onError?: OnError
  /** Filled while reading: rows read, rows skipped and why. Reset at the start of each pass. */
  stats?: ReadStats
}

/** One column of a CSV file, as inferred (or overridden). */
export interface CsvColumn {
  name: string
  type: CsvColumnType
}

/** What {@link inferCsvSchema} found. */
export interface CsvSchema {
  columns: CsvColumn[]
  /** How many data rows the inference looked at. */
  rowsSampled: number
}

const DEFAULT_INFER_ROWS = 1000
/** A record longer than this (in characters) is an error: most likely an unterminated quote. */
const MAX_RECORD_CHARS = 32 * 1024 * 1024
const COLUMN_TYPES: readonly CsvColumnType[] = ['number', 'integer', 'boolean', 'string']

const INTEGER = /^\s*[+-]?\d+\s*$/
const NUMBER = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/
const SPECIAL_NUMBER = /^\s*([+-]?)(nan|inf|infinity)\s*$/i
const BOOLEAN = /^\s*(?:true|false)\s*$/i

interface CsvRecord {
  fields: string[]
  /** The line the record starts on (1-based). */
  line: number
}

interface Checked {
  header: boolean
  delimiter: string
  columns: Record<string, CsvColumnType>
  inferRows: number
  onError: OnError
}

function checkOptions(options: CsvOptions): Checked {
  const delimiter = options.delimiter ?? ','
  if (typeof delimiter !== 'string' || delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new MaltError('CSV_BAD_OPTION', `csv: expected delimiter to be one character other than a quote or newline, received ${describeValue(delimiter)}`)
  }
  const inferRows = requireInteger('CSV_BAD_OPTION', 'csv', 'inferRows', options.inferRows ?? DEFAULT_INFER_ROWS)
  const columns = options.columns ?? {}
  for (const [name, type] of Object.entries(columns)) {
    if (!COLUMN_TYPES.includes(type)) {
      throw new MaltError('CSV_BAD_OPTION', `csv: expected the type of column "${name}" to be one of ${COLUMN_TYPES.join(', ')}, received ${describeValue(type)}`)
    }
  }
  return { header: options.header ?? true, delimiter, columns, inferRows, onError: checkOnError('csv', options.onError) }
}

/** Streams the records of a file with their start lines; parse errors go to `policy`. */
async function* readRecords(uri: string, delimiter: string, policy: RowErrorPolicy): AsyncGenerator<CsvRecord> {
  const { storage, path } = resolvePath(uri)
  const skipping: Error[] = []
  const parser = parse({
    delimiter,
    bom: true,
    info: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_RECORD_CHARS,
    skip_records_with_error: policy.skips,
  })
  parser.on('skip', (error: Error) => skipping.push(error))
  const input: Readable = storage.createReadStream(path)
  pipeline(input, parser, () => {
    // Errors reach the consumer through the parser's iterator; nothing to do here.
  })
  // The last line consumed so far (1-based), and csv-parse's counts at that point.
  let previousEnd = 0
  let previousEmpty = 0
  let previousParsed = 0
  // csv-parse counts the \r and the \n of a CRLF inside a quoted field as two lines: this is
  // how many such pairs it has read so far, taken off its count.
  let overCounted = 0
  const report = (error: unknown): void => {
    const { line, message } = describeParseError(error, previousEnd + 1, overCounted)
    policy.bad('CSV_BAD_ROW', `${uri}:${line}: ${message}`, { file: uri, line }, error)
    previousEnd = Math.max(previousEnd, line)
  }
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      for (const skipped of skipping.splice(0)) report(skipped)
      const { record, info } = item
      const emptyLines = info.empty_lines - previousEmpty
      const line = previousEnd + 1 + emptyLines
      // Only a record that spans lines can hold a line break in a field: look at its fields then.
      if (info.lines - previousParsed - emptyLines > 1) overCounted += countCrlf(record)
      previousEnd = info.lines - overCounted
      previousParsed = info.lines
      previousEmpty = info.empty_lines
      yield { fields: record, line }
    }
    for (const skipped of skipping.splice(0)) report(skipped)
  } catch (error) {
    if (error instanceof MaltError || typeof (error as { code?: unknown }).code !== 'string' || !(error as { code: string }).code.startsWith('CSV_')) throw error
    report(error) // throws, unless skipping: then the rest of the file is gone (an unterminated quote)
  } finally {
    parser.destroy()
    input.destroy()
  }
}

/** How many CRLF pairs the fields of a record hold. */
function countCrlf(fields: string[]): number {
  let count = 0
  for (const field of fields) {
    for (let at = field.indexOf('\r\n'); at >= 0; at = field.indexOf('\r\n', at + 2)) count++
  }
  return count
}

/** A csv-parse error as a line and a message that says what to fix. */
function describeParseError(error: unknown, recordStart: number, overCounted: number): { line: number; message: string } {
  const { code, lines, message } = error as { code?: string; lines?: number; message: string }
  if (code === 'CSV_QUOTE_NOT_CLOSED') {
    return { line: recordStart, message: 'unterminated quote: a quoted field of the record starting on this line is not closed before the end of the file' }
  }
  if (code === 'CSV_MAX_RECORD_SIZE') {
    return { line: recordStart, message: `the record starting on this line is longer than ${MAX_RECORD_CHARS} characters; is a quote not closed?` }
  }
  return { line: lines === undefined ? recordStart : Math.max(recordStart, lines - overCounted), message }
}

/**
 * The column names of a CSV file from its first record: the header's fields (trimmed; a blank
 * one becomes `col<i>`), or `col0`, `col1`, … when `header` is false. A name that appears twice
 * throws `CSV_BAD_HEADER` naming `uri:line`. Shared by {@link csv} and readCsvTensors.
 */
export function csvColumnNames(fields: readonly string[], header: boolean, uri: string, line = 1): string[] {
  if (!header) return fields.map((_field, i) => `col${i}`)
  const names = fields.map((field, i) => (field.trim() === '' ? `col${i}` : field.trim()))
  const seen = new Set<string>()
  for (const name of names) {
    if (seen.has(name)) {
      throw new MaltError('CSV_BAD_HEADER', `${uri}:${line}: column "${name}" appears twice in the header; rename one, or pass header: false`, {
        location: { file: uri, line, field: name },
      })
    }
    seen.add(name)
  }
  return names
}

/** The narrowest type that every non-empty value of a column fits. */
function inferType(values: Iterable<string>): CsvColumnType {
  let integer = true
  let number = true
  let boolean = true
  let seen = false
  for (const value of values) {
    if (value === '') continue
    seen = true
    if (integer && !INTEGER.test(value)) integer = false
    if (number && !integer && !NUMBER.test(value) && !SPECIAL_NUMBER.test(value)) number = false
    if (boolean && !BOOLEAN.test(value)) boolean = false
    if (!number && !boolean) return 'string'
  }
  if (!seen) return 'string'
  if (integer) return 'integer'
  return number ? 'number' : 'boolean'
}

function inferColumns(names: string[], sample: CsvRecord[], overrides: Record<string, CsvColumnType>, uri: string): CsvColumn[] {
  for (const name of Object.keys(overrides)) {
    if (!names.includes(name)) {
      throw new MaltError('CSV_BAD_OPTION', `csv: columns names "${name}", which ${uri} does not have; its columns are ${names.join(', ')}`)
    }
  }
  return names.map((name, i) => ({
    name,
    type: (Object.hasOwn(overrides, name) ? overrides[name] : undefined) ?? inferType((function* () {
      for (const record of sample) yield record.fields[i]
    })()),
  }))
}

const BAD = Symbol('bad value')

/**
 * `Number(text)` when `text` is a plain decimal number, else undefined. Faster than a regular
 * expression; the first-character check keeps out what Number() also accepts (0x1f, 0b1).
 */
function plainNumber(text: string): number | undefined {
  const first = text.charCodeAt(0)
  const second = text.length > 1 ? text.charCodeAt(1) | 0x20 : 0
  const signOrDigit = (first >= 0x30 && first <= 0x39) || first === 0x2d || first === 0x2b || first === 0x2e
  if (!signOrDigit || second === 0x78 || second === 0x62 || second === 0x6f) return undefined
  const value = Number(text)
  return Number.isFinite(value) ? value : undefined
}

/** Converts one non-empty field to its column's type, or BAD. */
function convert(text: string, type: CsvColumnType): unknown {
  switch (type) {
    case 'string':
      return text
    // An integer column takes any number: inference saw only the first rows, and a later 1.5
    // is a JS number all the same (the column widens to number without a word).
    case 'integer':
    case 'number': {
      const value = plainNumber(text)
      if (value !== undefined) return value
      if (NUMBER.test(text)) return Number(text)
      const special = SPECIAL_NUMBER.exec(text)
      if (!special) return BAD
      if (special[2].toLowerCase() === 'nan') return NaN
      return special[1] === '-' ? -Infinity : Infinity
    }
    case 'boolean':
      return BOOLEAN.test(text) ? text.trim().toLowerCase() === 'true' : BAD
  }
}

/** Reads the header and the inference sample; shared by {@link csv} and {@link inferCsvSchema}. */
async function start(uri: string, options: Checked, policy: RowErrorPolicy, records: AsyncGenerator<CsvRecord>) {
  let names: string[] | undefined
  const sample: CsvRecord[] = []
  while (sample.length < options.inferRows) {
    const next = await records.next()
    if (next.done) break
    const record = next.value
    if (!names) {
      names = csvColumnNames(record.fields, options.header, uri, record.line)
      if (options.header) continue
    }
    if (fieldCountOk(record, names.length, uri, policy)) sample.push(record)
  }
  names ??= []
  return { names, sample, columns: inferColumns(names, sample, options.columns, uri) }
}

function fieldCountOk(record: CsvRecord, expected: number, uri: string, policy: RowErrorPolicy): boolean {
  if (record.fields.length === expected) return true
  policy.bad('CSV_BAD_ROW', `${uri}:${record.line}: expected ${expected} fields, found ${record.fields.length}`, { file: uri, line: record.line })
  return false
}

/**
 * Reads a CSV file as a Dataset of rows, streaming (memory stays bounded for any file size).
 * Column types are inferred from the first `inferRows` rows; empty fields become `null`.
 *
 * @example
 * const stats = newReadStats()
 * const rows = csv('data/train.csv', { onError: 'skip', stats })
 * for await (const row of rows) console.log(row.age, row.city)
 */
export function csv(uri: string, options: CsvOptions = {}): Dataset<Row> {
  const checked = checkOptions(options)
  return Dataset.fromGenerator(async function* () {
    const policy = new RowErrorPolicy(checked.onError, options.stats)
    const records = readRecords(uri, checked.delimiter, policy)
    try {
      const { names, sample, columns } = await start(uri, checked, policy, records)
      const types = columns.map((column) => column.type)
      const expectations = columns.map((column) => expectation(column, Object.hasOwn(checked.columns, column.name), sample.length))
      const hints = columns.map((column) => badValueHint(column, Object.hasOwn(checked.columns, column.name)))
      const toRow = (record: CsvRecord): Row | undefined => {
        const row: Row = {}
        for (let i = 0; i < names.length; i++) {
          const text = record.fields[i]
          if (text === '') {
            row[names[i]] = null
            continue
          }
          const value = convert(text, types[i])
          if (value === BAD) {
            const message = `${uri}:${record.line}: column "${names[i]}": expected ${expectations[i]}, received ${describeValue(text)}; ${hints[i]}`
            policy.bad('CSV_BAD_VALUE', message, { file: uri, line: record.line, field: names[i] })
            return undefined
          }
          row[names[i]] = value
        }
        policy.read()
        return row
      }
      for (const record of sample) {
        const row = toRow(record)
        if (row) yield row
      }
      sample.length = 0
      for await (const record of records) {
        if (!fieldCountOk(record, names.length, uri, policy)) continue
        const row = toRow(record)
        if (row) yield row
      }
    } finally {
      await records.return(undefined)
    }
  })
}

/** "a number (the type inferred from the first 5 rows)": what a bad value was checked against. */
function expectation(column: CsvColumn, declared: boolean, sampled: number): string {
  // An integer column takes any number (see convert), so a bad value missed being a number.
  const type = column.type === 'integer' ? 'number' : column.type
  const why = declared ? 'as declared in columns' : `the type inferred from the first ${sampled} row${sampled === 1 ? '' : 's'}`
  return `a ${type} (${why})`
}

/** What to do about a bad value: the library option and the `malt data` flag for each way out. */
function badValueHint(column: CsvColumn, declared: boolean): string {
  const skip = "skip such rows with onError: 'skip' (CLI: --on-error skip)"
  if (declared) return `fix the value, declare another type in columns, or ${skip}`
  return `declare the column's type with columns: { '${column.name.replace(/[\\']/g, '\\$&')}': 'string' }, infer types from more rows with inferRows (CLI: --infer-rows N), or ${skip}`
}

/**
 * Reads the header and the first `inferRows` rows of a CSV file and returns the column
 * names and types that {@link csv} would use (for `malt data profile` and schema checks).
 */
export async function inferCsvSchema(uri: string, options: CsvOptions = {}): Promise<CsvSchema> {
  const checked = checkOptions(options)
  const policy = new RowErrorPolicy(checked.onError, options.stats)
  const records = readRecords(uri, checked.delimiter, policy)
  try {
    const { columns, sample } = await start(uri, checked, policy, records)
    return { columns, rowsSampled: sample.length }
  } finally {
    await records.return(undefined)
  }
}
