// Reuse of output arrays on malt-native. A CNN step allocates tens of megabytes of activations and
// gradients; fresh Float32Arrays cost page faults on first touch and, because V8 frees them only
// when it collects garbage, a garbage collection every few steps ("external memory pressure") —
// together more time than the native kernels themselves. Arrays the native kernels allocate are
// returned here when the last tensor holding their buffer is disposed, and handed out again.
//
// Safety rules (an array is recycled only when nothing can still see it):
// - only arrays this pool allocated, never user data;
// - only when no live tensor data entry refers to the buffer: views (a contiguous Slice is a
//   subarray) and shared casts count as holders, tracked through the backend's data storage;
// - never once its values escaped through readSync/read/bufferSync (dataSync() hands out the
//   backend's own array, which a caller may keep after disposing the tensor).
/** Arrays shorter than this are cheap to allocate and are not pooled (4 KiB). */
const MIN_POOLED_LENGTH = 1024

export class FloatBufferPool {
  private readonly free = new Map<number, Float32Array[]>()
  private pooledBytes = 0
  private readonly ours = new WeakSet<ArrayBufferLike>()
  private readonly escaped = new WeakSet<ArrayBufferLike>()
  private readonly holders = new WeakMap<ArrayBufferLike, number>()
  /** Arrays handed out again instead of allocated, and poolable arrays allocated fresh (diagnostics). */
  reused = 0
  allocated = 0

  constructor(private maxPooledBytes: number) {}

  /** Most bytes kept for reuse; 0 turns recycling off (pooled arrays are let go). */
  get limitBytes(): number {
    return this.maxPooledBytes
  }

  set limitBytes(bytes: number) {
    this.maxPooledBytes = bytes
    if (this.pooledBytes > bytes) this.clear()
  }

  /** An array of `length` floats with arbitrary contents (the caller overwrites every element). */
  take(length: number): Float32Array {
    const recycled = this.free.get(length)?.pop()
    if (recycled) {
      this.pooledBytes -= recycled.byteLength
      this.reused++
      return recycled
    }
    const fresh = new Float32Array(length)
    if (length >= MIN_POOLED_LENGTH) {
      this.ours.add(fresh.buffer)
      this.allocated++
    }
    return fresh
  }

  /** An array of `length` zeros. */
  takeZeroed(length: number): Float32Array {
    const reusedBefore = this.reused
    const array = this.take(length)
    if (this.reused !== reusedBefore) array.fill(0)
    return array
  }

  /** A tensor data entry now refers to `values`. */
  hold(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return
    this.holders.set(values.buffer, (this.holders.get(values.buffer) ?? 0) + 1)
  }

  /** A tensor data entry referring to `values` is gone; the last one returns our buffer to the pool. */
  drop(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return
    const buffer = values.buffer
    const count = (this.holders.get(buffer) ?? 1) - 1
    if (count > 0) {
      this.holders.set(buffer, count)
      return
    }
    this.holders.delete(buffer)
    if (!this.ours.has(buffer) || this.escaped.has(buffer)) return
    if (this.pooledBytes + buffer.byteLength > this.maxPooledBytes) return
    const whole = values instanceof Float32Array && values.byteOffset === 0 && values.byteLength === buffer.byteLength ? values : new Float32Array(buffer)
    let list = this.free.get(whole.length)
    if (!list) this.free.set(whole.length, (list = []))
    list.push(whole)
    this.pooledBytes += buffer.byteLength
  }

  /** `values` was handed to code outside the backend: never recycle its buffer. */
  escape(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.escaped.add(values.buffer)
  }

  /** Lets every pooled array go (to the garbage collector). */
  clear(): void {
    this.free.clear()
    this.pooledBytes = 0
  }

  get bytesPooled(): number {
    return this.pooledBytes
  }
}

/** Pooled bytes kept at most: MALT_POOL_MB (default 256; 0 turns pooling off). */
function poolLimitBytes(env: NodeJS.ProcessEnv): number {
  const setting = env.MALT_POOL_MB
  const megabytes = setting === undefined || setting === '' ? 256 : Number(setting)
  return Number.isFinite(megabytes) && megabytes >= 0 ? megabytes * 2 ** 20 : 256 * 2 ** 20
}

/** The pool of the malt-native backend. */
export const bufferPool = new FloatBufferPool(poolLimitBytes(process.env))
