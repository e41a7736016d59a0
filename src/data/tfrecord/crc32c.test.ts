// CRC32C against published vectors (RFC 3720 iSCSI, as leveldb/TF test them) and the mask.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { crc32c, formatCrc, maskCrc, maskedCrc32c, unmaskCrc } from './crc32c.js'

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
