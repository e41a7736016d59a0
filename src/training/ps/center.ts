// The center variable a parameter server owns, its update counter and traffic counters. Pulls send
// the center's own bytes (no copy); while such a send is still leaving the process, the next commit
// goes into a copy (copy-on-write), so a worker never receives a half-updated center. Center
// buffers live in a WebAssembly memory when they fit, for the SIMD commit kernel.
import { MaltError } from '../../errors.js'
import { applyCommit, type Axpy } from './compression.js'
import { CenterMemory, axpyJs } from './kernel.js'
import type { UpdateRule } from './types.js'
import { wireBytes } from './wire.js'

/** A center buffer and the sends still reading it. */
interface CenterBuffer {
  data: Float32Array
  lends: number
}

/** The center bytes for one send; `release` once the send is done. */
export interface LentCenter {
  bytes: Uint8Array
  release(): void
}

/** Center buffers in WebAssembly memory: the current one and two that slow sends may still read. */
const MEMORY_SLOTS = 3

export class CenterState {
  /** The update counter u: commits applied, over restarts. */
  updates: number
  commits = 0
  pulls = 0
  bytesIn = 0
  bytesOut = 0
  /** Commits that went into a copy of the center because a send still read it. */
  copies = 0
  /** Called after every applied commit (checkpoint triggers). */
  onUpdate: () => void = () => undefined
  private current: CenterBuffer
  /** The WebAssembly memory's buffers, reused round-robin as sends finish. */
  private readonly slots: CenterBuffer[]
  /** A JS buffer no send reads any more (used when every slot is busy, or without WebAssembly). */
  private spare: Float32Array | undefined
  private readonly axpy: Axpy

  /** Copies `initial` into WebAssembly memory, or adopts it (no copy) where there is none. */
  constructor(
    initial: Float32Array,
    updates: number,
    readonly rule: UpdateRule,
  ) {
    const memory = CenterMemory.create(initial.length, MEMORY_SLOTS)
    this.slots = memory?.slots.map((data) => ({ data, lends: 0 })) ?? []
    this.current = this.slots[0] ?? { data: initial, lends: 0 }
    if (memory !== undefined) this.current.data.set(initial)
    this.axpy = (center, delta, scale) => (memory?.holds(center) ? memory.axpy(center, delta, scale) : axpyJs(center, delta, scale))
    this.updates = updates
  }

  get length(): number {
    return this.current.data.length
  }

  /** True when commits run on the WebAssembly SIMD kernel (false: the JS loop). */
  get simd(): boolean {
    return this.slots.includes(this.current)
  }

  /** A copy of the center now. */
  snapshot(): Float32Array {
    return this.current.data.slice()
  }

  /** The center itself, read-only by contract: for a checkpoint that copies it at once. */
  peek(): Float32Array {
    return this.current.data
  }

  /** The center's bytes for a send that completes later; the center is not copied. */
  lend(): LentCenter {
    const buffer = this.current
    buffer.lends++
    this.pulls++
    let released = false
    return {
      bytes: wireBytes(buffer.data),
      release: () => {
        if (released) return
        released = true
        buffer.lends--
        if (buffer.lends === 0 && buffer !== this.current && !this.slots.includes(buffer)) this.spare = buffer.data
      },
    }
  }

  /**
   * Applies a commit by the server's rule (`pulledAt` is the counter the worker last pulled) and
   * counts it. Throws a MaltError (PS_BAD_COMMIT, PS_BAD_COUNTER) and changes nothing when it cannot.
   */
  commit(encoding: number, payload: Uint8Array, pulledAt: number): void {
    let scale = 1
    if (this.rule === 'staleness') {
      if (pulledAt > this.updates) {
        throw new MaltError(
          'PS_BAD_COUNTER',
          `the commit says it was computed from update ${pulledAt}, but this server is at update ${this.updates} (a counter from another server or an earlier run?)`,
        )
      }
      scale = 1 / (this.updates - pulledAt + 1)
    }
    let target = this.current
    if (target.lends > 0) {
      // A send still reads the center: the commit goes into a copy.
      target = this.freeBuffer()
      target.data.set(this.current.data)
    }
    applyCommit(target.data, encoding, payload, scale, this.axpy)
    if (target !== this.current) {
      if (target.data === this.spare) this.spare = undefined
      this.current = target
      this.copies++
    }
    this.updates++
    this.commits++
    this.onUpdate()
  }

  /** A buffer no send reads and that is not the center: a free slot, else a JS one. */
  private freeBuffer(): CenterBuffer {
    const slot = this.slots.find((buffer) => buffer !== this.current && buffer.lends === 0)
    return slot ?? { data: this.spare ?? new Float32Array(this.length), lends: 0 }
  }
}
