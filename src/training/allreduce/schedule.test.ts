// The transfer plan and the arithmetic, without sockets: what rank r + 1 sends is byte for byte
// what rank r expects, forwarding waits for exactly the receive it forwards, and the SIMD kernel
// gives the JS loop's bits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { segmentArithmetic } from './arithmetic.js'
import { chunkRanges, ringSchedule } from './schedule.js'

test('chunks cover the buffer in order, as even as possible, for any length', () => {
  for (const length of [0, 1, 5, 7, 1000003]) {
    for (const size of [1, 2, 3, 4, 7]) {
      const chunks = chunkRanges(length, size)
      assert.equal(chunks.length, size)
      let offset = 0
      for (const chunk of chunks) {
        assert.equal(chunk.offset, offset)
        offset += chunk.length
      }
      assert.equal(offset, length)
      const lengths = chunks.map((chunk) => chunk.length)
      assert.ok(Math.max(...lengths) - Math.min(...lengths) <= 1, `uneven chunks ${lengths} for ${length} floats / ${size}`)
    }
  }
})

test("each rank's receives are its upstream neighbour's sends, and every send forwards the receive before it", () => {
  for (const length of [0, 1, 7, 100, 1000003]) {
    for (const size of [2, 3, 4, 5]) {
      const segmentFloats = 1024
      const plans = Array.from({ length: size }, (_, rank) => ringSchedule(length, size, rank, segmentFloats))
      let bytesSent = 0
      for (let rank = 0; rank < size; rank++) {
        const upstream = plans[(rank + 1) % size]
        const ranges = (items: { offset: number; length: number }[]): string => items.map((item) => `${item.offset}+${item.length}`).join(' ')
        assert.equal(ranges(plans[rank].receives), ranges(upstream.sends), `rank ${rank} of ${size}, ${length} floats`)
        const plan = plans[rank]
        plan.sends.slice(plan.freeSends).forEach((send, index) => {
          const forwarded = plan.receives[index]
          assert.deepEqual([send.offset, send.length], [forwarded.offset, forwarded.length])
        })
        assert.ok(plan.sends.every((send) => send.length > 0 && send.length <= segmentFloats))
        bytesSent += plan.sends.reduce((sum, send) => sum + send.length * 4, 0)
      }
      // Bandwidth-optimal: each rank sends 2(N−1)/N of the buffer (exactly, summed over the ring).
      assert.equal(bytesSent, 2 * (size - 1) * length * 4)
    }
  }
})

test('the reduce-scatter adds, marks where each sum completes, and the all-gather copies', () => {
  const plan = ringSchedule(12, 3, 1, 1000)
  assert.deepEqual(
    plan.receives.map((item) => [item.offset, item.mode, item.completesSum]),
    [
      [8, 'reduce', false],
      [0, 'reduce', true],
      [4, 'copy', false],
      [8, 'copy', false],
    ],
  )
  assert.deepEqual(ringSchedule(5, 1, 0, 4), { sends: [], receives: [], freeSends: 0 })
})

test('SIMD and JS arithmetic give the same float32 bits (sum, then sum ÷ size), for every tail length', () => {
  const random = (seed: number): number => Math.fround(Math.sin(seed * 12.9898) * 43758.5453) % 7
  for (const length of [1, 3, 255, 256, 257, 1023, 4099]) {
    const simd = segmentArithmetic(4099)
    const target = Float32Array.from({ length: length + 2 }, (_, i) => random(i))
    for (let i = 0; i < length; i++) simd.scratch[i] = random(i + 7919)
    const plainSum = Float32Array.from(target, (value, i) => (i >= 1 && i <= length ? value + simd.scratch[i - 1] : value))
    const plainMean = Float32Array.from(plainSum, (value, i) => (i >= 1 && i <= length ? value / 3 : value))
    const summed = target.slice()
    simd.add(summed, 1, length)
    assert.deepEqual(summed, plainSum, `add, ${length} floats`)
    const averaged = target.slice()
    simd.addAndDivide(averaged, 1, length, 3)
    assert.deepEqual(averaged, plainMean, `add and divide, ${length} floats`)
  }
})
