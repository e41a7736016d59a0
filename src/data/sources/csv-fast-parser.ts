// The byte-level number parser behind readCsvTensors: whole lines in, float32 values out,
// exact (the same float32 as Math.fround(Number.parseFloat(text))) without making strings.
import { MaltError, describeValue } from '../../errors.js'

/** Where each column of the file goes: slot ≥ 0 a feature position, -1 the label, -2 skipped. */
export interface ColumnSlots {
  names: string[]
  slots: Int32Array
  featureCount: number
  hasLabel: boolean
}

const LF = 0x0a
const CR = 0x0d
const QUOTE = 0x22
const SPACE = 0x20
const PLUS = 0x2b
const MINUS = 0x2d
const DOT = 0x2e
const ZERO = 0x30
const NINE = 0x39
const LABEL = -1
const SKIP = -2

// Powers of ten that doubles hold exactly: with an integer mantissa below 2^53, one multiply
// or divide by them is correctly rounded, hence equal to parseFloat (Clinger's fast path).
const POW10 = Array.from({ length: 23 }, (_v, i) => Number(`1e${i}`))
const STRICT_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const SPECIAL_NUMBER = /^([+-]?)(nan|inf|infinity)$/i

/** Splits one line (the header) into fields, honouring quotes; used once per file. */
export function splitHeader(line: Uint8Array, delimiter: number): string[] {
  const text = Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('utf8').replace(/\r?\n$/, '')
  const fields: string[] = []
  let field = ''
  let quoted = false
  const sep = String.fromCharCode(delimiter)
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === sep) {
      fields.push(field)
      field = ''
    } else field += ch
  }
  fields.push(field)
  return fields
}

/** Parses complete lines of a numeric CSV into growing Float32Arrays. */
export class NumericCsvParser {
  private features: Float32Array
  private labels: Float32Array
  private capacity = 0
  private rows = 0
  /** The number of the last line consumed (1-based). */
  private line: number

  constructor(
    private readonly uri: string,
    readonly columns: ColumnSlots,
    private readonly delimiter: number,
    private readonly missingIsNaN: boolean,
    linesBefore: number,
  ) {
    this.line = linesBefore
    this.features = new Float32Array(0)
    this.labels = new Float32Array(0)
    this.grow(1024)
  }

  /** Sizes the arrays for the whole file, estimated from the bytes per row seen so far. */
  reserveFor(fileBytes: number, bytesSeen: number): void {
    if (this.rows === 0) return
    const estimate = Math.ceil((fileBytes / bytesSeen) * this.rows * 1.02) + 16
    if (estimate > this.capacity) this.grow(estimate)
  }

  private grow(rows: number): void {
    const features = new Float32Array(rows * this.columns.featureCount)
    features.set(this.features.subarray(0, this.rows * this.columns.featureCount))
    this.features = features
    if (this.columns.hasLabel) {
      const labels = new Float32Array(rows)
      labels.set(this.labels.subarray(0, this.rows))
      this.labels = labels
    }
    this.capacity = rows
  }

  /** The arrays trimmed to the rows read. */
  finish(): { features: Float32Array; labels: Float32Array | undefined; rows: number; featureColumns: string[] } {
    const { names, slots, featureCount, hasLabel } = this.columns
    const featureColumns: string[] = new Array(featureCount)
    slots.forEach((slot, column) => {
      if (slot >= 0) featureColumns[slot] = names[column]
    })
    const exact = this.rows === this.capacity
    return {
      features: exact ? this.features : this.features.slice(0, this.rows * featureCount),
      labels: hasLabel ? (exact ? this.labels : this.labels.slice(0, this.rows)) : undefined,
      rows: this.rows,
      featureColumns,
    }
  }

  /** Parses `bytes[from, to)`; the range holds whole lines, so `bytes[to - 1]` is a newline. */
  parse(bytes: Uint8Array, from: number, to: number): void {
    const delimiter = this.delimiter
    const slots = this.columns.slots
    const columnCount = slots.length
    const featureCount = this.columns.featureCount
    let features = this.features
    let labels = this.labels
    let row = this.rows
    let pos = from
    while (pos < to) {
      let c = bytes[pos]
      if (c === LF || (c === CR && bytes[pos + 1] === LF)) {
        // A blank line: nothing to read.
        pos += c === LF ? 1 : 2
        this.line++
        continue
      }
      if (row === this.capacity) {
        this.rows = row
        this.grow(Math.ceil(this.capacity * 1.5))
        features = this.features
        labels = this.labels
      }
      const lineStart = pos
      const base = row * featureCount
      let p = pos
      for (let column = 0; ; column++) {
        const slot = slots[column]
        c = bytes[p]
        if (slot === SKIP) {
          if (c === QUOTE) p = this.skipQuoted(bytes, p, lineStart, column)
          else while (c !== delimiter && c !== LF && c !== CR) c = bytes[++p]
        } else {
          const fieldStart = p
          while (c === SPACE) c = bytes[++p]
          const quoted = c === QUOTE
          if (quoted) c = bytes[++p]
          const negative = c === MINUS
          if (negative || c === PLUS) c = bytes[++p]
          let mantissa = 0
          let scale = 0
          let digits = false
          while (c >= ZERO && c <= NINE) {
            mantissa = mantissa * 10 + (c - ZERO)
            digits = true
            c = bytes[++p]
          }
          if (c === DOT) {
            c = bytes[++p]
            while (c >= ZERO && c <= NINE) {
              mantissa = mantissa * 10 + (c - ZERO)
              scale--
              digits = true
              c = bytes[++p]
            }
          }
          let ok = digits
          if (ok && (c | 0x20) === 0x65) {
            // An exponent: e or E, a sign, at least one digit.
            c = bytes[++p]
            const negativeExponent = c === MINUS
            if (negativeExponent || c === PLUS) c = bytes[++p]
            let exponent = 0
            ok = c >= ZERO && c <= NINE
            while (c >= ZERO && c <= NINE) {
              if (exponent < 100000) exponent = exponent * 10 + (c - ZERO)
              c = bytes[++p]
            }
            scale += negativeExponent ? -exponent : exponent
          }
          if (quoted) {
            if (c === QUOTE) c = bytes[++p]
            else ok = false
          }
          while (c === SPACE) c = bytes[++p]
          let value: number
          if (ok && (c === delimiter || c === LF || c === CR) && mantissa <= Number.MAX_SAFE_INTEGER && scale >= -22 && scale <= 22) {
            value = scale === 0 ? mantissa : scale < 0 ? mantissa / POW10[-scale] : mantissa * POW10[scale]
            if (negative) value = -value
          } else {
            value = this.slowValue(bytes, fieldStart, lineStart, column)
            p = this.fieldEnd(bytes, fieldStart)
          }
          if (slot >= 0) features[base + slot] = value
          else if (slot === LABEL) labels[row] = value
        }
        c = bytes[p]
        if (c === delimiter) {
          p++
          if (column + 1 === columnCount) this.badRow(bytes, lineStart)
          continue
        }
        // The field ended at a line end (slowValue has already thrown for anything else).
        if (c === CR) {
          if (bytes[p + 1] !== LF) this.badValue(bytes, lineStart, column, p, 'a lone carriage return inside the line')
          p++
        }
        if (column + 1 !== columnCount) this.badRow(bytes, lineStart)
        p++
        break
      }
      row++
      this.line++
      pos = p
    }
    this.rows = row
  }

  /** Where the field starting at `start` ends (at its delimiter or line end). */
  private fieldEnd(bytes: Uint8Array, start: number): number {
    const delimiter = this.delimiter
    let p = start
    let c = bytes[p]
    // Numbers never hold the delimiter, so the first delimiter or line end closes the field;
    // the parse loop has already checked that the field is one number.
    while (c !== delimiter && c !== LF && c !== CR) c = bytes[++p]
    return p
  }

  /** Skips a quoted text field of a column that is not read; returns the position after it. */
  private skipQuoted(bytes: Uint8Array, start: number, lineStart: number, column: number): number {
    let p = start + 1
    for (;;) {
      const c = bytes[p]
      if (c === LF) {
        throw new MaltError('CSV_UNSUPPORTED', `${this.uri}:${this.line + 1}: column "${this.columns.names[column]}": a quoted field spans lines, which readCsvTensors does not read; use csv() for this file`, {
          location: { file: this.uri, line: this.line + 1, field: this.columns.names[column] },
        })
      }
      if (c === QUOTE) {
        if (bytes[p + 1] === QUOTE) p += 2
        else {
          p++
          const next = bytes[p]
          if (next !== this.delimiter && next !== LF && next !== CR) this.badValue(bytes, lineStart, column, start, 'text after a closing quote')
          return p
        }
      } else p++
    }
  }

  /** The rare path: long mantissas, large exponents, nan/inf, empty fields, errors. */
  private slowValue(bytes: Uint8Array, fieldStart: number, lineStart: number, column: number): number {
    const end = this.fieldEnd(bytes, fieldStart)
    let text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', fieldStart, end).trim()
    if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) text = text.slice(1, -1).trim()
    if (STRICT_NUMBER.test(text)) return Number.parseFloat(text)
    const special = SPECIAL_NUMBER.exec(text)
    if (special) {
      if (special[2].toLowerCase() === 'nan') return NaN
      return special[1] === '-' ? -Infinity : Infinity
    }
    if (text === '' && this.missingIsNaN) return NaN
    return this.badValue(bytes, lineStart, column, fieldStart, text === '' ? 'an empty field (pass missing: "nan" to read it as NaN)' : undefined)
  }

  private badValue(bytes: Uint8Array, lineStart: number, column: number, fieldStart: number, what?: string): never {
    const name = this.columns.names[column]
    const line = this.line + 1
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', fieldStart, this.fieldEnd(bytes, fieldStart))
    const fieldCount = this.countFields(bytes, lineStart)
    if (fieldCount !== this.columns.slots.length) this.badRow(bytes, lineStart)
    throw new MaltError('CSV_BAD_VALUE', `${this.uri}:${line}: column "${name}" (field ${column + 1}): expected a number, received ${what ?? describeValue(text)}`, {
      location: { file: this.uri, line, field: name },
    })
  }

  private badRow(bytes: Uint8Array, lineStart: number): never {
    const line = this.line + 1
    throw new MaltError('CSV_BAD_ROW', `${this.uri}:${line}: expected ${this.columns.slots.length} fields, found ${this.countFields(bytes, lineStart)}`, {
      location: { file: this.uri, line },
    })
  }

  /** Counts the fields of the line starting at `start`, honouring quotes (for error messages). */
  private countFields(bytes: Uint8Array, start: number): number {
    let count = 1
    let quoted = false
    for (let p = start; p < bytes.length && bytes[p] !== LF; p++) {
      if (bytes[p] === QUOTE) quoted = !quoted
      else if (bytes[p] === this.delimiter && !quoted) count++
    }
    return count
  }
}
