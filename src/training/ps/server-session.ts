// One worker's connection to a parameter server: the handshake, then requests answered in order.
// A connection that breaks mid-frame (a killed worker) loses only that frame: commits are applied
// when their last byte has arrived, never before.
import type { Socket } from 'node:net'
import { MaltError } from '../../errors.js'
import { isValidProof, newNonce, PROOF_BYTES } from './auth.js'
import type { CenterState } from './center.js'
import { encodeStats, encodeWelcome, type ParameterServerStats } from './types.js'
import { Encoding, FrameReader, Op, encodeError, opName, writeFrame, type FrameHeader } from './wire.js'

/** What a session needs from its server. */
export interface SessionHost {
  readonly center: CenterState
  readonly secret: Buffer
  readonly handshakeTimeoutMs: number
  stats(): ParameterServerStats
  /** A connection was refused (wrong secret, protocol error, time-out). */
  onRefused(): void
}

/** How long a refused peer gets to read the ERROR frame before its socket is destroyed. */
const REFUSAL_GRACE_MS = 1000

/** Serves one accepted socket until it closes. */
export function serveConnection(socket: Socket, host: SessionHost): void {
  const { center } = host
  socket.setNoDelay(true)
  socket.setKeepAlive(true, 10_000)
  const address = `${socket.remoteAddress}:${socket.remotePort}`
  let workerId: number | undefined
  let closing = false

  const send = (op: number, encoding: number, counter: number, parts: Uint8Array[] = [], onWritten?: () => void): void => {
    center.bytesOut += writeFrame(socket, { op, encoding, workerId: 0, counter }, parts, onWritten)
  }
  const sendError = (code: string, message: string): void => send(Op.ERROR, Encoding.BYTES, center.updates, [encodeError(code, message)])
  const refuse = (code: string, message: string): void => {
    if (closing) return
    closing = true
    host.onRefused()
    sendError(code, message)
    socket.end()
    setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS).unref()
  }
  const sendCenter = (): void => {
    const lent = center.lend()
    send(Op.CENTER, Encoding.FLOAT32, center.updates, [lent.bytes], lent.release)
  }
  const describePeer = (): string => (workerId === undefined ? `a client at ${address}` : `worker ${workerId} at ${address}`)

  const nonce = newNonce()
  const handshakeTimer = setTimeout(
    () => refuse('PS_HANDSHAKE_TIMEOUT', `no AUTH frame within ${host.handshakeTimeoutMs} ms of connecting`),
    host.handshakeTimeoutMs,
  )
  handshakeTimer.unref()

  const authenticate = (header: FrameHeader, payload: Uint8Array): void => {
    if (header.op !== Op.AUTH) return refuse('PS_PROTOCOL', `expected an AUTH frame first; received ${opName(header.op)}`)
    clearTimeout(handshakeTimer)
    if (!isValidProof(host.secret, nonce, payload)) {
      return refuse('PS_AUTH_FAILED', `worker ${header.workerId} at ${address} did not prove the run's secret (wrong secret?)`)
    }
    workerId = header.workerId
    send(Op.WELCOME, Encoding.BYTES, center.updates, [encodeWelcome(center.length, center.rule)])
  }

  const commit = (header: FrameHeader, payload: Uint8Array): boolean => {
    try {
      center.commit(header.encoding, payload, header.counter)
      return true
    } catch (error) {
      if (!(error instanceof MaltError)) throw error
      // The frame was read whole, so the stream is still in step: refuse this commit, keep the worker.
      sendError(error.code, `${opName(header.op)} from ${describePeer()} refused: ${error.message}`)
      return false
    }
  }

  const onFrame = (header: FrameHeader, payload: Uint8Array): void => {
    if (closing) return // frames behind a refused one in the same chunk
    if (workerId === undefined) return authenticate(header, payload)
    switch (header.op) {
      case Op.PULL:
        return sendCenter()
      case Op.COMMIT:
        if (commit(header, payload)) send(Op.COMMITTED, Encoding.BYTES, center.updates)
        return
      case Op.COMMIT_PULL:
        if (commit(header, payload)) sendCenter()
        return
      case Op.STATS:
        return send(Op.STATS_REPLY, Encoding.BYTES, center.updates, [encodeStats(host.stats())])
      default:
        return refuse('PS_PROTOCOL', `${describePeer()} sent ${opName(header.op)}, which is not a request`)
    }
  }

  const reader = new FrameReader({
    peer: address,
    // Before AUTH only the proof is accepted; after, the largest commit (top-k of every value, 8 bytes each).
    maxPayloadBytes: () => (workerId === undefined ? PROOF_BYTES : Math.max(8 * center.length, 64)),
    onFrame,
  })

  socket.on('data', (chunk: Buffer) => {
    if (closing) return
    center.bytesIn += chunk.length
    try {
      reader.push(chunk)
    } catch (error) {
      if (error instanceof MaltError) refuse(error.code, error.message)
      else refuse('PS_INTERNAL', `the server failed on a frame from ${describePeer()}: ${String(error)}`)
    }
  })
  // A worker that dies resets its connection: nothing to report, its unfinished frame is dropped.
  socket.on('error', () => undefined)
  socket.on('close', () => clearTimeout(handshakeTimer))
  send(Op.HELLO, Encoding.BYTES, 0, [nonce])
}
