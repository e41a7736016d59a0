// Compressed commits: the client encodes Δ as float32 (exact), float16 or the top-k entries by
// magnitude; lossy encodings keep what was not sent (the residual) and add it to the next commit —
// error feedback — so over commits nothing is lost. The server decodes and applies in one pass.
import { MaltError, describeValue } from '../../errors.js'
import { encodeFloat16WithFeedback, float16Table } from './float16.js'
import { axpyJs } from './kernel.js'
import { Encoding, toHostOrder, wireBytes, type EncodingCode } from './wire.js'

/**
 * How a client sends its commits: `'none'` (float32), `'float16'` (half the bytes, ~3 significant
 * digits per commit) or `{ topK: fraction }` (the largest-|x| fraction of the entries, 8 bytes each).
 */
export type Compression = 'none' | 'float16' | { topK: number }

/** One encoded commit for one server. */
export interface EncodedCommit {
  encoding: EncodingCode
  parts: Uint8Array[]
}

/** Throws PS_BAD_OPTION unless `compression` is one of the {@link Compression} forms. */
export function checkCompression(compression: unknown): Compression {
  if (compression === 'none' || compression === 'float16') return compression
  if (typeof compression === 'object' && compression !== null && 'topK' in compression) {
    const fraction = (compression as { topK: unknown }).topK
    if (typeof fraction === 'number' && fraction > 0 && fraction <= 1) return { topK: fraction }
  }
  throw new MaltError('PS_BAD_OPTION', `Parameter client option "compression" must be 'none', 'float16' or { topK: fraction in (0, 1] }; received ${describeValue(compression)}`)
}

/**
 * Encodes commits with one compression for a whole parameter vector, slice by slice (one slice per
 * server), keeping the residual of lossy encodings across calls.
 */
export class CommitEncoder {
  private residual: Float32Array | undefined

  constructor(
    readonly compression: Compression,
    private readonly parameterCount: number,
  ) {}

  /** Encodes `delta[start, end)`; call once per slice per commit. */
  encode(delta: Float32Array, start: number, end: number): EncodedCommit {
    const slice = delta.subarray(start, end)
    if (this.compression === 'none') return { encoding: Encoding.FLOAT32, parts: [wireBytes(slice)] }
    this.residual ??= new Float32Array(this.parameterCount)
    // What is owed to the server: this commit plus everything earlier commits did not deliver.
    const owed = this.residual.subarray(start, end)
    if (this.compression === 'float16') return { encoding: Encoding.FLOAT16, parts: [wireBytes(encodeFloat16WithFeedback(slice, owed))] }
    for (let i = 0; i < owed.length; i++) owed[i] += slice[i]
    const count = owed.length === 0 ? 0 : Math.min(owed.length, Math.max(1, Math.round(this.compression.topK * owed.length)))
    const indices = largestMagnitudes(owed, count)
    const values = new Float32Array(count)
    for (let j = 0; j < count; j++) {
      values[j] = owed[indices[j]]
      owed[indices[j]] = 0
    }
    return { encoding: Encoding.TOP_K, parts: [wireBytes(indices), wireBytes(values)] }
  }

  /** What the lossy encodings still owe the servers (zeros for `'none'`). */
  pending(): Float32Array {
    return this.residual?.slice() ?? new Float32Array(this.parameterCount)
  }
}

/** Indices (ascending) of the `count` entries of largest magnitude; ties at the cut are taken from the front. */
export function largestMagnitudes(values: Float32Array, count: number): Uint32Array {
  const n = values.length
  const chosen = new Uint32Array(count)
  if (count === 0) return chosen
  if (count >= n) {
    for (let i = 0; i < n; i++) chosen[i] = i
    return chosen
  }
  const magnitudes = new Float32Array(n)
  for (let i = 0; i < n; i++) magnitudes[i] = Math.abs(values[i])
  const threshold = selectKth(magnitudes, n - count)
  let above = 0
  for (let i = 0; i < n; i++) if (Math.abs(values[i]) > threshold) above++
  let ties = count - above
  let j = 0
  for (let i = 0; i < n && j < count; i++) {
    const magnitude = Math.abs(values[i])
    if (magnitude > threshold || (magnitude === threshold && ties-- > 0)) chosen[j++] = i
  }
  return chosen
}

/** The value that would be at index `k` if `values` were sorted ascending (reorders `values`): quickselect with a random pivot. */
function selectKth(values: Float32Array, k: number): number {
  let low = 0
  let high = values.length - 1
  while (high > low) {
    const pivot = values[low + Math.floor(Math.random() * (high - low + 1))]
    // Three-way partition: [low, lt) < pivot, [lt, gt] == pivot, (gt, high] > pivot.
    let lt = low
    let gt = high
    let i = low
    while (i <= gt) {
      const value = values[i]
      if (value < pivot) {
        values[i++] = values[lt]
        values[lt++] = value
      } else if (value > pivot) {
        values[i] = values[gt]
        values[gt--] = value
      } else {
        i++
      }
    }
    if (k < lt) high = lt - 1
    else if (k > gt) low = gt + 1
    else return pivot
  }
  return values[low]
}

/** Why a commit payload cannot be applied to a center of `parameterCount` values. */
function badCommit(message: string): MaltError {
  return new MaltError('PS_BAD_COMMIT', message)
}

/** center += f32(Δ × scale) over a whole float32 Δ: {@link axpyJs} or the SIMD kernel. */
export type Axpy = (center: Float32Array, delta: Float32Array, scale: number) => void

/**
 * Adds `scale ×` the commit in `payload` (any tensor encoding, little-endian, in a buffer aligned
 * to 4 bytes) to `center`, each product rounded to float32 (as the SIMD kernel does). Checks
 * everything before writing: a refused commit leaves the center as it was.
 */
export function applyCommit(center: Float32Array, encoding: number, payload: Uint8Array, scale: number, axpy: Axpy = axpyJs): void {
  const n = center.length
  const scale32 = Math.fround(scale)
  if (encoding === Encoding.FLOAT32) {
    if (payload.byteLength !== n * 4) throw badCommit(`a float32 commit must carry ${n * 4} bytes (${n} values); received ${payload.byteLength}`)
    toHostOrder(payload, 4)
    axpy(center, new Float32Array(payload.buffer, payload.byteOffset, n), scale)
  } else if (encoding === Encoding.FLOAT16) {
    if (payload.byteLength !== n * 2) throw badCommit(`a float16 commit must carry ${n * 2} bytes (${n} values); received ${payload.byteLength}`)
    toHostOrder(payload, 2)
    const halves = new Uint16Array(payload.buffer, payload.byteOffset, n)
    const values = float16Table()
    if (scale32 === 1) for (let i = 0; i < n; i++) center[i] += values[halves[i]]
    else for (let i = 0; i < n; i++) center[i] += Math.fround(values[halves[i]] * scale32)
  } else if (encoding === Encoding.TOP_K) {
    if (payload.byteLength % 8 !== 0 || payload.byteLength > n * 8) {
      throw badCommit(`a top-k commit must carry 8 bytes per entry, at most ${n} entries; received ${payload.byteLength} bytes`)
    }
    toHostOrder(payload, 4)
    const count = payload.byteLength / 8
    const indices = new Uint32Array(payload.buffer, payload.byteOffset, count)
    const values = new Float32Array(payload.buffer, payload.byteOffset + count * 4, count)
    for (let j = 0; j < count; j++) {
      if (indices[j] >= n) throw badCommit(`top-k entry ${j} has index ${indices[j]}; this server holds ${n} values`)
    }
    for (let j = 0; j < count; j++) center[indices[j]] += Math.fround(values[j] * scale32)
  } else {
    throw badCommit(`unknown commit encoding ${encoding}; expected float32 (${Encoding.FLOAT32}), float16 (${Encoding.FLOAT16}) or top-k (${Encoding.TOP_K})`)
  }
}
