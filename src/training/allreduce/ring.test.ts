// The ring over real sockets in one process (every rank on this event loop): results, ordering of
// concurrent collectives, the handshake, mismatches, stalls, close. One rank per process, crashes
// included, is processes.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { MaltError } from '../../errors.js'
import { RingPeerLostError } from './errors.js'
import { closeAll, formLocalRing } from './fixtures/local-ring.js'
import { expectedValue, inputTensor } from './fixtures/ring-worker.js'
import { RingListener } from './listener.js'
import type { AllReduceRing } from './ring.js'

async function rejection(promise: Promise<unknown>, code: string): Promise<MaltError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof MaltError, `expected a MaltError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    return error
  }
  assert.fail(`expected a rejection with ${code}`)
}

function assertReduced(rings: AllReduceRing[], tensors: Float32Array[], op: 'sum' | 'mean', salt = 0): void {
  for (const tensor of tensors) {
    const expected = Float32Array.from({ length: tensor.length }, (_, i) => expectedValue('integer', rings.length, i, op, salt))
    assert.deepEqual(tensor, expected, `${op} of ${tensor.length} floats over ${rings.length} ranks`)
  }
}

test('sum and mean are exact for integer values: 1 to 4 ranks, lengths 0, 1, 7, 1003, several segments', async () => {
  for (const size of [1, 2, 3, 4]) {
    const rings = await formLocalRing(size, { segmentBytes: 64 })
    try {
      for (const length of [0, 1, 7, 1003]) {
        for (const op of ['sum', 'mean'] as const) {
          const tensors = rings.map((ring) => inputTensor('integer', ring.rank, length))
          const returned = await Promise.all(rings.map((ring, rank) => ring.allReduce(tensors[rank], { op })))
          returned.forEach((result, rank) => assert.equal(result, tensors[rank], 'reduces in place and resolves with the same array'))
          assertReduced(rings, tensors, op)
        }
      }
    } finally {
      await closeAll(rings)
    }
  }
})

test('collectives issued back to back, and by ranks at different times, complete in order', async () => {
  const rings = await formLocalRing(3, { segmentBytes: 256 })
  try {
    const lengths = [5000, 3, 0, 12345]
    const tensors = rings.map((ring) => lengths.map((length, salt) => inputTensor('integer', ring.rank, length, salt)))
    const early = [0, 1].map((rank) => Promise.all(tensors[rank].map((tensor) => rings[rank].allReduce(tensor))))
    await new Promise((resolve) => setTimeout(resolve, 100)) // Ranks 0 and 1 send; rank 2's socket holds the bytes.
    const late = Promise.all(tensors[2].map((tensor) => rings[2].allReduce(tensor)))
    await Promise.all([...early, late])
    lengths.forEach((_, salt) => assertReduced(rings, tensors.map((list) => list[salt]), 'sum', salt))
  } finally {
    await closeAll(rings)
  }
})

test('ranks that issue different collectives fail with RING_MISMATCH instead of mixing data', async () => {
  const rings = await formLocalRing(2)
  try {
    const results = rings.map((ring, rank) => ring.allReduce(new Float32Array(rank === 0 ? 10 : 11)))
    const errors = await Promise.all(results.map((result) => rejection(result, 'RING_MISMATCH')))
    assert.match(errors[0].message, /issued all-reduce #0 of 10 floats \(sum\) but rank 1 issued all-reduce #0 of 11 floats/)
    await rejection(rings[0].allReduce(new Float32Array(1)), 'RING_MISMATCH') // Later collectives fail too.
  } finally {
    await closeAll(rings)
  }
})

test('a rank that never issues the collective is named by every rank after peerTimeoutMs, neighbour or not', async () => {
  const rings = await formLocalRing(4, { peerTimeoutMs: 300 })
  try {
    const started = Date.now()
    const pending = [0, 1, 2].map((rank) => rings[rank].allReduce(new Float32Array(100)))
    const errors = await Promise.all(pending.map((result) => rejection(result, 'RING_PEER_LOST')))
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`)
    for (const error of errors) {
      assert.ok(error instanceof RingPeerLostError && error.peerRank === 3, error.message)
      assert.match(error.message, /Rank 3 has not issued all-reduce #0 while rank \d waited \d+ ms for it/)
    }
    await rejection(rings[3].allReduce(new Float32Array(100)), 'RING_PEER_LOST') // The laggard learns it too.
  } finally {
    await closeAll(rings)
  }
})

test('close() rejects its pending collectives, the peers lose it, and a new ring forms in the same process', async () => {
  const rings = await formLocalRing(2)
  const pending = rings.map((ring) => ring.allReduce(new Float32Array(4_000_000)))
  const outcomes = [rejection(pending[0], 'RING_PEER_LOST'), rejection(pending[1], 'RING_CLOSED')]
  await rings[1].close()
  const [lost] = await Promise.all(outcomes)
  assert.ok(lost instanceof RingPeerLostError && lost.peerRank === 1, lost.message)
  await rejection(rings[1].allReduce(new Float32Array(1)), 'RING_CLOSED')
  await rings[0].close()
  const again = await formLocalRing(2)
  const tensors = again.map((ring) => inputTensor('integer', ring.rank, 33))
  await Promise.all(again.map((ring, rank) => ring.allReduce(tensors[rank])))
  assertReduced(again, tensors, 'sum')
  await closeAll(again)
})

test('a joined listener has freed its port; a finished peer leaving fails only the next collective', async () => {
  const listeners = await Promise.all([RingListener.open(), RingListener.open()])
  const addresses = listeners.map((listener) => listener.address)
  const rings = await Promise.all(listeners.map((listener, rank) => listener.join({ rank, addresses, secret: 's' })))
  const port = Number(addresses[0].split(':')[1])
  await new Promise<void>((resolve, reject) => {
    const server = createServer().once('error', reject)
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()))
  })
  await Promise.all(rings.map((ring) => ring.allReduce(new Float32Array(10))))
  await rings[1].close()
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(rings[0].failure, undefined, 'nothing was pending: leaving is no failure yet')
  await rejection(rings[0].allReduce(new Float32Array(10)), 'RING_PEER_LOST')
  await rings[0].close()
})

test('the handshake refuses a wrong secret or ring id, and the rightful neighbour still joins', async () => {
  const listeners = await Promise.all([RingListener.open(), RingListener.open()])
  const addresses = listeners.map((listener) => listener.address)
  const first = listeners[0].join({ rank: 0, addresses, secret: 'right' })
  // Intruders that know rank 0's address and pose as rank 1, with the wrong secret or ring id: refused.
  const intruder = await RingListener.open()
  const refused = await rejection(intruder.join({ rank: 1, addresses: [addresses[0], intruder.address], secret: 'wrong' }), 'RING_AUTH_FAILED')
  assert.match(refused.message, /refused rank 1's handshake/)
  const otherRun = await RingListener.open()
  await rejection(otherRun.join({ rank: 1, addresses: [addresses[0], otherRun.address], secret: 'right', ringId: 'other-run' }), 'RING_AUTH_FAILED')
  const rings = await Promise.all([first, listeners[1].join({ rank: 1, addresses, secret: 'right' })])
  const tensors = rings.map((ring) => inputTensor('integer', ring.rank, 9))
  await Promise.all(rings.map((ring, rank) => ring.allReduce(tensors[rank])))
  assertReduced(rings, tensors, 'sum')
  await closeAll(rings)
})

test('a ring that cannot form times out naming the missing neighbour and the refused attempts', async () => {
  const listener = await RingListener.open()
  const absent = await RingListener.open()
  const addresses = [listener.address, absent.address]
  const impostor = await RingListener.open()
  const joining = listener.join({ rank: 0, addresses, secret: 'right', connectTimeoutMs: 600 })
  await rejection(impostor.join({ rank: 1, addresses: [addresses[0], impostor.address], secret: 'wrong', connectTimeoutMs: 600 }), 'RING_AUTH_FAILED')
  const error = await rejection(joining, 'RING_TIMEOUT')
  assert.match(error.message, /left neighbour, rank 1.*refused: 127\.0\.0\.1:\d+ \(claimed rank 1 of 2/)
  await absent.close()
})

test('bad join options and bad arguments are refused before any connection', async () => {
  const listener = await RingListener.open()
  const addresses = [listener.address, '127.0.0.1:1']
  await rejection(listener.join({ rank: 2, addresses, secret: 's' }), 'RING_BAD_OPTION')
  await rejection(listener.join({ rank: 1, addresses, secret: 's' }), 'RING_BAD_OPTION') // addresses[1] is not this listener.
  await rejection(listener.join({ rank: 0, addresses, secret: '' }), 'RING_BAD_OPTION')
  await rejection(listener.join({ rank: 0, addresses, secret: 's', segmentBytes: 6 }), 'RING_BAD_OPTION')
  const [ring] = await formLocalRing(1)
  await rejection(ring.allReduce([1, 2] as unknown as Float32Array), 'RING_BAD_ARGUMENT')
  await rejection(ring.allReduce(new Float32Array(1), { op: 'max' as 'sum' }), 'RING_BAD_ARGUMENT')
  await listener.close()
  await ring.close()
})
