// Request bodies as JSON: V8's JSON.parse for the common case, and a byte-level parser for what it
// cannot do — TF Serving's NaN/Infinity tokens and errors that name the byte offset. Nesting is
// capped so that no later walk over the value can overflow the stack.
import { MaltError } from '../../errors.js'
import { ServingError } from '../types.js'

/** How {@link parseJsonBody} reads a body. */
export interface JsonBodyOptions {
  /** Accept the NaN, Infinity and -Infinity tokens (TF Serving's "JSON conformance" section). */
  nonFiniteTokens: boolean
  /** Deepest nesting of arrays/objects accepted. @defaultValue 64 */
  maxDepth?: number
}

const DEFAULT_MAX_DEPTH = 64
const CODE = 'SERVING_BAD_JSON'

/**
 * Parses a request body; a ServingError 400 (code SERVING_BAD_JSON) says what is wrong and at which
 * byte offset, never a RangeError or a stack overflow. Fast path: a scan for the nesting depth,
 * then JSON.parse; the byte-level parser runs only when JSON.parse refuses the body.
 *
 * @example
 * parseJsonBody('{"instances": [1.0, NaN]}', { nonFiniteTokens: true }) // { instances: [1, NaN] }
 */
export function parseJsonBody(body: Buffer | string, options: JsonBodyOptions): unknown {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  if (!Number.isInteger(maxDepth) || maxDepth < 1) {
    throw new MaltError('SERVING_BAD_OPTION', `maxDepth: expected a positive integer, received ${String(maxDepth)}`)
  }
  const text = typeof body === 'string' ? body : body.toString('utf8')
  // Depth first: V8's JSON.parse is iterative and would build a 16-million-level body (seconds,
  // a gigabyte) that JSON.stringify or any recursive walk later overflows on.
  const deep = depthIndex(text, maxDepth)
  if (deep >= 0) throw bad(Buffer.byteLength(text.slice(0, deep)), `nesting deeper than ${maxDepth} levels`)
  try {
    return JSON.parse(text)
  } catch {
    // Rare path: find the error's byte offset, or read the non-finite tokens JSON.parse refuses.
    return new ByteParser(typeof body === 'string' ? Buffer.from(body, 'utf8') : body, options.nonFiniteTokens, maxDepth).parse()
  }
}

function bad(offset: number, what: string): ServingError {
  return new ServingError(400, CODE, `invalid JSON body at byte ${offset}: ${what}`, { location: { offset } })
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const COMMA = 0x2c
const COLON = 0x3a

/** Brackets and quotes: the only characters that change nesting. */
const STRUCTURE = /["[\]{}]/g

/**
 * Index of the bracket that opens level `maxDepth + 1`, or -1. A regular expression finds the
 * structural characters (native scanning: about a tenth of JSON.parse's time on a numeric body,
 * where walking the parsed value costs a quarter, boxing every number); strings are skipped whole.
 */
function depthIndex(text: string, maxDepth: number): number {
  let depth = 0
  STRUCTURE.lastIndex = 0
  while (STRUCTURE.test(text)) {
    const at = STRUCTURE.lastIndex - 1
    const char = text.charCodeAt(at)
    if (char === OPEN_ARRAY || char === OPEN_OBJECT) {
      if (++depth > maxDepth) return at
    } else if (char === CLOSE_ARRAY || char === CLOSE_OBJECT) {
      depth--
    } else {
      const end = stringEnd(text, at + 1)
      if (end < 0) return -1 // unterminated: JSON.parse reports it
      STRUCTURE.lastIndex = end + 1
    }
  }
  return -1
}

/** Index of the quote closing a string whose content starts at `from` (-1 if none). */
function stringEnd(text: string, from: number): number {
  for (let quote = text.indexOf('"', from); quote >= 0; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return quote
  }
  return -1
}

type Container = unknown[] | Record<string, unknown>

/** RFC 8259 JSON over bytes, iterative, with optional NaN/Infinity/-Infinity tokens. */
class ByteParser {
  private pos = 0

  constructor(
    private readonly bytes: Buffer,
    private readonly nonFiniteTokens: boolean,
    private readonly maxDepth: number,
  ) {}

  parse(): unknown {
    const stack: Container[] = []
    const keys: string[] = []
    this.skipSpace()
    if (this.pos >= this.bytes.length) throw bad(this.pos, 'the body is empty, expected a JSON value')
    for (;;) {
      let value: unknown
      const byte = this.bytes[this.pos]
      if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
        if (stack.length >= this.maxDepth) throw bad(this.pos, `nesting deeper than ${this.maxDepth} levels`)
        this.pos++
        this.skipSpace()
        const isArray = byte === OPEN_ARRAY
        if (this.bytes[this.pos] === (isArray ? CLOSE_ARRAY : CLOSE_OBJECT)) {
          this.pos++
          value = isArray ? [] : {}
        } else {
          stack.push(isArray ? [] : {})
          keys.push(isArray ? '' : this.key())
          continue
        }
      } else {
        value = this.scalar()
      }
      // Attach the value, then close every container that ends here.
      for (;;) {
        if (stack.length === 0) {
          this.skipSpace()
          if (this.pos < this.bytes.length) throw bad(this.pos, `unexpected ${this.found()} after the JSON value`)
          return value
        }
        const top = stack[stack.length - 1]
        if (Array.isArray(top)) top.push(value)
        else setKey(top, keys[keys.length - 1], value)
        this.skipSpace()
        const next = this.bytes[this.pos]
        const close = Array.isArray(top) ? CLOSE_ARRAY : CLOSE_OBJECT
        if (next === COMMA) {
          this.pos++
          this.skipSpace()
          if (!Array.isArray(top)) keys[keys.length - 1] = this.key()
          break
        }
        if (next !== close) {
          throw bad(this.pos, `expected ',' or '${close === CLOSE_ARRAY ? ']' : '}'}', got ${this.found()}`)
        }
        this.pos++
        value = stack.pop()
        keys.pop()
      }
    }
  }

  /** An object key, its colon and the space up to the value. */
  private key(): string {
    if (this.bytes[this.pos] !== QUOTE) throw bad(this.pos, `expected a string key, got ${this.found()}`)
    const key = this.string()
    this.skipSpace()
    if (this.bytes[this.pos] !== COLON) throw bad(this.pos, `expected ':' after an object key, got ${this.found()}`)
    this.pos++
    this.skipSpace()
    return key
  }

  private scalar(): unknown {
    const byte = this.bytes[this.pos]
    if (byte === QUOTE) return this.string()
    if (byte === 0x2d || (byte >= 0x30 && byte <= 0x39)) return this.number()
    for (const [word, value] of LITERALS) {
      if (this.startsWith(word)) {
        if (typeof value === 'number' && !this.nonFiniteTokens) {
          throw bad(this.pos, `${word} is not JSON (NaN and Infinity tokens are accepted by TF Serving's API only)`)
        }
        this.pos += word.length
        return value
      }
    }
    throw bad(this.pos, `expected a JSON value, got ${this.found()}`)
  }

  private number(): number {
    const start = this.pos
    const bytes = this.bytes
    if (bytes[this.pos] === 0x2d) {
      this.pos++
      if (this.startsWith('Infinity')) {
        if (!this.nonFiniteTokens) throw bad(start, '-Infinity is not JSON (NaN and Infinity tokens are accepted by TF Serving\'s API only)')
        this.pos += 8
        return -Infinity
      }
    }
    if (bytes[this.pos] === 0x30) this.pos++
    else if (!this.digits()) throw bad(this.pos, `expected a digit, got ${this.found()}`)
    if (bytes[this.pos] === 0x2e) {
      this.pos++
      if (!this.digits()) throw bad(this.pos, `expected a digit after the decimal point, got ${this.found()}`)
    }
    if (bytes[this.pos] === 0x65 || bytes[this.pos] === 0x45) {
      this.pos++
      if (bytes[this.pos] === 0x2b || bytes[this.pos] === 0x2d) this.pos++
      if (!this.digits()) throw bad(this.pos, `expected a digit in the exponent, got ${this.found()}`)
    }
    return Number(bytes.toString('latin1', start, this.pos))
  }

  private digits(): boolean {
    const start = this.pos
    while (this.bytes[this.pos] >= 0x30 && this.bytes[this.pos] <= 0x39) this.pos++
    return this.pos > start
  }

  private string(): string {
    const start = this.pos
    const bytes = this.bytes
    let escaped = false
    for (this.pos++; ; this.pos++) {
      const byte = bytes[this.pos]
      if (byte === undefined) throw bad(start, 'unterminated string')
      if (byte === QUOTE) break
      if (byte < 0x20) throw bad(this.pos, 'control character in a string (escape it)')
      if (byte === BACKSLASH) {
        escaped = true
        const next = bytes[++this.pos]
        if (next === 0x75) {
          for (let k = 1; k <= 4; k++) {
            if (!isHex(bytes[this.pos + k])) throw bad(this.pos + k, 'expected 4 hex digits after \\u')
          }
          this.pos += 4
        } else if (next === undefined || !ESCAPES.has(next)) {
          throw bad(this.pos - 1, `invalid escape \\${next === undefined ? '' : String.fromCharCode(next)}`)
        }
      }
    }
    this.pos++
    // The escapes are valid, so JSON.parse of the literal cannot fail.
    return escaped ? (JSON.parse(bytes.toString('utf8', start, this.pos)) as string) : bytes.toString('utf8', start + 1, this.pos - 1)
  }

  private skipSpace(): void {
    for (;;) {
      const byte = this.bytes[this.pos]
      if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return
      this.pos++
    }
  }

  private startsWith(word: string): boolean {
    for (let k = 0; k < word.length; k++) if (this.bytes[this.pos + k] !== word.charCodeAt(k)) return false
    return true
  }

  /** What sits at the current offset, for messages. */
  private found(): string {
    if (this.pos >= this.bytes.length) return 'the end of the body'
    const byte = this.bytes[this.pos]
    return byte >= 0x20 && byte < 0x7f ? `'${String.fromCharCode(byte)}'` : `byte 0x${byte.toString(16).padStart(2, '0')}`
  }
}

const LITERALS: readonly (readonly [string, unknown])[] = [
  ['true', true],
  ['false', false],
  ['null', null],
  ['NaN', NaN],
  ['Infinity', Infinity],
]
const ESCAPES = new Set([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74])

function isHex(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66))
}

/** As JSON.parse does: `__proto__` becomes an own property, never the prototype. */
function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}
