// Control frames: one JSON object a line on the otherwise idle direction of each connection,
// flowing from a rank to its upstream neighbour (against the data).
//
//   { type: 'abort', code: 'RING_PEER_LOST', peerRank, message }  the ring failed: rank peerRank is lost
//   { type: 'abort', code: 'RING_MISMATCH', message }              the ring failed: ranks issued different collectives
//   { type: 'stall', seq, from, waitedMs }                         rank `from` got nothing for waitedMs while waiting
//                                                                  for collective #seq: who is stuck?
//   { type: 'bye' }                                                 the sender closed the ring
import type { Socket } from 'node:net'

export type ControlFrame =
  | { type: 'abort'; code: 'RING_PEER_LOST'; peerRank: number; message: string }
  | { type: 'abort'; code: 'RING_MISMATCH'; message: string }
  | { type: 'stall'; seq: number; from: number; waitedMs: number }
  | { type: 'bye' }

function parseFrame(line: string): ControlFrame | undefined {
  let frame: Record<string, unknown>
  try {
    frame = JSON.parse(line) as Record<string, unknown> // Checked field by field below.
  } catch {
    return undefined // Ignored like an unknown frame: a newer peer may send frames this one does not know.
  }
  if (frame.type === 'bye') return { type: 'bye' }
  if (frame.type === 'stall' && [frame.seq, frame.from, frame.waitedMs].every(Number.isInteger)) {
    return { type: 'stall', seq: frame.seq as number, from: frame.from as number, waitedMs: frame.waitedMs as number }
  }
  if (frame.type !== 'abort' || typeof frame.message !== 'string') return undefined
  if (frame.code === 'RING_MISMATCH') return { type: 'abort', code: 'RING_MISMATCH', message: frame.message }
  if (frame.code === 'RING_PEER_LOST' && Number.isInteger(frame.peerRank)) {
    return { type: 'abort', code: 'RING_PEER_LOST', peerRank: frame.peerRank as number, message: frame.message }
  }
  return undefined
}

/** Splits the incoming control bytes into frames. */
export class ControlReader {
  private text = ''

  constructor(private readonly onFrame: (frame: ControlFrame) => void) {}

  push(bytes: Uint8Array): void {
    this.text += Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
    let newline: number
    while ((newline = this.text.indexOf('\n')) >= 0) {
      const frame = parseFrame(this.text.slice(0, newline))
      this.text = this.text.slice(newline + 1)
      if (frame !== undefined) this.onFrame(frame)
    }
  }
}

/** Writes a frame if the socket can still take it; a failed write is the socket's 'error' event's business. */
export function sendFrame(socket: Socket, frame: ControlFrame): void {
  if (socket.destroyed || !socket.writable) return
  socket.write(`${JSON.stringify(frame)}\n`, () => undefined)
}

/** How long a closed ring's connections may stay half-open for the last frames to be read. */
const LINGER_MS = 1000

/**
 * Ends `socket` gracefully and destroys it after LINGER_MS. Destroying at once could reset the
 * connection, and a neighbour whose write then fails never reads the abort frame sent before it.
 */
export function linger(socket: Socket): void {
  if (socket.destroyed) return
  socket.end()
  socket.unref()
  setTimeout(() => socket.destroy(), LINGER_MS).unref()
}
