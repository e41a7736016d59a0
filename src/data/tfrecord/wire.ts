// A minimal protobuf wire-format cursor (varints, lengths, skipping unknown fields) and a
// table of feature names for the hand-written tf.train.Example decoders, built for speed.
import { MaltError } from '../../errors.js'

/** Protobuf wire types used by tf.train.Example (groups, 3 and 4, are rejected). */
export const VARINT = 0
export const FIXED64 = 1
export const LEN = 2
export const FIXED32 = 5

/** Thrown for malformed protobuf bytes; `offset` is relative to the start of the record. */
export function wireError(message: string, offset: number): MaltError {
  return new MaltError('TFRECORD_BAD_EXAMPLE', `malformed tf.train.Example at byte ${offset} of the record: ${message}`, {
    location: { offset },
  })
}

/**
 * Reads protobuf wire data in `buf[pos, end)`; positions are absolute indexes into `buf`.
 * One reader is reused for many records (`reset`) so that the hot loop allocates nothing.
 */
export class WireReader {
  buf: Uint8Array = new Uint8Array(0)
  pos = 0
  end = 0
  /** Index in `buf` of the record's first byte, so errors give record-relative offsets. */
  base = 0
  private viewed: Uint8Array | undefined
  private dataView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0))

  /** Points the reader at the record `buf[start, end)`. */
  reset(buf: Uint8Array, start: number, end: number): this {
    this.buf = buf
    this.pos = start
    this.end = end
    this.base = start
    return this
  }

  /** A DataView of `buf`, made when first needed (many records are read without one). */
  get view(): DataView {
    if (this.viewed !== this.buf) {
      this.viewed = this.buf
      this.dataView = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
    }
    return this.dataView
  }

  /** A varint that must fit in 32 bits unsigned (tags and lengths). */
  uint32(): number {
    const pos = this.pos
    const buf = this.buf
    if (pos + 1 < this.end) {
      const byte = buf[pos]
      if (byte < 0x80) {
        this.pos = pos + 1
        return byte
      }
      const byte2 = buf[pos + 1]
      if (byte2 < 0x80) {
        this.pos = pos + 2
        return (byte & 0x7f) | (byte2 << 7)
      }
    }
    return this.uint32Slow()
  }

  private uint32Slow(): number {
    let pos = this.pos
    let value = 0
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= this.end) throw wireError('varint runs past the end of its message', pos - this.base)
      const byte = this.buf[pos++]
      value += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) {
        if (value > 0xffffffff) break
        this.pos = pos
        return value
      }
    }
    throw wireError('varint longer than 32 bits where a tag or length was expected', this.pos - this.base)
  }

  /** A length-delimited field's length, checked against the bytes left. Returns its end. */
  lengthEnd(): number {
    const length = this.uint32()
    const end = this.pos + length
    if (end > this.end) {
      throw wireError(`field length ${length} runs past the end of its message (${this.end - this.pos} bytes left)`, this.pos - this.base)
    }
    return end
  }

  /** A two's-complement int64 varint: a number when it is a safe integer, a bigint otherwise. */
  int64(): number | bigint {
    const pos = this.pos
    if (pos < this.end && this.buf[pos] < 0x80) {
      this.pos = pos + 1
      return this.buf[pos]
    }
    this.int64Bits()
    const high = this.hi | 0
    // |value| < 2^53 (a safe integer) when the top 11 bits are all copies of the sign bit.
    if (high >= -0x200000 && high < 0x200000) {
      const value = high * 4294967296 + (this.lo >>> 0)
      if (value !== -9007199254740992) return value
    }
    return BigInt.asIntN(64, (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0))
  }

  /** An int64 varint as a number, rounded beyond ±2^53 (enough for float32 output). */
  int64Number(): number {
    const pos = this.pos
    if (pos < this.end && this.buf[pos] < 0x80) {
      this.pos = pos + 1
      return this.buf[pos]
    }
    this.int64Bits()
    return (this.hi | 0) * 4294967296 + (this.lo >>> 0)
  }

  private lo = 0
  private hi = 0

  /** Reads an int64 varint into `lo` and `hi` (bits 28..34 are split across the two). */
  private int64Bits(): void {
    let pos = this.pos
    let lo = 0
    let hi = 0
    for (let shift = 0; shift < 70; shift += 7) {
      if (pos >= this.end) throw wireError('int64 varint runs past the end of its list', pos - this.base)
      const byte = this.buf[pos++]
      if (shift < 28) lo |= (byte & 0x7f) << shift
      else if (shift === 28) {
        lo |= (byte & 0x7f) << 28
        hi = (byte & 0x7f) >>> 4
      } else hi |= (byte & 0x7f) << (shift - 32)
      if (byte < 0x80) {
        this.pos = pos
        this.lo = lo
        this.hi = hi
        return
      }
    }
    throw wireError('int64 varint longer than 10 bytes', this.pos - this.base)
  }

  /** A little-endian float32. */
  float(): number {
    if (this.pos + 4 > this.end) throw wireError('float runs past the end of its list', this.pos - this.base)
    const value = this.view.getFloat32(this.pos, true)
    this.pos += 4
    return value
  }

  /** The list kind (1 bytes, 2 float, 3 int64; 0 none) the last {@link numbers} call found. */
  kind = 0

  /**
   * Counts the values of the tf.train.Feature in `buf[start, end)` and writes at most `limit`
   * of them to `out[at...]` (int64s rounded to numbers); sets `kind`. As protobuf merges,
   * lists of one kind concatenate and another kind replaces them. Bytes are not counted.
   */
  numbers(start: number, end: number, out: Float32Array | null, at: number, limit: number): number {
    this.pos = start
    this.end = end
    this.kind = 0
    let count = 0
    while (this.pos < end) {
      const tag = this.uint32()
      const field = tag >>> 3
      if ((tag & 7) !== LEN || field < 1 || field > 3) {
        this.skip(tag & 7)
        continue
      }
      const listEnd = this.lengthEnd()
      if (field !== this.kind) count = 0
      this.kind = field
      if (field === 1) {
        this.pos = listEnd // Bytes values are not numbers: skipped, the caller rejects the kind.
        continue
      }
      this.end = listEnd
      while (this.pos < listEnd) {
        const valueTag = this.uint32()
        const float = field === 2
        if (valueTag === ((1 << 3) | LEN)) {
          const packedEnd = this.lengthEnd()
          this.end = packedEnd
          while (this.pos < packedEnd) {
            const value = float ? this.float() : this.int64Number()
            if (out && count < limit) out[at + count] = value
            count++
          }
          this.end = listEnd
        } else if (valueTag === (float ? (1 << 3) | FIXED32 : (1 << 3) | VARINT)) {
          const value = float ? this.float() : this.int64Number()
          if (out && count < limit) out[at + count] = value
          count++
        } else {
          this.skip(valueTag & 7)
        }
      }
      this.end = end
    }
    return count
  }

  /** Skips one field's value of the given wire type (unknown fields are legal protobuf). */
  skip(wireType: number): void {
    if (wireType === VARINT) this.int64Bits()
    else if (wireType === FIXED64) this.pos += 8
    else if (wireType === LEN) this.pos = this.lengthEnd()
    else if (wireType === FIXED32) this.pos += 4
    else throw wireError(`unsupported wire type ${wireType}`, this.pos - this.base)
    if (this.pos > this.end) throw wireError('fixed-width field runs past the end of its message', this.pos - this.base)
  }
}

/**
 * Walks the map entries of an Example in the reader's range, calling `entry` with the name's
 * and the Feature's byte ranges (`valueStart` -1 when the entry has no Feature).
 */
export function walkEntries(r: WireReader, entry: (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number) => void): void {
  while (r.pos < r.end) {
    const tag = r.uint32()
    if (tag !== ((1 << 3) | LEN)) {
      r.skip(tag & 7)
      continue
    }
    const featuresEnd = r.lengthEnd()
    const outerEnd = r.end
    r.end = featuresEnd
    while (r.pos < featuresEnd) {
      const entryTag = r.uint32()
      if (entryTag !== ((1 << 3) | LEN)) {
        r.skip(entryTag & 7)
        continue
      }
      const entryEnd = r.lengthEnd()
      r.end = entryEnd
      let keyStart = r.pos
      let keyEnd = r.pos
      let valueStart = -1
      let valueEnd = -1
      while (r.pos < entryEnd) {
        const fieldTag = r.uint32()
        if (fieldTag === ((1 << 3) | LEN) || fieldTag === ((2 << 3) | LEN)) {
          const fieldEnd = r.lengthEnd()
          if (fieldTag === ((1 << 3) | LEN)) {
            keyStart = r.pos
            keyEnd = fieldEnd
          } else {
            valueStart = r.pos
            valueEnd = fieldEnd
          }
          r.pos = fieldEnd
        } else {
          r.skip(fieldTag & 7)
        }
      }
      entry(keyStart, keyEnd, valueStart, valueEnd)
      r.pos = entryEnd
      r.end = featuresEnd
    }
    r.end = outerEnd
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: true })
const MAX_NAMES = 10_000
const MAX_POOL = 16 << 20

/**
 * Feature names seen so far, each with a small id. Records of one file nearly always list
 * the same names in the same order, so the name at each position is first compared with the
 * one seen there in the previous record: a few byte compares instead of a string decode.
 */
export class NameTable {
  readonly names: string[] = []
  private readonly ids = new Map<string, number>()
  /** The UTF-8 bytes of every name, back to back: typed arrays keep the compare loop tight. */
  private pool = new Uint8Array(1024)
  private poolUsed = 0
  private starts: Int32Array = new Int32Array(64)
  private lengths: Int32Array = new Int32Array(64)
  /** The id seen at each entry position in the previous record (-1: none). */
  private predicted: Int32Array = new Int32Array(64).fill(-1)
  /** The decoded name when `id()` returned -1 (the table was full). */
  lastName = ''

  /** The id of the name in `buf[start, end)`, found at map entry number `entry` of its record. */
  id(buf: Uint8Array, start: number, end: number, entry: number): number {
    if (entry < this.predicted.length) {
      const guess = this.predicted[entry]
      if (guess >= 0 && this.lengths[guess] === end - start) {
        const pool = this.pool
        const shift = this.starts[guess] - start
        let i = start
        while (i < end && pool[shift + i] === buf[i]) i++
        if (i === end) return guess
      }
    }
    return this.lookup(buf, start, end, entry)
  }

  private lookup(buf: Uint8Array, start: number, end: number, entry: number): number {
    const name = decodeName(buf, start, end)
    let id = this.ids.get(name)
    if (id === undefined) {
      const length = end - start
      if (this.names.length >= MAX_NAMES || this.poolUsed + length > MAX_POOL) {
        this.lastName = name
        return -1
      }
      id = this.names.length
      this.names.push(name)
      this.ids.set(name, id)
      if (id === this.starts.length) {
        this.starts = grown(this.starts, id * 2, 0)
        this.lengths = grown(this.lengths, id * 2, 0)
      }
      if (this.poolUsed + length > this.pool.length) {
        const pool = new Uint8Array(Math.max(this.pool.length * 2, this.poolUsed + length))
        pool.set(this.pool)
        this.pool = pool
      }
      this.pool.set(buf.subarray(start, end), this.poolUsed)
      this.starts[id] = this.poolUsed
      this.lengths[id] = length
      this.poolUsed += length
    }
    if (entry >= this.predicted.length) this.predicted = grown(this.predicted, Math.max(entry + 1, this.predicted.length * 2), -1)
    this.predicted[entry] = id
    return id
  }

  /** The name in `buf[start, end)` as a string (through the table). */
  name(buf: Uint8Array, start: number, end: number, entry: number): string {
    const id = this.id(buf, start, end, entry)
    return id < 0 ? this.lastName : this.names[id]
  }
}

function grown(array: Int32Array, size: number, fill: number): Int32Array {
  const out = new Int32Array(size).fill(fill)
  out.set(array)
  return out
}

/** UTF-8 → string, with a fast path for the short ASCII names features usually have. */
export function decodeName(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 32) {
    let name = ''
    for (let i = start; i < end; i++) {
      const byte = buf[i]
      if (byte >= 0x80) return textDecoder.decode(buf.subarray(start, end))
      name += String.fromCharCode(byte)
    }
    return name
  }
  return textDecoder.decode(buf.subarray(start, end))
}
