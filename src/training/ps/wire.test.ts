// The frame format: header round trip, frames cut at every byte or packed several per chunk, a
// 1M-parameter payload over a real loopback socket (many TCP chunks, copied once into its
// destination), the size limit, and error frames.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { MaltError } from '../../errors.js'
import { Encoding, FrameReader, HEADER_BYTES, Op, decodeError, decodeHeader, encodeError, encodeHeader, wireBytes, writeFrame, type FrameHeader } from './wire.js'

interface Received {
  header: FrameHeader
  payload: Uint8Array
}

function collectingReader(maxPayloadBytes = 1 << 30, destinationFor?: (header: FrameHeader) => Uint8Array | undefined): { reader: FrameReader; frames: Received[] } {
  const frames: Received[] = []
  const reader = new FrameReader({
    peer: 'test',
    maxPayloadBytes: () => maxPayloadBytes,
    destinationFor,
    onFrame: (header, payload) => frames.push({ header, payload: payload.slice() }),
  })
  return { reader, frames }
}

function frameBytes(op: number, counter: number, payload: Uint8Array): Buffer {
  return Buffer.concat([encodeHeader({ payloadBytes: payload.byteLength, op, encoding: Encoding.BYTES, workerId: 7, counter }), payload])
}

test('a header round-trips, counters above 2^32 included', () => {
  const header = { payloadBytes: 123456, op: Op.COMMIT, encoding: Encoding.FLOAT16, workerId: 0xfffffffe, counter: 2 ** 40 + 12345 }
  const bytes = encodeHeader(header)
  assert.equal(bytes.length, HEADER_BYTES)
  assert.deepEqual(decodeHeader(bytes), header)
  assert.equal(bytes.readUInt32LE(0), 123456, 'the length comes first, little-endian')
})

test('frames cut at every byte, and several in one chunk, come out whole and in order', () => {
  const payloads = [new Uint8Array(0), Uint8Array.from({ length: 37 }, (_, i) => i), Uint8Array.from({ length: 5 }, (_, i) => 200 + i)]
  const stream = Buffer.concat(payloads.map((payload, i) => frameBytes(Op.PULL + i, i * 1000, payload)))
  const byByte = collectingReader()
  for (const byte of stream) byByte.reader.push(Uint8Array.of(byte))
  const atOnce = collectingReader()
  atOnce.reader.push(stream)
  for (const { frames } of [byByte, atOnce]) {
    assert.equal(frames.length, 3)
    frames.forEach((frame, i) => {
      assert.equal(frame.header.op, Op.PULL + i)
      assert.equal(frame.header.counter, i * 1000)
      assert.equal(frame.header.workerId, 7)
      assert.deepEqual(frame.payload, payloads[i])
    })
  }
  const half = collectingReader()
  half.reader.push(stream.subarray(0, stream.length - 2))
  assert.equal(half.frames.length, 2, 'a frame missing its last bytes is not delivered')
  assert.ok(half.reader.pendingBytes > 0)
})

test('a 1M-parameter payload crosses a real socket in many chunks and lands in its destination', async () => {
  const n = 1_000_000
  const sent = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1000)
  const destination = new Float32Array(n)
  const destinationBytes = new Uint8Array(destination.buffer)
  let chunks = 0
  const frames: Received[] = []
  const server = createServer({ noDelay: true })
  const arrived = new Promise<void>((resolve) => {
    server.on('connection', (socket: Socket) => {
      const reader = new FrameReader({
        peer: 'test',
        maxPayloadBytes: () => n * 4,
        destinationFor: (header) => (header.op === Op.CENTER ? destinationBytes : undefined),
        onFrame: (header, payload) => {
          frames.push({ header, payload })
          if (frames.length === 2) resolve()
        },
      })
      socket.on('data', (chunk: Buffer) => {
        chunks++
        reader.push(chunk)
      })
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const client = connect({ host: '127.0.0.1', port, noDelay: true })
  await once(client, 'connect')
  let written = false
  const bytes = writeFrame(client, { op: Op.CENTER, encoding: Encoding.FLOAT32, workerId: 3, counter: 42 }, [wireBytes(sent)], () => (written = true))
  writeFrame(client, { op: Op.STATS, encoding: Encoding.BYTES, workerId: 3, counter: 43 })
  assert.equal(bytes, HEADER_BYTES + n * 4)
  await arrived
  client.destroy()
  server.close()
  assert.ok(written, 'the write callback ran')
  assert.ok(chunks > 10, `expected many TCP chunks, got ${chunks}`)
  assert.equal(frames[0].payload, destinationBytes, 'the payload was copied straight into the destination')
  assert.deepEqual(destination, sent)
  assert.deepEqual([frames[0].header.counter, frames[1].header.op, frames[1].payload.length], [42, Op.STATS, 0])
})

test('a frame over the limit is refused as soon as its header is read', () => {
  const { reader } = collectingReader(100)
  assert.throws(
    () => reader.push(encodeHeader({ payloadBytes: 101, op: Op.COMMIT, encoding: Encoding.FLOAT32, workerId: 1, counter: 0 })),
    (error: unknown) => error instanceof MaltError && error.code === 'PS_FRAME_TOO_LARGE' && /COMMIT frame from test announces 101 payload bytes; at most 100/.test(error.message),
  )
})

test('an error frame carries a code and a UTF-8 message', () => {
  assert.deepEqual(decodeError(encodeError('PS_AUTH_FAILED', 'wrong secret — “refused”')), { code: 'PS_AUTH_FAILED', message: 'wrong secret — “refused”' })
  assert.deepEqual(decodeError(new Uint8Array(0)), { code: 'PS_REMOTE_ERROR', message: '' })
})
