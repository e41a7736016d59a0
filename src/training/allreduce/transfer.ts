// Moves the bytes of the queued collectives over a rank's two connections: writes every segment
// whose data is final (in stream order, overlapping one collective's tail with the next one's
// start), hands the receiver the place for the next incoming bytes, applies the arithmetic, and
// settles collectives in issue order. Faults are the ring's business (ring.ts).
import type { Socket } from 'node:net'
import { segmentArithmetic, type SegmentArithmetic } from './arithmetic.js'
import { Collective, type ReduceOp } from './collective.js'
import { ringSchedule, type ReceiveItem, type RingSchedule } from './schedule.js'
import type { ReceiveTarget, StreamReceiver } from './receiver.js'

/** What the transfer tells its ring. */
export interface TransferEvents {
  /** Bytes arrived or a write completed: the stall watchdog's sign of life. */
  progress(): void
  /** The upstream rank's header does not match the collective expected here. */
  mismatch(message: string): void
}

export class RingTransfer {
  private issued = 0
  /** Issued and not settled, in issue order (they settle in that order). */
  private readonly pending: Collective[] = []
  private readonly toSend: Collective[] = []
  private readonly toReceive: Collective[] = []
  private readonly arithmetic: SegmentArithmetic
  /** The collective of each write handed to the socket and not yet called back, in write order. */
  private readonly writing: Collective[] = []
  private readonly target: ReceiveTarget = { bytes: new Uint8Array(0), filled: () => this.onTargetFilled() }
  /** Plans by buffer length: a trainer all-reduces the same few lengths every step. */
  private readonly schedules = new Map<number, RingSchedule>()
  private stopped = false

  constructor(
    private readonly rank: number,
    private readonly size: number,
    private readonly upstreamRank: number,
    private readonly receiver: StreamReceiver,
    private readonly downstream: Socket,
    private readonly segmentFloats: number,
    private readonly events: TransferEvents,
  ) {
    this.arithmetic = segmentArithmetic(segmentFloats)
    receiver.use(
      () => this.nextReceiveTarget(),
      () => events.progress(),
    )
  }

  /** Collectives issued and not settled. */
  get pendingCount(): number {
    return this.pending.length
  }

  /** Sequence number of the oldest pending collective (for messages). */
  get oldestPendingSeq(): number | undefined {
    return this.pending[0]?.seq
  }

  /** True while a pending collective still expects bytes from upstream. */
  get awaitingUpstream(): boolean {
    return this.toReceive.length > 0
  }

  /** True when every byte of every pending collective has been handed to the kernel: downstream needs nothing more. */
  get allDelivered(): boolean {
    return this.toSend.length === 0 && this.pending.every((collective) => collective.unflushedWrites === 0)
  }

  /** Queues an all-reduce of `data` and starts it; resolves with `data` once done. */
  issue(data: Float32Array, op: ReduceOp): Promise<Float32Array> {
    return new Promise<Float32Array>((resolve, reject) => {
      const collective = new Collective(this.issued++, data, op, this.size, this.scheduleFor(data.length), resolve, reject)
      this.pending.push(collective)
      this.toSend.push(collective)
      this.toReceive.push(collective)
      this.pump()
      this.receiver.wake()
    })
  }

  private scheduleFor(length: number): RingSchedule {
    let schedule = this.schedules.get(length)
    if (schedule === undefined) {
      if (this.schedules.size >= 64) this.schedules.clear() // Many distinct lengths: keep the cache small.
      schedule = ringSchedule(length, this.size, this.rank, this.segmentFloats)
      this.schedules.set(length, schedule)
    }
    return schedule
  }

  /** Stops all transfer and rejects every pending collective with `error`; nothing touches user buffers after this. */
  stop(error: Error): void {
    this.stopped = true
    this.receiver.stop()
    const rejected = this.pending.splice(0)
    this.toSend.length = 0
    this.toReceive.length = 0
    for (const collective of rejected) collective.reject(error)
  }

  /**
   * The place for the next incoming bytes: the next collective's header, or its next segment. One
   * target object serves every segment (the receiver fills one at a time): a segment costs no
   * allocation besides its byte view.
   */
  private nextReceiveTarget(): ReceiveTarget | undefined {
    const collective = this.toReceive[0]
    if (collective === undefined || this.stopped) return undefined
    const target = this.target
    if (!collective.headerReceived) {
      target.bytes = collective.headerIn
      return target
    }
    const item = collective.nextReceive()
    if (item === undefined) return undefined
    const scratch = this.arithmetic.scratch
    // All-gather segments land in the user's buffer itself; reduce-scatter ones beside it, to be added.
    target.bytes = item.mode === 'copy' ? collective.bytesOf(item) : new Uint8Array(scratch.buffer, scratch.byteOffset, item.length * 4)
    return target
  }

  /** The current target is full: check the header, or apply the segment, then forward and settle. */
  private onTargetFilled(): void {
    const collective = this.toReceive[0]
    if (collective === undefined) return
    if (collective.headerReceived) {
      collective.applyReceive(collective.nextReceive() as ReceiveItem, this.arithmetic) // The item nextReceiveTarget handed out.
    } else {
      collective.headerReceived = true
      const mismatch = collective.headerMismatch(this.upstreamRank)
      if (mismatch !== undefined) return this.events.mismatch(mismatch)
    }
    this.afterReceive(collective)
  }

  private afterReceive(collective: Collective): void {
    if (collective.fullyReceived && this.toReceive[0] === collective) this.toReceive.shift()
    this.pump()
    this.settle()
  }

  /** Writes every send whose data is final, in stream order, across queued collectives. */
  private pump(): void {
    if (this.stopped) return
    const socket = this.downstream
    socket.cork() // The header and the first segments leave in one writev.
    try {
      while (this.toSend.length > 0) {
        const collective = this.toSend[0]
        if (!collective.headerSent) {
          collective.headerSent = true
          this.write(collective, collective.headerOut)
        }
        // Ready segments that sit side by side in the buffer (a chunk's) leave as one write.
        while (collective.nextSendReady()) {
          const sends = collective.schedule.sends
          const first = sends[collective.sent++]
          let end = first.offset + first.length
          while (collective.nextSendReady() && sends[collective.sent].offset === end) end += sends[collective.sent++].length
          this.write(collective, collective.bytesOf({ offset: first.offset, length: end - first.offset }))
        }
        if (!collective.fullySent) break
        this.toSend.shift()
      }
    } finally {
      socket.uncork()
    }
  }

  /** Sends a view of the user's buffer: the socket keeps a reference, not a copy, until the callback. */
  private write(collective: Collective, bytes: Uint8Array): void {
    collective.unflushedWrites++
    this.writing.push(collective)
    this.downstream.write(bytes, this.onWritten)
  }

  /** A write's callback (they run in write order): its collective's memory is no longer read. */
  private readonly onWritten = (error?: Error | null): void => {
    const collective = this.writing.shift()
    if (collective !== undefined) collective.unflushedWrites--
    if (error !== undefined && error !== null) return // The socket's 'error' event fails the ring.
    this.events.progress()
    this.settle()
  }

  /** Resolves the collectives that are done, oldest first. */
  private settle(): void {
    while (this.pending.length > 0 && this.pending[0].done) {
      const collective = this.pending.shift() as Collective // Non-empty: checked just above.
      collective.resolve(collective.data)
    }
  }
}
