// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's masked form, which
// guards every record's length and data. Slicing-by-16 over aligned 32-bit words: 16 bytes a step.
import { endianness } from 'node:os'

const POLY = 0x82f63b78
const SLICES = 16
/** Words are read in the host's byte order; the word loop assumes little-endian. */
const LITTLE_ENDIAN = endianness() === 'LE'

/**
 * 16 tables of 256 entries: table k gives the CRC of a byte followed by k zero bytes.
 * Int32Array, not Uint32Array: loads stay small integers (values ≥ 2^31 would be doubles).
 */
const TABLES: Int32Array = (() => {
  const tables = new Int32Array(SLICES * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    tables[n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]
    for (let k = 1; k < SLICES; k++) {
      c = tables[c & 0xff] ^ (c >>> 8)
      tables[k * 256 + n] = c
    }
  }
  return tables
})()

/** A 32-bit view of the last buffer seen: records of one stream chunk share it. */
let wordsOf: ArrayBufferLike | undefined
let words: Int32Array<ArrayBufferLike> = new Int32Array(0)

function wordView(data: Uint8Array, end: number): Int32Array {
  if (data.buffer !== wordsOf || data.byteOffset + end > words.length * 4) {
    wordsOf = data.buffer
    words = new Int32Array(data.buffer, 0, data.buffer.byteLength >>> 2)
  }
  return words
}

/**
 * CRC32C of `data[start, end)`, continuing from `previous` (the CRC of the bytes before).
 *
 * @example crc32c(new TextEncoder().encode('123456789')) === 0xe3069283
 */
export function crc32c(data: Uint8Array, start = 0, end = data.length, previous = 0): number {
  const t = TABLES
  let crc = ~previous
  let i = start
  if (end - start >= 32 && LITTLE_ENDIAN) {
    // Bytes up to a 4-byte boundary of the underlying buffer, then 16 bytes (4 words) a step.
    const offset = data.byteOffset
    for (; ((offset + i) & 3) !== 0; i++) crc = t[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
    const w32 = wordView(data, end)
    let w = (offset + i) >>> 2
    for (const stop = w + ((end - i) >>> 4) * 4; w < stop; w += 4) {
      const a = w32[w] ^ crc
      const b = w32[w + 1]
      const c = w32[w + 2]
      const d = w32[w + 3]
      crc =
        t[3840 + (a & 0xff)] ^ t[3584 + ((a >>> 8) & 0xff)] ^ t[3328 + ((a >>> 16) & 0xff)] ^ t[3072 + (a >>> 24)] ^
        t[2816 + (b & 0xff)] ^ t[2560 + ((b >>> 8) & 0xff)] ^ t[2304 + ((b >>> 16) & 0xff)] ^ t[2048 + (b >>> 24)] ^
        t[1792 + (c & 0xff)] ^ t[1536 + ((c >>> 8) & 0xff)] ^ t[1280 + ((c >>> 16) & 0xff)] ^ t[1024 + (c >>> 24)] ^
        t[768 + (d & 0xff)] ^ t[512 + ((d >>> 8) & 0xff)] ^ t[256 + ((d >>> 16) & 0xff)] ^ t[d >>> 24]
    }
    i = w * 4 - offset
  }
  for (; i < end; i++) crc = t[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
  return ~crc >>> 0
}

/**
 * The masked CRC32C of the 8 bytes at `data[pos]` (a record's length field): one slicing
 * step, kept apart from {@link crc32c} so that its many short calls do not slow the long ones.
 */
export function maskedCrc32c8(data: Uint8Array, pos: number): number {
  const t = TABLES
  const lo = ~(data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16) | (data[pos + 3] << 24))
  const crc =
    t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)] ^
    t[768 + data[pos + 4]] ^ t[512 + data[pos + 5]] ^ t[256 + data[pos + 6]] ^ t[data[pos + 7]]
  return maskCrc(~crc >>> 0)
}

const MASK_DELTA = 0xa282ead8

/** TFRecord's masked CRC: rotate right by 15 bits and add a constant (so CRCs of CRCs differ). */
export function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0
}

/** The inverse of {@link maskCrc}. */
export function unmaskCrc(masked: number): number {
  const rotated = (masked - MASK_DELTA) >>> 0
  return ((rotated >>> 17) | (rotated << 15)) >>> 0
}

/** The masked CRC32C of `data[start, end)`, as stored in a TFRecord file. */
export function maskedCrc32c(data: Uint8Array, start = 0, end = data.length): number {
  return maskCrc(crc32c(data, start, end))
}

/** Formats a CRC for error messages: `0x0a1b2c3d`. */
export function formatCrc(crc: number): string {
  return `0x${(crc >>> 0).toString(16).padStart(8, '0')}`
}
