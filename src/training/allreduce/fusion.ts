// Tensor fusion (Horovod): many small gradients cost one all-reduce each in latency, so they are
// packed into fusion buffers and a buffer is all-reduced the moment it is full, while the caller
// is still producing the next gradients; the results are copied back into the gradients.
import { describeValue } from '../../errors.js'
import type { ReduceOp } from './collective.js'
import { ringError } from './errors.js'
import type { AllReduceRing } from './ring.js'

/** Options of a {@link GradientReducer}. */
export interface GradientReducerOptions {
  /**
   * Size of a fusion buffer in bytes; 0 turns fusion off (one all-reduce per gradient). A gradient
   * at least this large is reduced on its own, in place, without a copy. @defaultValue 4194304 (4 MiB)
   */
  fusionBytes?: number
  /** @defaultValue 'mean' (data-parallel SGD averages gradients) */
  op?: ReduceOp
}

export const DEFAULT_FUSION_BYTES = 4 * 1024 * 1024

/** A slice of a gradient that sits in a fusion buffer. */
interface Piece {
  gradient: Float32Array
  gradientOffset: number
  bufferOffset: number
  length: number
}

interface FusionBuffer {
  data: Float32Array
  used: number
  pieces: Piece[]
}

/**
 * Averages a step's gradients over the ring with tensor fusion. Per step: `push` each gradient as
 * it is computed (backward order), then `flush`; or `reduce(all)` at once. Results are written
 * back into the pushed arrays, which must not be touched until `flush` resolves.
 *
 * Ordering rule: the collectives a reducer issues depend only on the lengths of the pushed
 * gradients, their order and `fusionBytes` — so every rank must use the same `fusionBytes` and
 * push gradients of the same lengths in the same order every step (sort them by a fixed key if
 * your backward pass may finish them in varying order), and issue no other collective on the
 * ring between a step's first push and its flush.
 *
 * @example
 * const reducer = new GradientReducer(ring, { fusionBytes: 4 << 20 })
 * for (const gradient of backwardPass()) reducer.push(gradient) // reducing starts while backward runs
 * const averaged = await reducer.flush()
 */
export class GradientReducer {
  private readonly fusionFloats: number
  private readonly op: ReduceOp
  private current: FusionBuffer | undefined
  private readonly spareBuffers: Float32Array[] = []
  private pushed: Float32Array[] = []
  private inFlight: Promise<void>[] = []

  constructor(
    private readonly ring: AllReduceRing,
    options: GradientReducerOptions = {},
  ) {
    const fusionBytes = options.fusionBytes ?? DEFAULT_FUSION_BYTES
    if (!Number.isInteger(fusionBytes) || fusionBytes < 0) {
      throw ringError('RING_BAD_OPTION', `GradientReducer option "fusionBytes" must be an integer >= 0; received ${describeValue(fusionBytes)}`)
    }
    const op = options.op ?? 'mean'
    if (op !== 'sum' && op !== 'mean') throw ringError('RING_BAD_OPTION', `GradientReducer option "op" must be "sum" or "mean"; received ${describeValue(op)}`)
    this.fusionFloats = Math.floor(fusionBytes / 4)
    this.op = op
  }

  /** Adds the next gradient of this step; starts every fusion buffer it fills. */
  push(gradient: Float32Array): void {
    if (!(gradient instanceof Float32Array)) {
      throw ringError('RING_BAD_ARGUMENT', `GradientReducer.push expects a Float32Array (gradient #${this.pushed.length} of this step); received ${describeValue(gradient)}`)
    }
    this.pushed.push(gradient)
    if (gradient.length >= this.fusionFloats) {
      // Too big to gain from fusion: keep the order (the open buffer goes first), reduce in place.
      this.startCurrentBuffer()
      this.track(this.ring.allReduce(gradient, { op: this.op }).then(() => undefined))
      return
    }
    // Fill buffers to the brim, splitting the gradient across two when it straddles a boundary,
    // so each buffer starts the moment it is full.
    for (let offset = 0; offset < gradient.length; ) {
      const buffer = (this.current ??= { data: this.spareBuffers.pop() ?? new Float32Array(this.fusionFloats), used: 0, pieces: [] })
      const length = Math.min(gradient.length - offset, this.fusionFloats - buffer.used)
      buffer.data.set(gradient.subarray(offset, offset + length), buffer.used)
      buffer.pieces.push({ gradient, gradientOffset: offset, bufferOffset: buffer.used, length })
      buffer.used += length
      offset += length
      if (buffer.used === this.fusionFloats) this.startCurrentBuffer()
    }
  }

  /**
   * Starts the last, partly filled buffer and resolves with the step's gradients, in push order,
   * each now holding the ring's mean (or sum). Rejects with the ring's error if it fails (the
   * reducer is then empty; make a new one on the next ring).
   */
  async flush(): Promise<Float32Array[]> {
    this.startCurrentBuffer()
    const gradients = this.pushed
    const inFlight = this.inFlight
    this.pushed = []
    this.inFlight = []
    await Promise.all(inFlight)
    return gradients
  }

  /** Pushes every gradient, then flushes. */
  reduce(gradients: readonly Float32Array[]): Promise<Float32Array[]> {
    for (const gradient of gradients) this.push(gradient)
    return this.flush()
  }

  private startCurrentBuffer(): void {
    const buffer = this.current
    if (buffer === undefined) return
    this.current = undefined
    const reduced = this.ring.allReduce(buffer.data.subarray(0, buffer.used), { op: this.op }).then(() => {
      for (const piece of buffer.pieces) {
        piece.gradient.set(buffer.data.subarray(piece.bufferOffset, piece.bufferOffset + piece.length), piece.gradientOffset)
      }
      this.spareBuffers.push(buffer.data)
    })
    this.track(reduced)
  }

  private track(reduction: Promise<void>): void {
    reduction.catch(() => undefined) // Reported by flush; this keeps a failure before flush from being "unhandled".
    this.inFlight.push(reduction)
  }
}
