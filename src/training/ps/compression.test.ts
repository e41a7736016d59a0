// Commit compression: the float16 converter against every half value and every rounding tie, top-k
// selection, error feedback delivering every commit in the end, and checks before applying.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { CommitEncoder, applyCommit, largestMagnitudes } from './compression.js'
import { decodeFloat16, encodeFloat16, fromFloat16Bits, toFloat16Bits } from './float16.js'
import { Encoding } from './wire.js'

test('float16: every half decodes to its value and encodes back to itself', () => {
  assert.equal(fromFloat16Bits(0x3c00), 1)
  assert.equal(fromFloat16Bits(0xc000), -2)
  assert.equal(fromFloat16Bits(0x7bff), 65504)
  assert.equal(fromFloat16Bits(0x0001), 2 ** -24)
  assert.equal(fromFloat16Bits(0x0400), 2 ** -14)
  assert.equal(fromFloat16Bits(0x7c00), Infinity)
  assert.ok(Object.is(fromFloat16Bits(0x8000), -0))
  for (let h = 0; h < 65536; h++) {
    const value = fromFloat16Bits(h)
    if (Number.isNaN(value)) assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(value))), `NaN 0x${h.toString(16)} stays NaN`)
    else assert.equal(toFloat16Bits(value), h, `0x${h.toString(16)} (${value})`)
  }
})

test('float16: values between two halves round to the nearer, ties to the even one', () => {
  // Every pair of adjacent positive finite halves, and their negatives.
  for (let h = 0; h < 0x7bff; h++) {
    const low = fromFloat16Bits(h)
    const high = fromFloat16Bits(h + 1)
    const middle = (low + high) / 2 // exact in float32: one bit more than a half has
    const even = h % 2 === 0 ? h : h + 1
    assert.equal(toFloat16Bits(middle), even, `tie between 0x${h.toString(16)} and 0x${(h + 1).toString(16)}`)
    assert.equal(toFloat16Bits(-middle), even | 0x8000)
    const step = (high - low) / 8
    assert.equal(toFloat16Bits(middle - step), h)
    assert.equal(toFloat16Bits(middle + step), h + 1)
  }
  assert.equal(toFloat16Bits(65519), 0x7bff, 'just below the tie with 65536 rounds down')
  assert.equal(toFloat16Bits(65520), 0x7c00, 'the tie rounds to even: Infinity')
  assert.equal(toFloat16Bits(1e9), 0x7c00)
  assert.equal(toFloat16Bits(-1e9), 0xfc00)
  assert.equal(toFloat16Bits(2 ** -26), 0, 'below half the smallest subnormal: zero')
  assert.equal(toFloat16Bits(-(2 ** -26)), 0x8000)
  assert.equal(toFloat16Bits(NaN) & 0x7e00, 0x7e00)
  const values = Float32Array.of(0.1, -3.14159, 1000.5, 1e-6)
  assert.deepEqual(Array.from(decodeFloat16(encodeFloat16(values))), [0.0999755859375, -3.140625, 1000.5, 17 * 2 ** -24])
})

test('top-k picks the largest magnitudes, ascending indices, ties from the front', () => {
  const values = Float32Array.of(0.5, -4, 3, 0, -3, 2, 3, 1)
  assert.deepEqual(Array.from(largestMagnitudes(values, 1)), [1])
  assert.deepEqual(Array.from(largestMagnitudes(values, 3)), [1, 2, 4])
  assert.deepEqual(Array.from(largestMagnitudes(values, 4)), [1, 2, 4, 6])
  assert.deepEqual(Array.from(largestMagnitudes(values, 8)), [0, 1, 2, 3, 4, 5, 6, 7])
  const big = Float32Array.from({ length: 100_000 }, (_, i) => Math.sin(i * 7.3) * (i % 17))
  const chosen = largestMagnitudes(big, 1000)
  const cut = Math.min(...Array.from(chosen, (i) => Math.abs(big[i])))
  assert.equal(Array.from(big).filter((value) => Math.abs(value) > cut).length < 1000, true)
  assert.deepEqual(Array.from(chosen), [...chosen].sort((a, b) => a - b))
})

/** Applies every encoded slice of `encoder.encode` to `center` as the server would. */
function applyEncoded(center: Float32Array, encoder: CommitEncoder, delta: Float32Array): void {
  const { encoding, parts } = encoder.encode(delta, 0, delta.length)
  const payload = new Uint8Array(new Float64Array(Math.ceil(parts.reduce((sum, part) => sum + part.byteLength, 0) / 8)).buffer)
  let offset = 0
  for (const part of parts) {
    payload.set(part, offset)
    offset += part.byteLength
  }
  applyCommit(center, encoding, payload.subarray(0, offset), 1)
}

for (const compression of ['float16', { topK: 0.1 }] as const) {
  test(`${JSON.stringify(compression)} with error feedback delivers the sum of all commits`, () => {
    const n = 1000
    const encoder = new CommitEncoder(compression, n)
    const applied = new Float32Array(n)
    const committed = new Float64Array(n)
    let seed = 1
    const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1
    for (let round = 0; round < 50; round++) {
      // Small updates (float16 loses most of their digits) with a few large ones.
      const delta = Float32Array.from({ length: n }, () => random() * (random() > 0.9 ? 1 : 1e-4))
      delta.forEach((value, i) => (committed[i] += value))
      applyEncoded(applied, encoder, delta)
    }
    let worstBefore = 0
    applied.forEach((value, i) => (worstBefore = Math.max(worstBefore, Math.abs(value - committed[i]))))
    // Zero commits flush the residual: top-k 10% empties it in 10, float16 leaves under half a step.
    for (let round = 0; round < 10; round++) applyEncoded(applied, encoder, new Float32Array(n))
    let worst = 0
    applied.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - committed[i]))))
    assert.ok(worst < 1e-5, `after flushing, applied differs from committed by at most ${worst}`)
    assert.ok(worst <= worstBefore, 'the residual shrank')
    assert.ok(encoder.pending().every((value) => Math.abs(value) < 1e-5))
  })
}

test('float16 sends ±65504 for larger finite values and keeps the rest owed', () => {
  const encoder = new CommitEncoder('float16', 2)
  const center = new Float32Array(2)
  applyEncoded(center, encoder, Float32Array.of(100_000, -70_000))
  assert.deepEqual(Array.from(center), [65504, -65504])
  applyEncoded(center, encoder, new Float32Array(2))
  assert.deepEqual(Array.from(center), [100_000, -70_000])
})

test('a commit that does not fit the center is refused before anything changes', () => {
  const center = Float32Array.of(1, 2, 3)
  const refused = (encoding: number, payload: Uint8Array, pattern: RegExp): void =>
    assert.throws(() => applyCommit(center, encoding, payload, 1), (error: unknown) => error instanceof MaltError && error.code === 'PS_BAD_COMMIT' && pattern.test(error.message))
  refused(Encoding.FLOAT32, new Uint8Array(8), /must carry 12 bytes \(3 values\); received 8/)
  refused(Encoding.FLOAT16, new Uint8Array(4), /must carry 6 bytes/)
  const topK = new Uint8Array(16)
  new Uint32Array(topK.buffer, 0, 2).set([0, 3])
  new Float32Array(topK.buffer, 8, 2).set([10, 10])
  refused(Encoding.TOP_K, topK, /entry 1 has index 3; this server holds 3 values/)
  refused(9, new Uint8Array(0), /unknown commit encoding 9/)
  assert.deepEqual(Array.from(center), [1, 2, 3])
})
