// How row values become text in formats that only hold text (CSV cells, JSON values).
import { MaltError, describeValue } from '../../errors.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Bytes as UTF-8 text; binary that is not valid UTF-8 cannot go into a text format. */
export function bytesToText(bytes: Uint8Array, column: string): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new MaltError(
      'DATA_BINARY_IN_TEXT',
      `column "${column}" holds binary bytes (not UTF-8 text), which CSV and JSON Lines cannot hold; write TFRecord instead`,
      { location: { field: column } },
    )
  }
}

/** A value as a JSON-compatible value: typed arrays → arrays, bigint → number or string, bytes → text. */
export function toJsonValue(value: unknown, column: string): unknown {
  if (value === undefined || value === null) return null
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (value instanceof Uint8Array) return bytesToText(value, column)
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>)
  if (Array.isArray(value)) return value.map((item) => toJsonValue(item, column))
  if (typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'object') return value
  throw new MaltError('DATA_BAD_VALUE', `column "${column}": cannot write ${describeValue(value)}`, { location: { field: column } })
}

/** A value as one CSV cell (unquoted); vectors are written as JSON arrays. */
export function toCsvText(value: unknown, column: string): string {
  const json = toJsonValue(value, column)
  if (json === null) return ''
  if (typeof json === 'string') return json
  if (typeof json === 'number' || typeof json === 'boolean') return String(json)
  return JSON.stringify(json)
}
