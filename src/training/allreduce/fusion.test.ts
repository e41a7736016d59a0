// Tensor fusion in one process: every fusion size gives the bits of no fusion (integer values, so
// the order of additions cannot matter), results land in the pushed arrays, and buffers start
// as soon as they are full.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { closeAll, formLocalRing } from './fixtures/local-ring.js'
import { expectedValue, inputTensor } from './fixtures/ring-worker.js'
import { GradientReducer } from './fusion.js'

const LENGTHS = [1, 7, 300, 0, 5000, 2, 1025, 64, 3]

test('every fusion size gives the no-fusion result, in place, for 3 ranks', async () => {
  const rings = await formLocalRing(3, { segmentBytes: 1024 })
  try {
    for (const fusionBytes of [0, 16, 1000, 4096, 1 << 20]) {
      for (const op of ['mean', 'sum'] as const) {
        const gradients = rings.map((ring) => LENGTHS.map((length, index) => inputTensor('integer', ring.rank, length, index)))
        const results = await Promise.all(rings.map((ring, rank) => new GradientReducer(ring, { fusionBytes, op }).reduce(gradients[rank])))
        results.forEach((result, rank) => result.forEach((gradient, index) => assert.equal(gradient, gradients[rank][index])))
        for (const list of gradients) {
          list.forEach((gradient, index) => {
            const expected = Float32Array.from({ length: gradient.length }, (_, i) => expectedValue('integer', 3, i, op, index))
            assert.deepEqual(gradient, expected, `fusion ${fusionBytes} B, ${op}, gradient ${index}`)
          })
        }
      }
    }
  } finally {
    await closeAll(rings)
  }
})

test('a full buffer starts reducing while later gradients are still being pushed', async () => {
  const rings = await formLocalRing(2)
  try {
    const reducers = rings.map((ring) => new GradientReducer(ring, { fusionBytes: 400 }))
    const issued: number[] = []
    for (const ring of rings) {
      const allReduce = ring.allReduce.bind(ring)
      ring.allReduce = (data, options) => {
        issued.push(data.length)
        return allReduce(data, options)
      }
    }
    // 60 + 60 floats fill the first 100-float buffer (the second gradient straddles it) before the third push.
    for (const reducer of reducers) {
      reducer.push(new Float32Array(60).fill(1))
      reducer.push(new Float32Array(60).fill(1))
    }
    assert.deepEqual(issued, [100, 100], 'one full buffer started per rank')
    for (const reducer of reducers) reducer.push(new Float32Array(500).fill(1)) // Large: the open buffer (20 floats) goes first, then it alone.
    assert.deepEqual(issued, [100, 100, 20, 500, 20, 500])
    const results = await Promise.all(reducers.map((reducer) => reducer.flush()))
    for (const result of results) for (const gradient of result) assert.ok(gradient.every((value) => value === 1), 'mean of ones')
    assert.deepEqual(await reducers[0].flush(), [], 'a flush with nothing pushed resolves at once')
  } finally {
    await closeAll(rings)
  }
})

test('bad options and inputs are refused with what was received', async () => {
  const [ring] = await formLocalRing(1)
  assert.throws(() => new GradientReducer(ring, { fusionBytes: -1 }), (error: unknown) => error instanceof MaltError && error.code === 'RING_BAD_OPTION')
  assert.throws(
    () => new GradientReducer(ring).push([1] as unknown as Float32Array),
    (error: unknown) => error instanceof MaltError && error.code === 'RING_BAD_ARGUMENT' && /gradient #0/.test(error.message),
  )
  await ring.close()
})
