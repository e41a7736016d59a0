// Reading cells out of rows and fitted state out of JSON, with errors that name the
// transformer, the column and (during fit) the row index.
import { MaltError, describeValue } from '../../errors.js'
import type { Row } from '../types.js'
import type { JsonValue, TransformerJSON } from './base.js'

/** A numeric cell: a scalar or a vector (number array or typed array). */
export type Numeric = number | ArrayLike<number>

/** True for the values an imputer fills: null, undefined, NaN and the empty string. */
export function isMissing(value: unknown): boolean {
  return value === null || value === undefined || value === '' || (typeof value === 'number' && Number.isNaN(value))
}

/** `row 12 of the fit data` during fit, nothing during transform. */
function at(index: number | undefined): string {
  return index === undefined ? '' : ` (row ${index} of the fit data)`
}

/** A `TRANSFORMER_BAD_INPUT` error about one column of one row. */
export function cellError(type: string, column: string, detail: string, index?: number): MaltError {
  return new MaltError('TRANSFORMER_BAD_INPUT', `${type}: column "${column}"${at(index)}: ${detail}`, { location: { field: column } })
}

/** The value of `column`; throws when the row is not an object or lacks the column. */
export function readCell(type: string, row: Row, column: string, index?: number): unknown {
  if (row === null || typeof row !== 'object') {
    throw new MaltError('TRANSFORMER_BAD_INPUT', `${type}: expected a row object${at(index)}, received ${describeValue(row)}`)
  }
  if (!(column in row)) {
    const columns = Object.keys(row)
    throw cellError(type, column, `missing from the row, which has columns ${columns.length > 0 ? columns.join(', ') : '(none)'}`, index)
  }
  return row[column]
}

/** True for number arrays and numeric typed arrays (not bigint arrays). */
export function isNumericVector(value: unknown): value is ArrayLike<number> {
  if (Array.isArray(value)) return value.every((v) => typeof v === 'number')
  return ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array)
}

/** A number, or a boolean as 0/1; throws for anything else (null included). */
export function readNumber(type: string, row: Row, column: string, index?: number): number {
  const value = readCell(type, row, column, index)
  if (typeof value === 'number') return value
  if (typeof value === 'boolean') return value ? 1 : 0
  throw cellError(type, column, `expected a number, received ${describeValue(value)}${isMissing(value) ? ' (fill missing values with an Imputer first)' : ''}`, index)
}

/** A number or a numeric vector; throws for anything else. */
export function readNumeric(type: string, row: Row, column: string, index?: number): Numeric {
  const value = readCell(type, row, column, index)
  if (typeof value === 'number') return value
  if (typeof value === 'boolean') return value ? 1 : 0
  if (isNumericVector(value)) return value
  throw cellError(
    type,
    column,
    `expected a number or a numeric vector, received ${describeValue(value)}${isMissing(value) ? ' (fill missing values with an Imputer first)' : ''}`,
    index,
  )
}

/** A numeric vector; throws for scalars and anything else. */
export function readVector(type: string, row: Row, column: string, index?: number): ArrayLike<number> {
  const value = readCell(type, row, column, index)
  if (isNumericVector(value)) return value
  throw cellError(type, column, `expected a numeric vector (number[] or typed array), received ${describeValue(value)}`, index)
}

/**
 * Applies `fn` to a number (index 0) or to every element of a vector (its index): a number
 * stays a number, a vector becomes a `Float32Array`.
 */
export function mapNumeric(value: Numeric, fn: (x: number, i: number) => number): number | Float32Array {
  if (typeof value === 'number') return fn(value, 0)
  const out = new Float32Array(value.length)
  for (let i = 0; i < value.length; i++) out[i] = fn(value[i], i)
  return out
}

/** A copy of `row` with `column` set (rows are never mutated). */
export function withColumn(row: Row, column: string, value: unknown): Row {
  return { ...row, [column]: value }
}

/** A `TRANSFORMER_BAD_JSON` error: "Type JSON: expected field to be X, received Y". */
export function badState(type: string, field: string, expected: string, received: unknown): MaltError {
  return new MaltError('TRANSFORMER_BAD_JSON', `${type} JSON: expected "${field}" to be ${expected}, received ${describeValue(received)}`, {
    location: { field },
  })
}

/** Checks that `json.type` is `type` (a JSON saved by another transformer is refused). */
export function checkType(json: TransformerJSON, type: string): void {
  if (json === null || typeof json !== 'object' || json.type !== type) {
    throw badState(type, 'type', JSON.stringify(type), json === null || typeof json !== 'object' ? json : json.type)
  }
}

/** Fitted state as saved: an object, or null for an unfitted transformer. */
export type JsonState = { [key: string]: JsonValue }

/** The `state` field of a saved transformer: an object, or null when it was saved unfitted. */
export function readState(type: string, json: TransformerJSON): JsonState | null {
  const state = json.state
  if (state === null || state === undefined) return null
  if (typeof state !== 'object' || Array.isArray(state)) throw badState(type, 'state', 'an object or null', state)
  return state
}

/** An array of finite numbers from fitted state, or null when the field is null or absent. */
export function stateNumbers(type: string, state: JsonState, field: string): number[] | null {
  const value: JsonValue | undefined = state[field]
  if (value === null || value === undefined) return null
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw badState(type, field, 'an array of finite numbers or null', value)
  }
  return value as number[]
}

/** An array of strings from fitted state, or null when the field is null or absent. */
export function stateStrings(type: string, state: JsonState, field: string): string[] | null {
  const value: JsonValue | undefined = state[field]
  if (value === null || value === undefined) return null
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw badState(type, field, 'an array of strings or null', value)
  }
  return value as string[]
}

/** The options saved in JSON (all but `type` and `state`), for a constructor to validate. */
export function optionsFrom<T>(json: TransformerJSON): T {
  const { type: _type, state: _state, ...rest } = json
  return rest as unknown as T
}

/** Drops the fields whose value is undefined, so optional options can be saved as JSON. */
export function defined(fields: { [key: string]: JsonValue | undefined }): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {}
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value
  return out
}
