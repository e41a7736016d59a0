// Opens and writes data files by their extension: one table from suffix to reader/writer,
// used by `malt data convert`, `malt data profile` and `data.open()`.
import { MaltError } from '../errors.js'
import type { Dataset } from './dataset.js'
import type { OnError, ReadStats, Row } from './types.js'
import { csv, inferCsvSchema } from './sources/csv.js'
import { jsonl } from './sources/jsonl.js'
import { parquet } from './sources/parquet.js'
import { tfrecord, writeTfRecord, type TfRecordFeatureType } from './sources/tfrecord.js'
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
}

/** A Dataset of rows over a file of any supported format. */
export function openDataset(uri: string, options: OpenOptions = {}): Dataset<Row> {
  const format = formatOf(uri)
  switch (format) {
    case 'csv':
      return csv(uri, { onError: options.onError, stats: options.stats })
    case 'tsv':
      return csv(uri, { delimiter: '\t', onError: options.onError, stats: options.stats })
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

/**
 * Streams every row of `input` into `output`, formats from the extensions. The output file
 * appears only once complete. CSV → TFRecord keeps the CSV's inferred column types (a float
 * column stays float even where a value looks integral).
 */
export async function convertFile(input: string, output: string, options: OpenOptions = {}): Promise<ConvertResult> {
  const from = formatOf(input)
  const to = formatOf(output)
  if (!writable.includes(to)) {
    throw new MaltError('DATA_UNWRITABLE_FORMAT', `Cannot write ${to} (${output}); Malt writes ${writable.join(', ')}`, { location: { file: output } })
  }
  const rows = openDataset(input, options)
  let count: number
  switch (to) {
    case 'csv':
      count = await writeCsv(output, rows)
      break
    case 'tsv':
      count = await writeCsv(output, rows, { delimiter: '\t' })
      break
    case 'jsonl':
      count = await writeJsonl(output, rows)
      break
    default: {
      const types: Record<string, TfRecordFeatureType> = {}
      if (from === 'csv' || from === 'tsv') {
        const schema = await inferCsvSchema(input, { delimiter: from === 'tsv' ? '\t' : ',' })
        for (const column of schema.columns) {
          types[column.name] = column.type === 'number' ? 'float' : column.type === 'string' ? 'bytes' : 'int64'
        }
      }
      count = await writeTfRecord(output, rows, { types, compression: output.toLowerCase().endsWith('.gz') ? 'gzip' : undefined })
    }
  }
  return { from, to, rows: count }
}
