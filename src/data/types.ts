// Shared shapes of the data layer: a row is a plain object of named columns.

/** One cell: a scalar, a missing value, or a vector (images, one-hot labels, TFRecord lists). */
export type Cell = number | string | boolean | bigint | null | undefined | number[] | string[] | bigint[] | Float32Array | Int32Array | Uint8Array | Uint8Array[]

/** One record of a data set: column name → value. */
export type Row = Record<string, unknown>

/** The type a column holds, as inferred from data or declared in a schema. */
export type ColumnType = 'number' | 'integer' | 'boolean' | 'string' | 'vector' | 'bytes'

/** What a source does with a malformed record. */
export type OnError = 'throw' | 'skip'

/** Counters a source fills while it reads (rows read, rows skipped with the reasons). */
export interface ReadStats {
  rowsRead: number
  rowsSkipped: number
  /** The first few skip reasons, each naming file and line or offset. */
  skipped: string[]
}

/** A fresh, zeroed {@link ReadStats}. */
export function newReadStats(): ReadStats {
  return { rowsRead: 0, rowsSkipped: 0, skipped: [] }
}
