// One all-reduce in flight on one rank: its transfer plan, how far its sends and receives have
// got, its 16-byte header (which lets ranks catch collectives issued in different orders) and
// the arithmetic applied to each received segment.
import type { SegmentArithmetic } from './arithmetic.js'
import type { FloatRange, ReceiveItem, RingSchedule } from './schedule.js'

/** How the ranks' values are combined: `sum`, or `mean` (the sum divided by the ring's size). */
export type ReduceOp = 'sum' | 'mean'

/** Header that opens every collective on the wire: magic, sequence number, length in floats, op. */
export const HEADER_BYTES = 16
const HEADER_MAGIC = 0x47524c4d // "MLRG" read little-endian.
const OP_CODES: Record<ReduceOp, number> = { sum: 0, mean: 1 }

/** The largest buffer one collective takes: its length travels as a u32. */
export const MAX_FLOATS = 0xffffffff

function encodeHeader(seq: number, length: number, op: ReduceOp): Uint8Array {
  const header = new Uint8Array(HEADER_BYTES)
  const view = new DataView(header.buffer)
  view.setUint32(0, HEADER_MAGIC, true)
  view.setUint32(4, seq >>> 0, true)
  view.setUint32(8, length, true)
  view.setUint8(12, OP_CODES[op])
  return header
}

/** What a header says, or undefined when the bytes are not one (the streams are out of step). */
function decodeHeader(header: Uint8Array): { seq: number; length: number; op: ReduceOp | undefined } | undefined {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  if (view.getUint32(0, true) !== HEADER_MAGIC) return undefined
  const opCode = view.getUint8(12)
  const op = (Object.keys(OP_CODES) as ReduceOp[]).find((name) => OP_CODES[name] === opCode)
  return { seq: view.getUint32(4, true), length: view.getUint32(8, true), op }
}


/** A collective issued on this rank, from issue to settlement. */
export class Collective {
  readonly headerOut: Uint8Array
  readonly headerIn = new Uint8Array(HEADER_BYTES)
  headerReceived = false
  headerSent = false
  /** Receive items complete (reduced or copied into place). */
  received = 0
  /** Send items handed to the socket. */
  sent = 0
  /** Writes handed to the socket whose callback has not run: their memory may still be read. */
  unflushedWrites = 0

  constructor(
    /** Position in this ring's sequence of collectives, the same on every rank. */
    readonly seq: number,
    readonly data: Float32Array,
    readonly op: ReduceOp,
    private readonly size: number,
    /** `ringSchedule(data.length, size, rank, segmentFloats)`, shared by collectives of one length. */
    readonly schedule: RingSchedule,
    readonly resolve: (data: Float32Array) => void,
    readonly reject: (error: Error) => void,
  ) {
    this.headerOut = encodeHeader(seq, data.length, op)
  }

  get fullyReceived(): boolean {
    return this.headerReceived && this.received === this.schedule.receives.length
  }

  get fullySent(): boolean {
    return this.headerSent && this.sent === this.schedule.sends.length
  }

  /** Everything arrived and every byte sent has left the user's buffer: safe to hand it back. */
  get done(): boolean {
    return this.fullyReceived && this.fullySent && this.unflushedWrites === 0
  }

  /** The bytes of `range` inside the user's buffer (a view, not a copy). */
  bytesOf(range: FloatRange): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset + range.offset * 4, range.length * 4)
  }

  /** True when the next send's data is final: this rank's own, or a segment already received. */
  nextSendReady(): boolean {
    const { sends, freeSends } = this.schedule
    return this.sent < sends.length && (this.sent < freeSends || this.sent - freeSends < this.received)
  }

  /** The next item to receive (undefined once all arrived). */
  nextReceive(): ReceiveItem | undefined {
    return this.schedule.receives[this.received]
  }

  /**
   * Finishes receive item `item`. A `copy` item was read straight into the user's buffer; a
   * `reduce` item was read into `arithmetic.scratch`, which is added in — with the division for
   * `mean` in the same pass when it completes the sum of its range. That happens on one rank
   * only, so every rank ends with the same bits.
   */
  applyReceive(item: ReceiveItem, arithmetic: SegmentArithmetic): void {
    // Only reduce-scatter items (`reduce`) complete a sum; `copy` items arrive final.
    if (item.mode === 'reduce' && item.completesSum && this.op === 'mean') arithmetic.addAndDivide(this.data, item.offset, item.length, this.size)
    else if (item.mode === 'reduce') arithmetic.add(this.data, item.offset, item.length)
    this.received++
  }

  /** Why the upstream rank's header does not match this collective, or undefined when it does. */
  headerMismatch(upstreamRank: number): string | undefined {
    const theirs = decodeHeader(this.headerIn)
    const ours = `all-reduce #${this.seq} of ${this.data.length} floats (${this.op})`
    if (theirs === undefined) return `rank ${upstreamRank} sent bytes that are not a collective header where ${ours} should start`
    if (theirs.seq === this.seq >>> 0 && theirs.length === this.data.length && theirs.op === this.op) return undefined
    return (
      `this rank issued ${ours} but rank ${upstreamRank} issued all-reduce #${theirs.seq} of ${theirs.length} floats ` +
      `(${theirs.op ?? 'unknown op'}); every rank must issue the same collectives, same lengths and ops, in the same order`
    )
  }
}
