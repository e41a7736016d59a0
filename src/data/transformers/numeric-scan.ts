// One streaming pass over a numeric column (scalars or fixed-length vectors), element by
// element: what the scalers' fit shares. Memory is O(vector length), not O(rows).
import type { Row } from '../types.js'
import type { RowSource } from './base.js'
import { forEachRow } from './base.js'
import { cellError, readNumeric } from './cells.js'

/** What a scan found: scalar or vector cells, the vector length (1 for scalars), the rows. */
export interface NumericScan {
  vector: boolean
  size: number
  rows: number
}

/**
 * Reads `column` of every row; `start(size)` is called once with the element count of the
 * first row, then `add(values)` for each row. Every row must have the same kind (scalar or
 * vector) and length, and only finite values. Returns null for empty data.
 */
export async function scanNumeric(
  type: string,
  data: RowSource,
  column: string,
  start: (size: number) => void,
  add: (values: ArrayLike<number>) => void,
): Promise<NumericScan | null> {
  let scan: NumericScan | null = null
  const one = [0]
  await forEachRow(data, (row: Row, index: number) => {
    const value = readNumeric(type, row, column, index)
    const vector = typeof value !== 'number'
    const values: ArrayLike<number> = vector ? value : ((one[0] = value), one)
    if (scan === null) {
      scan = { vector, size: values.length, rows: 0 }
      if (scan.size === 0) throw cellError(type, column, 'expected a non-empty vector, received an empty one', index)
      start(scan.size)
    } else {
      checkShape(type, column, scan, value, index)
    }
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        throw cellError(type, column, `expected finite numbers, received ${values[i]}${vector ? ` at element ${i}` : ''} (fill missing values with an Imputer first)`, index)
      }
    }
    add(values)
    scan.rows++
  })
  return scan
}

/** Throws unless `value` has the kind and length the transformer was fitted on. */
export function checkShape(type: string, column: string, shape: { vector: boolean; size: number }, value: number | ArrayLike<number>, index?: number): void {
  const vector = typeof value !== 'number'
  if (vector !== shape.vector) {
    const expected = shape.vector ? `a vector of ${shape.size} numbers` : 'a number'
    const received = vector ? `a vector of ${value.length} numbers` : `the number ${value}`
    throw cellError(type, column, `expected ${expected} (as in the fit data), received ${received}`, index)
  }
  if (vector && value.length !== shape.size) {
    throw cellError(type, column, `expected a vector of ${shape.size} numbers (as in the fit data), received ${value.length}`, index)
  }
}
