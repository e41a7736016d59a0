// Reads a TCP stream straight into the places its bytes belong. Node's `onread` option lets a
// client socket read into a buffer we choose for every read, so the bytes of an all-gather land
// in the destination tensor itself, with no intermediate Buffer and no copy. Bytes that arrive
// before anyone says where they go (the next collective is not issued yet) land in a small spill
// buffer, are kept, and reading pauses: TCP's flow control then holds the sender back.
import type { OnReadOpts, Socket } from 'node:net'

/** A place for the next bytes of the stream; `filled` runs once all of `bytes` has arrived. */
export interface ReceiveTarget {
  bytes: Uint8Array
  filled(): void
}

/** Bytes read ahead of any target are read at most this many at a time (then reading pauses). */
const SPILL_BYTES = 64 * 1024

/** Where the stream's bytes go next: undefined while nothing is expected yet. */
export type TargetSource = () => ReceiveTarget | undefined

/**
 * The reading side of one connection. Its source (set with {@link StreamReceiver.use}: first the
 * handshake, then the ring) is asked for the next place to fill whenever the previous one is
 * full; when it has nothing, the owner calls {@link StreamReceiver.wake} once it has.
 */
export class StreamReceiver {
  private target: ReceiveTarget | undefined
  private filledBytes = 0
  /** The buffer the socket reads into next (what `bufferForNextRead` last returned). */
  private handed: Uint8Array | undefined
  private readonly spill = new Uint8Array(SPILL_BYTES)
  /** Bytes read ahead of their target, oldest first; the first may be partly consumed. */
  private readonly early: Uint8Array[] = []
  private socket: Socket | undefined
  private pausedForEarlyBytes = false
  private delivering = false
  private stopped = false
  private nextTarget: TargetSource = () => undefined
  /** Told the size of every read (the stall watchdog's sign of life). */
  private onBytes: (count: number) => void = () => undefined

  /** Takes targets from `nextTarget` from now on (after the current one is full) and reads on. */
  use(nextTarget: TargetSource, onBytes: (count: number) => void = () => undefined): void {
    this.nextTarget = nextTarget
    this.onBytes = onBytes
    this.wake()
  }

  /** The `onread` option for `net.connect`. */
  onreadOption(): OnReadOpts {
    return {
      buffer: () => this.bufferForNextRead(),
      callback: (count, buffer) => this.onRead(count, buffer),
    }
  }

  /** The socket created with {@link onreadOption}: needed to resume reading after a pause. */
  attach(socket: Socket): void {
    this.socket = socket
  }

  /** New targets may be available: move early bytes into them and read on. */
  wake(): void {
    if (this.stopped) return
    this.deliverEarlyBytes()
    if (this.pausedForEarlyBytes && this.early.length === 0) {
      this.pausedForEarlyBytes = false
      this.socket?.resume()
    }
  }

  /** Stops reading for good: nothing is written into any target after this returns. */
  stop(): void {
    this.stopped = true
    this.target = undefined
    this.early.length = 0
    this.socket?.pause()
  }

  private currentTarget(): ReceiveTarget | undefined {
    while (this.target === undefined && !this.stopped) {
      const next = this.nextTarget()
      if (next === undefined) break
      this.filledBytes = 0
      if (next.bytes.length > 0) this.target = next
      else next.filled() // Never hand the socket an empty buffer: a zero-byte read would look like nothing arrived.
    }
    return this.target
  }

  private bufferForNextRead(): Uint8Array {
    // Early bytes come first in the stream, so read straight into a target only once they are placed.
    const target = this.early.length === 0 ? this.currentTarget() : undefined
    this.handed = target === undefined ? this.spill : target.bytes.subarray(this.filledBytes)
    return this.handed
  }

  private onRead(count: number, buffer: Uint8Array): boolean {
    if (this.stopped) return false
    this.onBytes(count)
    if (buffer === this.handed && buffer !== this.spill) {
      this.advance(count)
      return true
    }
    this.early.push(buffer.slice(0, count)) // The spill is reused by the next read: keep a copy.
    this.deliverEarlyBytes()
    if (this.early.length === 0) return true
    this.pausedForEarlyBytes = true
    return false // Pause: the kernel buffers the rest, and TCP slows the sender down.
  }

  private advance(count: number): void {
    this.filledBytes += count
    const target = this.target
    if (target !== undefined && this.filledBytes === target.bytes.length) {
      this.target = undefined
      this.filledBytes = 0
      target.filled()
    }
  }

  private deliverEarlyBytes(): void {
    if (this.delivering) return // A target's `filled` woke us again: the outer loop carries on.
    this.delivering = true
    try {
      while (this.early.length > 0) {
        const target = this.currentTarget()
        if (target === undefined) return
        const head = this.early[0]
        const count = Math.min(head.length, target.bytes.length - this.filledBytes)
        target.bytes.set(head.subarray(0, count), this.filledBytes)
        if (count === head.length) this.early.shift()
        else this.early[0] = head.subarray(count)
        this.advance(count)
      }
    } finally {
      this.delivering = false
    }
  }
}
