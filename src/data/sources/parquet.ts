// Parquet source: reads a Parquet file through Malt's storage with hyparquet, one row group at
// a time, so memory holds the footer and a single row group, never the whole file.
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import {
  parquetMetadata,
  parquetReadObjects,
  parquetSchema,
  type AsyncBuffer,
  type CompressionCodec,
  type Compressors,
  type FileMetaData,
  type RowGroup,
} from 'hyparquet'
import { MaltError, describeValue } from '../../errors.js'
import { resolvePath, type ResolvedPath } from '../../storage/index.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'

/** Options of {@link parquet}. */
export interface ParquetOptions {
  /**
   * Top-level columns to read, in this order; the others are never fetched.
   * @defaultValue every column, in file order
   */
  columns?: string[]
  /**
   * How INT64 values come out: as `number` (exact up to 2^53, rounded above) or as `bigint`.
   * @defaultValue 'number'
   */
  int64?: 'number' | 'bigint'
}

/** What the footer of a Parquet file says, without reading any data. */
export interface ParquetInfo {
  rows: number
  rowGroups: number
  /** Rows in each row group, in file order. */
  rowGroupRows: number[]
  /** Top-level columns, in file order, with their physical / logical type. */
  columns: { name: string; type: string }[]
  createdBy?: string
}

const MAGIC = 'PAR1'
/** Footer: 4-byte little-endian metadata length, then the magic. */
const FOOTER_TAIL = 8

/** Codecs hyparquet lacks that Node's zlib decodes; snappy and uncompressed are built in. */
const compressors: Compressors = {
  GZIP: (input) => gunzipSync(input),
  BROTLI: (input) => brotliDecompressSync(input),
}
const SUPPORTED_CODECS: CompressionCodec[] = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'BROTLI']

interface OpenedFile {
  file: AsyncBuffer
  metadata: FileMetaData
}

/** An AsyncBuffer over a stored object: hyparquet asks for byte ranges, storage serves them. */
function storageBuffer(resolved: ResolvedPath, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const bytes = await resolved.storage.readFile(resolved.path, { start, end: end ?? size })
      return toArrayBuffer(bytes)
    },
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer
  }
  return bytes.slice().buffer as ArrayBuffer
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes)
}

/** Checks both magics and parses the footer; a non-Parquet file fails here, naming the file. */
async function openParquet(resolved: ResolvedPath): Promise<OpenedFile> {
  const { size } = await resolved.storage.stat(resolved.path)
  const notParquet = (received: string, offset: number): MaltError =>
    new MaltError(
      'PARQUET_BAD_MAGIC',
      `${resolved.uri} is not a Parquet file: expected the bytes "${MAGIC}" at its start and end, received ${received}`,
      { location: { file: resolved.uri, offset } },
    )
  if (size < MAGIC.length * 2 + 4) throw notParquet(`a file of ${size} bytes`, 0)
  const head = await resolved.storage.readFile(resolved.path, { start: 0, end: MAGIC.length })
  if (ascii(head) !== MAGIC) throw notParquet(describeValue(ascii(head)), 0)
  const tail = await resolved.storage.readFile(resolved.path, { start: size - FOOTER_TAIL, end: size })
  if (ascii(tail.subarray(4)) !== MAGIC) throw notParquet(describeValue(ascii(tail.subarray(4))), size - 4)
  const metadataLength = new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true)
  const footerStart = size - FOOTER_TAIL - metadataLength
  if (footerStart < MAGIC.length) {
    throw new MaltError(
      'PARQUET_CORRUPT',
      `${resolved.uri}: the footer says its metadata is ${metadataLength} bytes long, more than the file's ${size} bytes allow`,
      { location: { file: resolved.uri, offset: size - FOOTER_TAIL } },
    )
  }
  const footer = await resolved.storage.readFile(resolved.path, { start: footerStart, end: size })
  let metadata: FileMetaData
  try {
    metadata = parquetMetadata(footer)
  } catch (error) {
    throw new MaltError('PARQUET_CORRUPT', `${resolved.uri}: cannot parse the Parquet footer: ${(error as Error).message}`, {
      cause: error,
      location: { file: resolved.uri, offset: footerStart },
    })
  }
  return { file: storageBuffer(resolved, size), metadata }
}

function topLevelColumns(metadata: FileMetaData): { name: string; type: string }[] {
  return parquetSchema(metadata).children.map(({ element }) => ({
    name: element.name,
    type: element.logical_type?.type ?? element.converted_type ?? element.type ?? 'GROUP',
  }))
}

function checkOptions(options: ParquetOptions): void {
  const { columns, int64 } = options
  if (columns !== undefined && (!Array.isArray(columns) || columns.some((c) => typeof c !== 'string'))) {
    throw new MaltError('DATA_BAD_OPTION', `parquet: expected columns to be an array of column names, received ${describeValue(columns)}`)
  }
  if (int64 !== undefined && int64 !== 'number' && int64 !== 'bigint') {
    throw new MaltError('DATA_BAD_OPTION', `parquet: expected int64 to be "number" or "bigint", received ${describeValue(int64)}`)
  }
}

function checkColumns(uri: string, wanted: string[] | undefined, available: string[]): void {
  for (const name of wanted ?? []) {
    if (!available.includes(name)) {
      throw new MaltError(
        'PARQUET_UNKNOWN_COLUMN',
        `${uri} has no column ${describeValue(name)}; its columns are: ${available.join(', ')}`,
        { location: { file: uri, field: name } },
      )
    }
  }
}

/** Byte offset where a row group's first column chunk starts, for error messages. */
function groupOffset(group: RowGroup): number {
  const first = group.columns[0]?.meta_data
  return Number(group.file_offset ?? first?.dictionary_page_offset ?? first?.data_page_offset ?? 0)
}

/** Fails before decoding when a wanted column of the row group uses a codec we cannot read. */
function checkCodecs(uri: string, group: RowGroup, groupIndex: number, columns: string[] | undefined): void {
  for (const chunk of group.columns) {
    const meta = chunk.meta_data
    if (!meta || SUPPORTED_CODECS.includes(meta.codec)) continue
    const column = meta.path_in_schema.join('.')
    if (columns !== undefined && !columns.includes(meta.path_in_schema[0])) continue
    throw new MaltError(
      'PARQUET_UNSUPPORTED_CODEC',
      `${uri}: column ${describeValue(column)} of row group ${groupIndex} is compressed with ${meta.codec}; ` +
        `Malt reads ${SUPPORTED_CODECS.join(', ')}; rewrite the file with one of these (e.g. pyarrow compression="snappy")`,
      { location: { file: uri, field: column, offset: Number(meta.dictionary_page_offset ?? meta.data_page_offset) } },
    )
  }
}

/** A row with the requested columns in the requested order, INT64 values converted if asked. */
function shapeRow(row: Row, columns: string[] | undefined, asBigint: boolean): Row {
  if (columns === undefined && asBigint) return row
  const out: Row = {}
  for (const key of columns ?? Object.keys(row)) {
    const value = row[key]
    if (asBigint) out[key] = value
    else if (typeof value === 'bigint') out[key] = Number(value)
    else if (Array.isArray(value) && typeof value[0] === 'bigint') out[key] = value.map(Number)
    else out[key] = value
  }
  return out
}

/** Reads the footer of a Parquet file: row count, row groups and top-level columns. */
export async function parquetInfo(uri: string): Promise<ParquetInfo> {
  const { metadata } = await openParquet(resolvePath(uri))
  return {
    rows: Number(metadata.num_rows),
    rowGroups: metadata.row_groups.length,
    rowGroupRows: metadata.row_groups.map((group) => Number(group.num_rows)),
    columns: topLevelColumns(metadata),
    createdBy: metadata.created_by,
  }
}

/**
 * Rows of a Parquet file as plain objects (column name → value; nulls stay `null`).
 * Reads through Malt's storage by byte ranges, one row group at a time. Uncompressed, snappy,
 * gzip and brotli columns are read; others (zstd, lz4, lzo) fail with PARQUET_UNSUPPORTED_CODEC.
 *
 * @example
 * for await (const row of data.parquet('s3://bucket/train.parquet', { columns: ['x', 'label'] })) ...
 */
export function parquet(uri: string, options: ParquetOptions = {}): Dataset<Row> {
  checkOptions(options)
  const resolved = resolvePath(uri)
  const columns = options.columns === undefined ? undefined : [...options.columns]
  const asBigint = options.int64 === 'bigint'
  return Dataset.fromGenerator(async function* () {
    const { file, metadata } = await openParquet(resolved)
    checkColumns(uri, columns, topLevelColumns(metadata).map((c) => c.name))
    let rowStart = 0
    for (const [groupIndex, group] of metadata.row_groups.entries()) {
      const rowEnd = rowStart + Number(group.num_rows)
      checkCodecs(uri, group, groupIndex, columns)
      let rows: Row[]
      try {
        rows = await parquetReadObjects({ file, metadata, columns, rowStart, rowEnd, compressors })
      } catch (error) {
        if (error instanceof MaltError) throw error
        throw new MaltError(
          'PARQUET_CORRUPT',
          `${uri}: cannot read row group ${groupIndex} (rows ${rowStart}–${rowEnd - 1}): ${(error as Error).message}`,
          { cause: error, location: { file: uri, offset: groupOffset(group) } },
        )
      }
      for (const row of rows) yield shapeRow(row, columns, asBigint)
      rowStart = rowEnd
    }
  })
}
