// The parameter server and its client in one process over real loopback sockets: the update rules,
// the handshake, compressed commits, slices over two servers, consistency of pulls under commits,
// refused requests, and closing.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { rejectsWith } from '../../../test/helpers/errors.js'
import { proofOf } from './auth.js'
import { ParameterClient, type ParameterClientOptions } from './client.js'
import { ParameterServer, type ParameterServerOptions } from './server.js'
import { splitParameters } from './slices.js'
import { Encoding, FrameReader, Op, decodeError, writeFrame, type FrameHeader } from './wire.js'

const secret = 'a secret of this test run'
const closers: (() => Promise<unknown>)[] = []
after(() => Promise.all(closers.map((close) => close().catch(() => undefined))))

async function startServer(initial: Float32Array, options: Partial<ParameterServerOptions> = {}): Promise<ParameterServer> {
  const server = await ParameterServer.start({ secret, initial, ...options })
  closers.push(() => server.close())
  return server
}

async function connectClient(servers: ParameterServer[], options: Partial<ParameterClientOptions> = {}): Promise<ParameterClient> {
  const client = await ParameterClient.connect({ servers: servers.map((server) => server.address), secret, workerId: 1, ...options })
  closers.push(() => client.close())
  return client
}

test('add rule: C += Δ for every commit, u counts them, commitPull answers with the new center', async () => {
  const server = await startServer(Float32Array.of(1, 2, 3))
  const a = await connectClient([server], { workerId: 1 })
  const b = await connectClient([server], { workerId: 2 })
  assert.deepEqual(await a.commit(Float32Array.of(1, 1, 1)), { updates: 1, serverUpdates: [1] })
  const pulled = await b.commitPull(Float32Array.of(0.5, 0, -3))
  assert.deepEqual([Array.from(pulled.center), pulled.updates], [[2.5, 3, 1], 2])
  const into = new Float32Array(3)
  const again = await a.pull(into)
  assert.equal(again.center, into, 'pulled into the given array')
  assert.deepEqual([Array.from(into), again.updates], [[2.5, 3, 1], 2])
  assert.deepEqual(Array.from(server.centerSnapshot()), [2.5, 3, 1])
  const [stats] = await a.stats()
  assert.deepEqual([stats.parameters, stats.updates, stats.commits, stats.pulls, stats.connections], [3, 2, 2, 2, 2])
  assert.ok(stats.bytesIn > 0 && stats.bytesOut > 0)
})

test('staleness rule: C += Δ / (u − u_pulled + 1) with the counter of the worker\'s last pull', async () => {
  const server = await startServer(Float32Array.of(0), { rule: 'staleness' })
  const a = await connectClient([server], { workerId: 1 })
  const b = await connectClient([server], { workerId: 2 })
  assert.equal((await a.pull()).updates, 0)
  await b.commit(Float32Array.of(3)) // b's last pull: u = 0 when it connected; now u = 0 → ×1
  await b.commit(Float32Array.of(3)) // still pulled at 0, u = 1 → ×1/2
  assert.deepEqual(Array.from(server.centerSnapshot()), [4.5])
  await a.commit(Float32Array.of(6)) // pulled at 0, u = 2 → ×1/3
  assert.deepEqual(Array.from(server.centerSnapshot()), [6.5])
  const pulled = await a.pull()
  assert.deepEqual([Array.from(pulled.center), pulled.updates], [[6.5], 3])
  const fresh = await a.commitPull(Float32Array.of(4)) // pulled at 3, u = 3 → ×1
  assert.deepEqual([Array.from(fresh.center), fresh.updates], [[10.5], 4])
  assert.equal(a.rule, 'staleness')
})

test('a client with the wrong secret is refused; the others go on', async () => {
  const server = await startServer(new Float32Array(4))
  const good = await connectClient([server])
  const refused = ParameterClient.connect({ servers: [server.address], secret: 'not the secret', workerId: 9 })
  await rejectsWith(refused, 'PS_AUTH_FAILED', [server.address, 'worker 9', 'did not prove the run\'s secret'])
  await good.commit(Float32Array.of(1, 2, 3, 4))
  assert.deepEqual(Array.from((await good.pull()).center), [1, 2, 3, 4])
  assert.equal(server.stats().refused, 1)
})

test('float16 and top-k commits are decoded by the server; error feedback delivers everything', async () => {
  const n = 10_000
  const server = await startServer(new Float32Array(n))
  const half = await connectClient([server], { compression: 'float16' })
  const sparse = await connectClient([server], { compression: { topK: 0.05 } })
  const expected = new Float64Array(n)
  for (let round = 0; round < 20; round++) {
    const delta = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + round) * 1e-3)
    delta.forEach((value, i) => (expected[i] += 2 * value))
    await half.commit(delta)
    await sparse.commit(delta)
  }
  const bytesBefore = server.stats().bytesIn
  await sparse.commit(new Float32Array(n))
  assert.ok(server.stats().bytesIn - bytesBefore < n * 0.05 * 8 + 100, 'a 5% top-k commit carries 8 bytes per sent entry')
  for (let round = 0; round < 20; round++) await sparse.commit(new Float32Array(n))
  await half.commit(new Float32Array(n))
  const center = (await half.pull()).center
  let worst = 0
  center.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - expected[i]))))
  assert.ok(worst < 1e-6, `the center is the sum of all commits up to ${worst}`)
})

test('two servers holding a slice each give the same centers as one server', async () => {
  const n = 1001
  const initial = Float32Array.from({ length: n }, (_, i) => i / n)
  const whole = await startServer(initial, { rule: 'staleness' })
  const ranges = splitParameters(n, 2, [300, 1, 600, 100])
  const shards = await Promise.all(ranges.map(({ start, end }) => startServer(initial.subarray(start, end), { rule: 'staleness' })))
  for (const compression of ['none', 'float16'] as const) {
    const one = [await connectClient([whole], { compression, workerId: 1 }), await connectClient([whole], { compression, workerId: 2 })]
    const two = [await connectClient(shards, { compression, ranges, workerId: 1 }), await connectClient(shards, { compression, ranges, workerId: 2 })]
    assert.deepEqual(two[0].ranges, ranges)
    for (let step = 0; step < 6; step++) {
      const delta = Float32Array.from({ length: n }, (_, i) => Math.cos(i + step) * 0.01)
      const worker = step % 2
      // The same interleaving of pulls and commits on both deployments: equal staleness, equal centers.
      const [single, sharded] = step % 3 === 0 ? [await one[worker].commitPull(delta), await two[worker].commitPull(delta)] : [await one[worker].commit(delta), await two[worker].commit(delta)]
      assert.equal(single.updates, sharded.updates)
      assert.deepEqual(sharded.serverUpdates, [single.updates, single.updates])
    }
    assert.deepEqual((await two[1].pull()).center, (await one[1].pull()).center, `${compression}: sharded equals single`)
  }
  const [statsA, statsB] = await (await connectClient(shards, { ranges })).stats()
  assert.deepEqual([statsA.parameters, statsB.parameters], [301, 700])
  await rejectsWith(connectClient(shards, { ranges: [ranges[1], ranges[0]] }), 'PS_BAD_SPLIT', ['range 0 starts at 301; expected 0'])
  await rejectsWith(connectClient(shards, { ranges: splitParameters(n, 2) }), 'PS_SHARD_MISMATCH', [shards[0].address, 'holds 301 values; its range [0, 500) has 500'])
})

test('a pull never sees a half-applied commit, even while its bytes are still being sent', async () => {
  const n = 1_000_000
  const server = await startServer(new Float32Array(n))
  const puller = await connectClient([server], { workerId: 1 })
  const committer = await connectClient([server], { workerId: 2 })
  const ones = new Float32Array(n).fill(1)
  let committing = true
  const commits = (async () => {
    for (let i = 0; i < 30; i++) await committer.commit(ones)
    committing = false
  })()
  let pulls = 0
  while (committing || pulls < 5) {
    // Pipelined pulls keep sends in flight while commits arrive.
    const results = await Promise.all([puller.pull(), puller.pull()])
    for (const { center, updates } of results) {
      assert.equal(center[0], updates, 'every value counts the commits the counter says')
      assert.equal(center.indexOf(updates + 1), -1)
      assert.ok(center.every((value) => value === updates), `torn center at update ${updates}`)
    }
    pulls += 2
  }
  await commits
})

/** A hand-driven connection for frames the client never sends; `frames` collects what the server answers. */
async function rawConnection(server: ParameterServer): Promise<{ socket: Socket; next(): Promise<{ header: FrameHeader; payload: Uint8Array }> }> {
  const socket = connect({ host: '127.0.0.1', port: server.port })
  const queue: { header: FrameHeader; payload: Uint8Array }[] = []
  let wake: (() => void) | undefined
  const reader = new FrameReader({ peer: 'server', maxPayloadBytes: () => 1 << 30, onFrame: (header, payload) => (queue.push({ header, payload: payload.slice() }), wake?.()) })
  socket.on('data', (chunk: Buffer) => reader.push(chunk))
  const next = async (): Promise<{ header: FrameHeader; payload: Uint8Array }> => {
    while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve))
    return queue.shift() as { header: FrameHeader; payload: Uint8Array }
  }
  return { socket, next }
}

test('a refused request gets an error frame and the connection stays usable; a protocol violation closes it', async () => {
  const server = await startServer(Float32Array.of(1, 2), { rule: 'staleness' })
  const { socket, next } = await rawConnection(server)
  const hello = await next()
  writeFrame(socket, { op: Op.AUTH, encoding: Encoding.BYTES, workerId: 5, counter: 0 }, [proofOf(Buffer.from(secret), hello.payload)])
  assert.equal((await next()).header.op, Op.WELCOME)
  writeFrame(socket, { op: Op.COMMIT, encoding: Encoding.FLOAT32, workerId: 5, counter: 0 }, [new Uint8Array(4)])
  const wrongLength = await next()
  assert.equal(wrongLength.header.op, Op.ERROR)
  assert.deepEqual(decodeError(wrongLength.payload).code, 'PS_BAD_COMMIT')
  assert.match(decodeError(wrongLength.payload).message, /COMMIT from worker 5 at .* refused: a float32 commit must carry 8 bytes \(2 values\); received 4/)
  writeFrame(socket, { op: Op.COMMIT, encoding: Encoding.FLOAT32, workerId: 5, counter: 7 }, [new Uint8Array(8)])
  assert.equal(decodeError((await next()).payload).code, 'PS_BAD_COUNTER')
  writeFrame(socket, { op: Op.PULL, encoding: Encoding.BYTES, workerId: 5, counter: 0 })
  const center = await next()
  assert.deepEqual([center.header.op, Array.from(new Float32Array(center.payload.slice().buffer))], [Op.CENTER, [1, 2]])
  writeFrame(socket, { op: Op.WELCOME, encoding: Encoding.BYTES, workerId: 5, counter: 0 })
  assert.equal(decodeError((await next()).payload).code, 'PS_PROTOCOL')
  await once(socket, 'close')
  assert.equal(server.updates, 0)
})

test('close frees the port at once and fails the clients\' calls; a closed client frees everything', async () => {
  const server = await startServer(new Float32Array(1000))
  const client = await connectClient([server])
  const pending = client.pull()
  await server.close()
  await rejectsWith(pending, 'PS_CONNECTION_LOST', [server.address])
  await rejectsWith(client.pull(), 'PS_CONNECTION_LOST', ['has the server stopped or died?'])
  const reuse = createServer()
  reuse.listen(server.port, '127.0.0.1')
  await once(reuse, 'listening')
  reuse.close()
  const again = await startServer(new Float32Array(10))
  const second = await connectClient([again])
  await second.close()
  await rejectsWith(second.commit(new Float32Array(10)), 'PS_CLIENT_CLOSED', [again.address])
  const deadline = Date.now() + 2000
  while (again.stats().connections > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(again.stats().connections, 0, 'the server saw the client go')
  await rejectsWith(connectClient([server]), 'PS_CONNECT_FAILED', [server.address, 'ECONNREFUSED'])
})

test('a silent or oversized peer is dropped; a client facing a silent server times out', async () => {
  const server = await startServer(Float32Array.of(1), { handshakeTimeoutMs: 100 })
  const silent = await rawConnection(server)
  assert.equal((await silent.next()).header.op, Op.HELLO)
  const timedOut = await silent.next()
  assert.deepEqual([timedOut.header.op, decodeError(timedOut.payload).code], [Op.ERROR, 'PS_HANDSHAKE_TIMEOUT'])
  await once(silent.socket, 'close')
  const big = await rawConnection(server)
  await big.next()
  writeFrame(big.socket, { op: Op.AUTH, encoding: Encoding.BYTES, workerId: 1, counter: 0 }, [new Uint8Array(1000)])
  const tooLarge = decodeError((await big.next()).payload)
  assert.equal(tooLarge.code, 'PS_FRAME_TOO_LARGE')
  assert.match(tooLarge.message, /AUTH frame from .* announces 1000 payload bytes; at most 32/)
  assert.equal(server.stats().refused, 2)

  const mute = createServer(() => undefined)
  mute.listen(0, '127.0.0.1')
  await once(mute, 'listening')
  const address = `127.0.0.1:${(mute.address() as { port: number }).port}`
  const started = Date.now()
  await rejectsWith(ParameterClient.connect({ servers: [address], secret, workerId: 1, connectTimeoutMs: 200 }), 'PS_TIMEOUT', [address, 'within 200 ms'])
  assert.ok(Date.now() - started < 2000)
  mute.close()
  mute.unref()
  await rejectsWith(ParameterClient.connect({ servers: [server.address, 'no-port'], secret, workerId: 1 }), 'PS_BAD_OPTION', ['"no-port" must be "host:port"'])
  assert.equal(server.stats().connections, 0, 'no connection was opened to the good address')
})
