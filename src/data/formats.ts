// Opens and writes data files by their extension: one table from suffix to reader/writer,
// used by `malt data convert`, `malt data profile` and `data.open()`.
import { MaltError } from '../errors.js'
import type { Dataset } from './dataset.js'
import type { OnError, ReadStats, Row } from './types.js'
import { csv, inferCsvSchema } from './sources/csv.js'
import { jsonl } from './sources/jsonl.js'
import { parquet } from './sources/parquet.js'
import { featureKindOf, tfrecord, writeTfRecord, type TfRecordFeatureType } from './sources/tfrecord.js'
import { writeCsv, writeJsonl } from './writers/text.js'

/** A file format Malt reads (and, for some, writes). */
export type DataFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'tfrecord'

const suffixes: [string, DataFormat][] = [
  ['.csv', 'csv'],
  ['.tsv', 'tsv'],
  ['.jsonl', 'jsonl'],
  ['.ndjson', 'jsonl'],
  ['.parquet', 'parquet'],
  ['.tfrecord', 'tfrecord'],
  ['.tfrecords', 'tfrecord'],
  ['.tfrecord.gz', 'tfrecord'],
  ['.tfrecords.gz', 'tfrecord'],
]

const writable: DataFormat[] = ['csv', 'tsv', 'jsonl', 'tfrecord']

/** The format of a path from its extension, or a MaltError listing the known ones. */
export function formatOf(uri: string): DataFormat {
  const lower = uri.toLowerCase()
  // Longest suffix first, so `.tfrecord.gz` wins over a plain `.gz`.
  const match = [...suffixes].sort((a, b) => b[0].length - a[0].length).find(([suffix]) => lower.endsWith(suffix))
  if (!match) {
    throw new MaltError(
      'DATA_UNKNOWN_FORMAT',
      `Cannot tell the format of ${uri} from its extension; supported: ${suffixes.map(([suffix]) => suffix).join(', ')}`,
      { location: { file: uri } },
    )
  }
  return match[1]
}

/** Options of {@link openDataset}. */
export interface OpenOptions {
  /** @defaultValue 'throw' */
  onError?: OnError
  stats?: ReadStats
  /** CSV/TSV: rows read to infer column types. @defaultValue 1000 */
  inferRows?: number
}

/** A Dataset of rows over a file of any supported format. */
export function openDataset(uri: string, options: OpenOptions = {}): Dataset<Row> {
  const format = formatOf(uri)
  switch (format) {
    case 'csv':
      return csv(uri, { onError: options.onError, stats: options.stats, inferRows: options.inferRows })
    case 'tsv':
      return csv(uri, { delimiter: '\t', onError: options.onError, stats: options.stats, inferRows: options.inferRows })
    case 'jsonl':
      return jsonl(uri, { onError: options.onError, stats: options.stats })
    case 'parquet':
      return parquet(uri)
    case 'tfrecord':
      return tfrecord(uri, { compression: uri.toLowerCase().endsWith('.gz') ? 'gzip' : undefined, onError: options.onError, stats: options.stats })
  }
}

/** What {@link convertFile} did. */
export interface ConvertResult {
  from: DataFormat
  to: DataFormat
  rows: number
}

/** Options of {@link convertFile}. */
export interface ConvertOptions extends OpenOptions {
  /** Called with the number of rows written so far (for progress displays). */
  onRows?: (rows: number) => void
}

/** Columns in order of first appearance, and the TFRecord list kind each column's values need. */
export interface ColumnScan {
  columns: string[]
  kinds: Record<string, TfRecordFeatureType>
  /** Columns holding both text and numbers (fine for CSV or JSON Lines, not for one TFRecord feature). */
  mixed: Record<string, [TfRecordFeatureType, TfRecordFeatureType]>
}

/**
 * One streaming pass that finds every column (rows of JSON Lines or TFRecord need not all have
 * the same keys) and the list kind of each, as writeTfRecord infers it per value, widened to
 * float when a column holds both int64 and float values.
 */
export async function scanColumns(rows: AsyncIterable<Row>): Promise<ColumnScan> {
  // undefined: the column was seen, but only empty so far.
  const kinds = new Map<string, TfRecordFeatureType | undefined>()
  const mixed: ColumnScan['mixed'] = {}
  for await (const row of rows) {
    for (const [name, value] of Object.entries(row)) {
      if (value === null || value === undefined || (Array.isArray(value) && value.length === 0)) {
        if (!kinds.has(name)) kinds.set(name, undefined)
        continue
      }
      const kind = featureKindOf(value)
      const known = kinds.get(name)
      if (known === undefined || known === kind || (known === 'int64' && kind === 'float')) kinds.set(name, kind)
      else if (!(known === 'float' && kind === 'int64')) mixed[name] ??= [known, kind]
    }
  }
  const known: Record<string, TfRecordFeatureType> = {}
  for (const [name, kind] of kinds) if (kind !== undefined) known[name] = kind
  return { columns: [...kinds.keys()], kinds: known, mixed }
}

/** The kinds of a scan for a TFRecord file: a column of both text and numbers is an error naming it. */
export function tfRecordKinds(scan: ColumnScan): Record<string, TfRecordFeatureType> {
  for (const [name, [first, second]] of Object.entries(scan.mixed)) {
    throw new MaltError('DATA_MIXED_TYPES', `column "${name}" holds both ${first === 'bytes' ? 'text' : 'numbers'} and ${second === 'bytes' ? 'text' : 'numbers'}; one TFRecord feature needs one kind`, {
      location: { field: name },
    })
  }
  return scan.kinds
}

function counted(rows: Dataset<Row>, onRows: ((rows: number) => void) | undefined): Dataset<Row> {
  if (!onRows) return rows
  return rows.map((row, index) => {
    onRows(index + 1)
    return row
  })
}

/**
 * Streams every row of `input` into `output`, formats from the extensions; memory stays
 * bounded. The output file appears only once complete. Reads the input twice when it must
 * learn the columns first: for CSV output from JSON Lines, Parquet or TFRecord (rows may
 * differ in their keys), and for TFRecord output (each feature needs one list kind for the
 * whole file: int64 when every value is, float when any value is, bytes for text).
 */
export async function convertFile(input: string, output: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const from = formatOf(input)
  const to = formatOf(output)
  if (!writable.includes(to)) {
    throw new MaltError('DATA_UNWRITABLE_FORMAT', `Cannot write ${to} (${output}); Malt writes ${writable.join(', ')}`, { location: { file: output } })
  }
  const open = { onError: options.onError, stats: options.stats, inferRows: options.inferRows }
  const rows = counted(openDataset(input, open), options.onRows)
  const textInput = from === 'csv' || from === 'tsv'
  let count: number
  switch (to) {
    case 'csv':
    case 'tsv': {
      const columns = textInput
        ? (await inferCsvSchema(input, { delimiter: from === 'tsv' ? '\t' : ',', onError: options.onError, inferRows: options.inferRows })).columns.map((column) => column.name)
        : (await scanColumns(openDataset(input, open))).columns
      count = await writeCsv(output, rows, { delimiter: to === 'tsv' ? '\t' : ',', columns })
      break
    }
    case 'jsonl':
      count = await writeJsonl(output, rows)
      break
    default: {
      const kinds = tfRecordKinds(await scanColumns(openDataset(input, open)))
      count = await writeTfRecord(output, rows, { types: kinds, compression: output.toLowerCase().endsWith('.gz') ? 'gzip' : undefined })
    }
  }
  return { from, to, rows: count }
}
