// Distinct values of a column: counted during fit with a cap on how many are kept, so a
// fit's memory stays bounded, and numbered by position (LabelIndexer, OneHotEncoder, Imputer).
import { MaltError, describeValue } from '../../errors.js'
import { forEachRow, type RowSource } from './base.js'
import { cellError, readCell } from './cells.js'

/**
 * Adds one to the count of `key`; a key not yet counted once `counts` holds `max` keys
 * throws `tooMany()` instead (the map never grows past `max`).
 */
export function countBounded<K>(counts: Map<K, number>, key: K, max: number, tooMany: () => MaltError): void {
  const count = counts.get(key)
  if (count === undefined && counts.size >= max) throw tooMany()
  counts.set(key, (count ?? 0) + 1)
}

/** How {@link countColumnValues} reads and limits one column. */
export interface ValueCountOptions<K> {
  /** The value to count for a cell, or undefined when the cell is not acceptable. */
  keyOf: (value: unknown) => K | undefined
  /** What an acceptable cell is, for the error: `'a label (string or number)'`. */
  expected: string
  /** The most distinct values accepted. */
  max: number
  /** Why the fit stopped at `max`, for the error: `'more than maxLabels (10) distinct labels; …'`. */
  tooMany: string
}

/**
 * Counts the values of `column` in one pass over `data`, in order of first appearance.
 * A row without the column, an unacceptable cell or one distinct value too many throws a
 * `TRANSFORMER_BAD_INPUT` error naming the transformer, the column and the row.
 */
export async function countColumnValues<K>(type: string, data: RowSource, column: string, options: ValueCountOptions<K>): Promise<Map<K, number>> {
  const counts = new Map<K, number>()
  await forEachRow(data, (row, index) => {
    const value = readCell(type, row, column, index)
    const key = options.keyOf(value)
    if (key === undefined) throw cellError(type, column, `expected ${options.expected}, received ${describeValue(value)}`, index)
    countBounded(counts, key, options.max, () => cellError(type, column, options.tooMany, index))
  })
  return counts
}

/**
 * Numbers `values` by position (value → 0, 1, …). Each must pass `accept`, else
 * `error(expected, value)`; a repeated value gives `error(unique, value)`.
 */
export function positionIndex<K>(
  values: readonly unknown[],
  accept: (value: unknown) => value is K,
  words: { expected: string; unique: string },
  error: (detail: string, value: unknown) => MaltError,
): Map<K, number> {
  const index = new Map<K, number>()
  for (const value of values) {
    if (!accept(value)) throw error(words.expected, value)
    if (index.has(value)) throw error(words.unique, value)
    index.set(value, index.size)
  }
  return index
}

/**
 * A `TRANSFORMER_UNKNOWN_CATEGORY` error for a value not among `known`: lists the first 20
 * known values and ends with `hint` (how to accept unknown values).
 */
export function unknownValueError(type: string, column: string, noun: { one: string; many: string }, value: unknown, known: readonly unknown[], hint: string): MaltError {
  const listed = `${known.slice(0, 20).map((v) => describeValue(v)).join(', ')}${known.length > 20 ? ', ...' : ''}`
  return new MaltError(
    'TRANSFORMER_UNKNOWN_CATEGORY',
    `${type}: column "${column}": unknown ${noun.one} ${describeValue(value)}; known ${noun.many} (${known.length}): ${listed}; ${hint}`,
    { location: { field: column } },
  )
}
