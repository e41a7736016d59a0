// The commit kernel: the WebAssembly SIMD loop gives the JS loop's float32 results bit for bit, and
// the center's copy-on-write moves between memory slots and JS buffers without losing a commit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CenterState } from './center.js'
import { CenterMemory, axpyJs } from './kernel.js'
import { Encoding } from './wire.js'

test('the SIMD kernel adds exactly as the JS loop does, for any length and scale', () => {
  for (const length of [4, 5, 7, 1000, 100_003]) {
    const memory = CenterMemory.create(length, 2)
    assert.ok(memory !== undefined, 'WebAssembly SIMD is available in Node 20')
    const slot = memory.slots[1]
    const plain = Float32Array.from({ length }, (_, i) => Math.cos(i) * 10)
    slot.set(plain)
    for (const scale of [1, 0.5, 1 / 3, 1 / 7, -2.5]) {
      const delta = Float32Array.from({ length }, (_, i) => Math.sin(i * scale) * 1e-3)
      axpyJs(plain, delta, scale)
      memory.axpy(slot, delta, scale)
      assert.deepEqual(slot, plain, `length ${length}, scale ${scale}`)
    }
    assert.ok(memory.holds(slot) && !memory.holds(plain))
  }
  assert.equal(CenterMemory.create(3, 2), undefined, 'below one SIMD lane the JS loop does it')
})

function float32Payload(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer)
}

test('while sends read the center, commits go to free slots, then to JS buffers, and back', () => {
  const center = new CenterState(Float32Array.of(0, 0, 0, 0, 0), 0, 'add')
  assert.equal(center.simd, true)
  const sends = []
  for (let i = 1; i <= 5; i++) {
    sends.push(center.lend()) // a pull whose bytes are still leaving the process
    center.commit(Encoding.FLOAT32, float32Payload([1, 1, 1, 1, 1]), 0)
    assert.deepEqual(Array.from(center.peek()), [i, i, i, i, i])
  }
  assert.equal(center.copies, 5)
  assert.equal(center.simd, false, 'three slots, five sends in flight: the center went to a JS buffer')
  sends.forEach((send, i) => assert.deepEqual(Array.from(new Float32Array(send.bytes.buffer, send.bytes.byteOffset, 5)), [i, i, i, i, i], 'each send still sees its own center'))
  for (const send of sends) send.release()
  center.lend().release()
  sends.length = 0
  const last = center.lend()
  center.commit(Encoding.FLOAT32, float32Payload([1, 2, 3, 4, 5]), 0)
  assert.equal(center.simd, true, 'back in a slot once the sends were done')
  assert.deepEqual(Array.from(center.peek()), [6, 7, 8, 9, 10])
  last.release()
})
