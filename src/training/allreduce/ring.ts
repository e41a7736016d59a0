// A formed ring: this rank's all-reduce API, and the detection of lost and stalled peers.
//
// Data flows from each rank to rank − 1: this rank reads from rank + 1 (upstream, the connection
// it opened) and writes to rank − 1 (downstream, the connection it accepted); transfer.ts moves
// it. Control frames (control.ts) flow the other way. A rank that fails sends an abort upstream
// and every rank relays it, so the whole ring learns which rank was lost, neighbours or not.
// A rank that waits too long asks upstream who is stuck; the question travels upstream until
// it reaches a rank that is not waiting itself, which declares itself the stalled one.
import type { Socket } from 'node:net'
import { describeValue, type MaltError } from '../../errors.js'
import { MAX_FLOATS, type ReduceOp } from './collective.js'
import { ControlReader, linger, sendFrame, type ControlFrame } from './control.js'
import { RingPeerLostError, ringError } from './errors.js'
import type { StreamReceiver } from './receiver.js'
import { RingTransfer } from './transfer.js'

/** Options of {@link AllReduceRing.allReduce}. */
export interface AllReduceOptions {
  /** `sum`, or `mean` (sum ÷ ring size). @defaultValue 'sum' */
  op?: ReduceOp
}

/** A neighbour's connection as the listener hands it over. */
export interface RingLink {
  socket: Socket
  rank: number
  /** `host:port`, for messages. */
  address: string
}

/** The two connections of a rank in a ring of two or more. */
export interface RingLinks {
  /** To rank + 1: data comes in (read by `receiver`), control frames go out. */
  upstream: RingLink & { receiver: StreamReceiver }
  /** From rank − 1: data goes out, control frames come in (`controlBytes`: any already read). */
  downstream: RingLink & { controlBytes: Uint8Array }
}

/** Timing and transfer settings, validated by the listener. */
export interface RingTuning {
  segmentBytes: number
  peerTimeoutMs: number
  /** How long an upstream that closed gets for an abort to arrive that names the rank really lost. */
  lossGraceMs: number
}

/**
 * This rank's place in a formed ring; made by {@link RingListener.join}. Collectives run in issue
 * order, each overlapping the previous one's tail. Rule: every rank must issue the same
 * collectives (same lengths and ops) in the same order — the ranks compare a header per
 * collective and fail with `RING_MISMATCH` when they differ. After a failure every pending and
 * later collective rejects with the failure (`RING_PEER_LOST` names the rank lost); close the
 * ring and form a new one.
 */
export class AllReduceRing {
  private state: 'open' | 'failed' | 'closed' = 'open'
  private failed: MaltError | undefined
  private readonly transfer: RingTransfer | undefined
  private lastProgressAt = 0
  private watchdog: NodeJS.Timeout | undefined
  /** Runs out when a stall question sent upstream got no verdict. */
  private stallTimer: NodeJS.Timeout | undefined
  private stallAsked = false
  /** Runs out when an upstream that closed mid-collective was followed by no abort naming another rank. */
  private lossTimer: NodeJS.Timeout | undefined
  private closing: Promise<void> | undefined
  private upstreamGone = false
  private downstreamGone = false
  /**
   * A neighbour that left after doing its part (its last collective done): nothing pending needs
   * it, so nothing fails yet, but the next collective would; it rejects with this.
   */
  private departed: RingPeerLostError | undefined

  /** @internal Use {@link RingListener.join}. `links` is undefined for a ring of one. */
  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly links: RingLinks | undefined,
    private readonly tuning: RingTuning,
  ) {
    if (links === undefined) return
    const { upstream, downstream } = links
    this.transfer = new RingTransfer(rank, size, upstream.rank, upstream.receiver, downstream.socket, tuning.segmentBytes / 4, {
      progress: () => {
        this.lastProgressAt = Date.now()
      },
      mismatch: (message) => this.fail(ringError('RING_MISMATCH', message)),
    })
    this.attach(links)
  }

  /** The error that failed the ring, if it failed. */
  get failure(): MaltError | undefined {
    return this.failed
  }

  /**
   * Replaces `data` on every rank, in place, with the element-wise sum (or mean) over the ranks;
   * resolves with `data` once it holds the result and nothing of it is still being sent. Do not
   * touch `data` until then. Any length works, 0 included; a ring of one resolves at once.
   */
  allReduce(data: Float32Array, options: AllReduceOptions = {}): Promise<Float32Array> {
    const op = options.op ?? 'sum'
    if (!(data instanceof Float32Array)) {
      return Promise.reject(ringError('RING_BAD_ARGUMENT', `allReduce expects a Float32Array; received ${describeValue(data)}`))
    }
    if (op !== 'sum' && op !== 'mean') {
      return Promise.reject(ringError('RING_BAD_ARGUMENT', `allReduce option "op" must be "sum" or "mean"; received ${describeValue(op)}`))
    }
    if (data.length > MAX_FLOATS) {
      return Promise.reject(ringError('RING_BAD_ARGUMENT', `allReduce takes at most ${MAX_FLOATS} floats; received ${data.length}`))
    }
    if (this.state === 'closed') {
      return Promise.reject(ringError('RING_CLOSED', `Rank ${this.rank} cannot all-reduce: its ring was closed; form a new ring`))
    }
    if (this.departed !== undefined) this.fail(this.departed)
    if (this.failed !== undefined) return Promise.reject(this.failed)
    const transfer = this.transfer
    if (transfer === undefined) return Promise.resolve(data) // One rank: its values are the sum and the mean.
    if (transfer.pendingCount === 0) this.lastProgressAt = Date.now() // Idle time before the call is no stall.
    this.startWatchdog()
    return transfer.issue(data, op)
  }

  /**
   * Leaves the ring at once: pending collectives reject with `RING_CLOSED`, nothing more is read
   * or sent, and the neighbours are told. The connections are half-closed rather than reset, so
   * the frames already sent (this rank's abort, naming the rank it lost) reach the neighbours;
   * they are destroyed within a second, and never keep the process alive.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.state === 'open' && this.links !== undefined) sendFrame(this.links.upstream.socket, { type: 'bye' })
      this.state = 'closed'
      this.stopTimers()
      this.transfer?.stop(ringError('RING_CLOSED', `Rank ${this.rank} closed its ring while a collective was pending`))
      if (this.links !== undefined) for (const link of [this.links.upstream, this.links.downstream]) linger(link.socket)
    })()
    return this.closing
  }

  private attach({ upstream, downstream }: RingLinks): void {
    upstream.socket.on('end', () => this.upstreamLost('closed its connection'))
    upstream.socket.on('close', () => this.upstreamLost('closed its connection'))
    upstream.socket.on('error', (error: NodeJS.ErrnoException) => this.upstreamLost(`broke the connection (${error.code ?? error.message})`))
    const control = new ControlReader((frame) => this.onControlFrame(frame))
    downstream.socket.on('data', (bytes: Buffer) => control.push(bytes))
    downstream.socket.on('end', () => this.downstreamLost('closed its connection'))
    downstream.socket.on('close', () => this.downstreamLost('closed its connection'))
    downstream.socket.on('error', (error: NodeJS.ErrnoException) => this.downstreamLost(`broke the connection (${error.code ?? error.message})`))
    if (downstream.controlBytes.length > 0) control.push(downstream.controlBytes)
    downstream.socket.resume() // The listener paused it until these listeners were in place.
    // A neighbour may have gone between its handshake and now, before these listeners existed.
    if (downstream.socket.destroyed) this.downstreamLost('closed its connection')
    if (upstream.socket.destroyed || upstream.socket.readableEnded) this.upstreamLost('closed its connection')
  }

  private lostError(peer: RingLink, detail: string): RingPeerLostError {
    return new RingPeerLostError(
      peer.rank,
      `Rank ${peer.rank} (${peer.address}) of the ring of ${this.size} ${detail} to rank ${this.rank}: its process died or left the ring`,
    )
  }

  /**
   * The upstream neighbour closed. If nothing more is expected from it, it finished its part: only
   * a later collective fails. Otherwise it died, or failed because another rank died and closed:
   * wait briefly for an abort from downstream that names the rank really lost, then fail.
   */
  private upstreamLost(detail: string): void {
    if (this.state !== 'open' || this.upstreamGone || this.links === undefined) return
    this.upstreamGone = true
    this.links.upstream.receiver.stop()
    const error = this.lostError(this.links.upstream, detail)
    if (this.transfer?.awaitingUpstream !== true) this.departed ??= error
    else this.lossTimer = setTimeout(() => this.fail(error), this.tuning.lossGraceMs)
  }

  /** The downstream neighbour closed: a failure if any of our data has not reached it, else a departure. */
  private downstreamLost(detail: string): void {
    if (this.state !== 'open' || this.downstreamGone || this.links === undefined) return
    this.downstreamGone = true
    const error = this.lostError(this.links.downstream, detail)
    if (this.transfer?.allDelivered !== false) this.departed ??= error
    else this.fail(error)
  }

  private startWatchdog(): void {
    if (this.watchdog !== undefined) return
    const everyMs = Math.max(10, Math.min(1000, this.tuning.peerTimeoutMs / 4))
    this.watchdog = setInterval(() => this.checkStall(), everyMs)
    this.watchdog.unref() // Pending promises keep nobody alive; neither should this timer.
  }

  private checkStall(): void {
    const { links, transfer } = this
    if (links === undefined || transfer === undefined || this.state !== 'open') return
    if (transfer.pendingCount === 0) {
      this.stallAsked = false
      return this.stopWatchdog()
    }
    const quietMs = Date.now() - this.lastProgressAt
    if (quietMs < this.tuning.peerTimeoutMs && this.stallAsked) {
      // Bytes flow again: whatever was slow caught up before anyone declared itself stuck.
      this.stallAsked = false
      clearTimeout(this.stallTimer)
    }
    if (quietMs < this.tuning.peerTimeoutMs || this.stallAsked) return
    const seq = transfer.oldestPendingSeq ?? 0
    if (!transfer.awaitingUpstream) {
      // Everything arrived, but downstream does not take our bytes.
      return this.fail(new RingPeerLostError(links.downstream.rank, `Rank ${links.downstream.rank} (${links.downstream.address}) took none of rank ${this.rank}'s bytes for ${quietMs} ms (peerTimeoutMs ${this.tuning.peerTimeoutMs}) during all-reduce #${seq}`))
    }
    this.askUpstream(seq, quietMs)
  }

  /** Asks upstream who is stuck; if no verdict comes back in time, upstream is (hung, or cut off). */
  private askUpstream(seq: number, waitedMs: number): void {
    const upstream = this.links?.upstream
    if (upstream === undefined || this.stallAsked) return
    this.stallAsked = true
    sendFrame(upstream.socket, { type: 'stall', seq, from: this.rank, waitedMs })
    const answerMs = Math.min(this.tuning.peerTimeoutMs, 5000)
    clearTimeout(this.stallTimer)
    const unanswered = new RingPeerLostError(
        upstream.rank,
        `Rank ${this.rank} received nothing from rank ${upstream.rank} (${upstream.address}) for ${waitedMs} ms during all-reduce #${seq} ` +
        `(peerTimeoutMs ${this.tuning.peerTimeoutMs}), and rank ${upstream.rank} did not say within ${answerMs} ms which rank is stuck: it hangs or is cut off`,
    )
    this.stallTimer = setTimeout(() => this.fail(unanswered), answerMs)
  }

  /** A stalled rank downstream asks: pass the question on if this rank waits too, else this rank is the one stuck. */
  private onStallQuestion(question: Extract<ControlFrame, { type: 'stall' }>): void {
    if (this.state !== 'open' || this.transfer === undefined) return // A failed rank's abort is already on its way round.
    if (this.transfer.awaitingUpstream) return this.askUpstream(question.seq, question.waitedMs)
    const issued = this.transfer.pendingCount > 0 ? 'was stuck in' : 'has not issued'
    this.fail(
      new RingPeerLostError(
        this.rank,
        `Rank ${this.rank} ${issued} all-reduce #${question.seq} while rank ${question.from} waited ${question.waitedMs} ms for it ` +
          `(peerTimeoutMs ${this.tuning.peerTimeoutMs}): every rank must issue the same collectives, and none may lag that long`,
      ),
    )
  }

  private onControlFrame(frame: ControlFrame): void {
    const downstream = this.links?.downstream
    if (downstream === undefined) return
    if (frame.type === 'bye') return this.downstreamLost('closed the ring (bye)')
    if (frame.type === 'stall') return this.onStallQuestion(frame)
    const relayed = `${frame.message} [relayed to rank ${this.rank} by rank ${downstream.rank}]`
    if (frame.code === 'RING_MISMATCH') return this.fail(ringError('RING_MISMATCH', relayed))
    this.fail(new RingPeerLostError(frame.peerRank, relayed))
  }

  /** Fails the ring once: stops reading into user buffers, tells upstream, rejects every pending collective. */
  private fail(error: MaltError): void {
    if (this.state !== 'open') return
    this.state = 'failed'
    this.failed = error
    this.stopTimers()
    const upstream = this.links?.upstream.socket
    if (upstream !== undefined && error instanceof RingPeerLostError) {
      sendFrame(upstream, { type: 'abort', code: 'RING_PEER_LOST', peerRank: error.peerRank, message: error.message })
    } else if (upstream !== undefined) {
      sendFrame(upstream, { type: 'abort', code: 'RING_MISMATCH', message: error.message })
    }
    this.transfer?.stop(error)
  }

  private stopWatchdog(): void {
    clearInterval(this.watchdog)
    this.watchdog = undefined
  }

  private stopTimers(): void {
    this.stopWatchdog()
    clearTimeout(this.stallTimer)
    clearTimeout(this.lossTimer)
  }
}
