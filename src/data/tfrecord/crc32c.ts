// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) and TFRecord's masked form, which
// guards every record's length and data. Slicing-by-8 tables: ~8 bytes per loop step.

const POLY = 0x82f63b78

/** 8 tables of 256 entries: table k gives the CRC of a byte followed by k zero bytes. */
const TABLES: Uint32Array = (() => {
  const tables = new Uint32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
    tables[n] = c >>> 0
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n]
    for (let k = 1; k < 8; k++) {
      c = tables[c & 0xff] ^ (c >>> 8)
      tables[k * 256 + n] = c >>> 0
    }
  }
  return tables
})()

/**
 * CRC32C of `data[start, end)`, continuing from `previous` (the CRC of the bytes before).
 *
 * @example crc32c(new TextEncoder().encode('123456789')) === 0xe3069283
 */
export function crc32c(data: Uint8Array, start = 0, end = data.length, previous = 0): number {
  const t = TABLES
  let crc = ~previous
  let i = start
  // Align nothing: reading bytes one by one is as fast as a DataView in V8 for this loop.
  for (const stop = end - 8; i <= stop; i += 8) {
    const lo = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc
    crc =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + data[i + 4]] ^
      t[512 + data[i + 5]] ^
      t[256 + data[i + 6]] ^
      t[data[i + 7]]
  }
  for (; i < end; i++) crc = t[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
  return ~crc >>> 0
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
