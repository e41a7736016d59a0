// The errors of the ring all-reduce. A lost peer gets its own class so a trainer can read the
// rank that went away and re-form a smaller ring; the other failures are plain MaltErrors.
import { MaltError, type MaltErrorOptions } from '../../errors.js'

/**
 * The codes the ring raises:
 * - `RING_PEER_LOST` ({@link RingPeerLostError}): a peer's connection closed or reset, or it sent
 *   nothing for `peerTimeoutMs` while a collective was pending. Every pending and later
 *   collective of that ring rejects with it; close the ring and form a new one.
 * - `RING_MISMATCH`: the ranks issued different collectives (length or op) at the same position.
 * - `RING_AUTH_FAILED`: a peer failed the shared-secret handshake (or refused ours).
 * - `RING_TIMEOUT`: the ring did not form within `connectTimeoutMs`.
 * - `RING_CLOSED`: a collective was issued on a ring that was closed.
 * - `RING_WORKER_ENDED`: (driver side) a worker task ended before it reported its ring address.
 * - `RING_BAD_OPTION`, `RING_BAD_ARGUMENT`, `RING_BAD_MESSAGE`: invalid options, inputs or rendezvous messages.
 */
export type RingErrorCode =
  | 'RING_PEER_LOST'
  | 'RING_MISMATCH'
  | 'RING_AUTH_FAILED'
  | 'RING_TIMEOUT'
  | 'RING_CLOSED'
  | 'RING_WORKER_ENDED'
  | 'RING_BAD_OPTION'
  | 'RING_BAD_ARGUMENT'
  | 'RING_BAD_MESSAGE'

/** Creates a MaltError with one of the ring's codes. */
export function ringError(code: RingErrorCode, message: string, options?: MaltErrorOptions): MaltError {
  return new MaltError(code, message, options)
}

/** A peer of the ring is gone (`code` `RING_PEER_LOST`); `peerRank` says which, in the ring that failed. */
export class RingPeerLostError extends MaltError {
  constructor(
    /** The rank (in the failed ring) that died, closed or stalled. */
    readonly peerRank: number,
    message: string,
    options?: MaltErrorOptions,
  ) {
    super('RING_PEER_LOST', message, options)
    this.name = 'RingPeerLostError'
  }
}
