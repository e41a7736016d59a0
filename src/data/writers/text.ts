// Streaming writers for CSV and JSON Lines: rows go out as they come (bounded memory), into a
// temp file renamed into place at the end, so a failed conversion leaves no half-written file.
import { MaltError } from '../../errors.js'
import { resolvePath } from '../../storage/index.js'
import { toCsvText, toJsonValue } from './cells.js'
import type { Row } from '../types.js'

/** Options of {@link writeCsv}. */
export interface CsvWriteOptions {
  /** @defaultValue ',' */
  delimiter?: string
  /**
   * Column order. A row with a column not listed is an error; a listed column a row lacks is
   * written empty. @defaultValue the keys of the first row, in order
   */
  columns?: string[]
}

const FLUSH_BYTES = 1 << 20

function quoteCsv(text: string, delimiter: string): string {
  // RFC 4180: quote a field holding the delimiter, a quote or a line break; double inner quotes.
  if (text.includes(delimiter) || text.includes('"') || text.includes('\n') || text.includes('\r')) {
    return `"${text.replaceAll('"', '""')}"`
  }
  return text
}

async function writeLines(uri: string, lines: AsyncIterable<string>): Promise<void> {
  const { storage, path } = resolvePath(uri)
  const writer = await storage.createWriter(path)
  try {
    let pending = ''
    for await (const line of lines) {
      pending += line
      if (pending.length >= FLUSH_BYTES) {
        await writer.write(pending)
        pending = ''
      }
    }
    if (pending) await writer.write(pending)
    await writer.commit()
  } catch (error) {
    await writer.abort()
    throw error
  }
}

/** Writes rows as CSV with a header line; returns the number of rows written. */
export async function writeCsv(uri: string, rows: AsyncIterable<Row> | Iterable<Row>, options: CsvWriteOptions = {}): Promise<number> {
  const delimiter = options.delimiter ?? ','
  let count = 0
  await writeLines(uri, (async function* () {
    const header = (names: string[]): string => `${names.map((name) => quoteCsv(name, delimiter)).join(delimiter)}\n`
    let columns = options.columns
    let known = new Set(columns)
    if (columns) yield header(columns)
    for await (const row of rows) {
      if (!columns) {
        columns = Object.keys(row)
        known = new Set(columns)
        yield header(columns)
      }
      for (const key in row) {
        if (!known.has(key)) {
          throw new MaltError(
            'DATA_UNKNOWN_COLUMN',
            `data row ${count + 1} has column "${key}", which is not among the CSV columns (${columns.join(', ')}); pass every column in \`columns\``,
            { location: { field: key } },
          )
        }
      }
      yield `${columns.map((column) => quoteCsv(toCsvText(row[column], column), delimiter)).join(delimiter)}\n`
      count++
    }
  })())
  return count
}

/** Writes rows as JSON Lines (one JSON object a line); returns the number of rows written. */
export async function writeJsonl(uri: string, rows: AsyncIterable<Row> | Iterable<Row>): Promise<number> {
  let count = 0
  await writeLines(uri, (async function* () {
    for await (const row of rows) {
      const out: Record<string, unknown> = {}
      for (const [key, value] of Object.entries(row)) out[key] = toJsonValue(value, key)
      yield `${JSON.stringify(out)}\n`
      count++
    }
  })())
  return count
}
