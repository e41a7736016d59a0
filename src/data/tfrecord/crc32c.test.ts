// CRC32C against published vectors (RFC 3720 iSCSI, as leveldb/TF test them) and the mask.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { crc32c, formatCrc, maskCrc, maskedCrc32c, maskedCrc32c8, unmaskCrc } from './crc32c.js'

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)

test('crc32c matches the standard check value and the RFC 3720 vectors', () => {
  assert.equal(crc32c(ascii('123456789')), 0xe3069283)
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa)
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e)
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c)
  assert.equal(crc32c(new Uint8Array(0)), 0)
})

test('crc32c over a range and continued from a previous CRC equals the CRC of the whole', () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37 + 11) & 0xff)
  const whole = crc32c(data)
  for (const split of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    assert.equal(crc32c(data, split, data.length, crc32c(data, 0, split)), whole, `split at ${split}`)
  }
  const padded = new Uint8Array(1010)
  padded.set(data, 5)
  assert.equal(crc32c(padded, 5, 1005), whole)
})

test('maskCrc follows the TFRecord formula and unmaskCrc inverts it', () => {
  for (const crc of [0, 1, 0xe3069283, 0x8a9136aa, 0xffffffff, 0x80000000]) {
    // ((crc >>> 15) | (crc << 17)) + 0xa282ead8, in uint32, computed independently with BigInt.
    const c = BigInt(crc)
    const rotated = ((c >> 15n) | (c << 17n)) & 0xffffffffn
    const expected = Number((rotated + 0xa282ead8n) & 0xffffffffn)
    assert.equal(maskCrc(crc), expected)
    assert.equal(unmaskCrc(maskCrc(crc)), crc)
  }
  assert.equal(maskedCrc32c(ascii('123456789')), maskCrc(0xe3069283))
  assert.equal(formatCrc(0xab), '0x000000ab')
})

/** CRC32C one bit at a time: slow, but too simple to share a bug with the table version. */
function bitwiseCrc32c(data: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff
  for (let i = start; i < end; i++) {
    crc ^= data[i]
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

test('crc32c agrees with a bitwise CRC at every alignment, length and buffer offset', () => {
  const data = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)
  // Views that start 0-3 bytes into their ArrayBuffer, as stream chunks and pooled Buffers do.
  const views = [0, 1, 2, 3].map((shift) => new Uint8Array(data.buffer, shift, data.length - shift))
  const pooled = Buffer.from(data.subarray(0, 200)) // small Buffers share a pool at any offset
  for (const view of [...views, pooled]) {
    for (const start of [0, 1, 2, 3, 5, 17]) {
      for (const length of [0, 1, 7, 8, 15, 16, 31, 32, 33, 47, 63, 64, 65, 100, 127, 181]) {
        const end = Math.min(view.length, start + length)
        assert.equal(crc32c(view, start, end), bitwiseCrc32c(view, start, end), `offset ${view.byteOffset}, [${start}, ${end})`)
      }
    }
  }
  assert.equal(crc32c(views[3], 0, views[3].length), bitwiseCrc32c(views[3], 0, views[3].length))
})

test('maskedCrc32c8 is the masked CRC of 8 bytes at any position', () => {
  const data = Uint8Array.from({ length: 64 }, (_, i) => (i * 40503 + 7) & 0xff)
  for (let pos = 0; pos <= 56; pos += 3) assert.equal(maskedCrc32c8(data, pos), maskCrc(bitwiseCrc32c(data, pos, pos + 8)))
  assert.equal(maskedCrc32c8(new Uint8Array(8), 0), maskedCrc32c(new Uint8Array(8)))
})
