// The server's hot loop, center += scale × Δ over a million floats per commit, as a 4-wide
// WebAssembly SIMD kernel (~7x faster than the JS loop here) on center buffers that live in a
// fixed WebAssembly memory; a plain JS loop, with the same float32 rounding, where there is none.

/**
 * `axpy(dst, src, bytes, scale)`: for each float32 at byte offsets dst and src (bytes a multiple
 * of 16): dst += f32(src × scale). Hand-assembled (it is one loop), imports memory `m.mem`.
 */
const AXPY_WASM = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x08, 0x01, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7d, 0x00, // type: (i32 i32 i32 f32) -> ()
  0x02, 0x0a, 0x01, 0x01, 0x6d, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00, 0x01, // import m.mem: memory, min 1 page
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x07, 0x08, 0x01, 0x04, 0x61, 0x78, 0x70, 0x79, 0x00, 0x00, // export "axpy" = function 0
  0x0a, 0x48, 0x01, 0x46, // code section, one body of 70 bytes
  0x01, 0x01, 0x7b, // one local: v128 (the splatted scale)
  0x20, 0x03, 0xfd, 0x13, 0x21, 0x04, // local 4 = f32x4.splat(scale)
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0x02, 0x45, 0x0d, 0x01, // if bytes == 0, leave the block
  0x20, 0x00, // store address: dst
  0x20, 0x00, 0xfd, 0x00, 0x04, 0x00, // v128.load dst
  0x20, 0x01, 0xfd, 0x00, 0x04, 0x00, // v128.load src
  0x20, 0x04, 0xfd, 0xe6, 0x01, // f32x4.mul by scale
  0xfd, 0xe4, 0x01, // f32x4.add
  0xfd, 0x0b, 0x04, 0x00, // v128.store
  0x20, 0x00, 0x41, 0x10, 0x6a, 0x21, 0x00, // dst += 16
  0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // src += 16
  0x20, 0x02, 0x41, 0x10, 0x6b, 0x21, 0x02, // bytes -= 16
  0x0c, 0x00, 0x0b, 0x0b, 0x0b, // continue the loop; end loop, block, function
])

type Axpy = (dst: number, src: number, bytes: number, scale: number) => void

/** The part of the WebAssembly API used here (the project's `lib` setting declares none of it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> }
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly

/** Largest WebAssembly memory asked for: 4 GiB minus one page is the wasm32 limit. */
const MAX_PAGES = 65535
const PAGE_BYTES = 65536

/**
 * target[i] += f32(delta[i] × f32(scale)), rounded as the SIMD kernel rounds (float32 multiply, then
 * float32 add; a float64 sum of two float32s rounds to the same float32), so both give the same center.
 */
export function axpyJs(target: Float32Array, delta: Float32Array, scale: number, from = 0): void {
  const n = target.length
  const scale32 = Math.fround(scale)
  if (scale32 === 1) for (let i = from; i < n; i++) target[i] += delta[i]
  else for (let i = from; i < n; i++) target[i] += Math.fround(delta[i] * scale32)
}

/**
 * `slots` center buffers of `length` floats and a staging area for Δ, in one WebAssembly memory
 * that never grows (a send may be reading a slot: growing would move it).
 */
export class CenterMemory {
  /** The center buffers: Float32Array views into the memory. */
  readonly slots: Float32Array[]
  private readonly staging: Float32Array

  private constructor(
    private readonly memory: WasmMemory,
    private readonly kernel: Axpy,
    length: number,
    slots: number,
  ) {
    const slotBytes = Math.ceil((length * 4) / 16) * 16
    this.staging = new Float32Array(memory.buffer, 0, length)
    this.slots = Array.from({ length: slots }, (_, i) => new Float32Array(memory.buffer, slotBytes * (i + 1), length))
  }

  /** Undefined where WebAssembly SIMD is missing or `slots + 1` buffers would not fit in 4 GiB. */
  static create(length: number, slots: number): CenterMemory | undefined {
    const slotBytes = Math.ceil((length * 4) / 16) * 16
    const pages = Math.ceil((slotBytes * (slots + 1)) / PAGE_BYTES)
    if (length < 4 || pages > MAX_PAGES || wasm === undefined || !wasm.validate(AXPY_WASM)) return undefined
    try {
      const memory = new wasm.Memory({ initial: pages, maximum: pages })
      const instance = new wasm.Instance(new wasm.Module(AXPY_WASM), { m: { mem: memory } })
      return new CenterMemory(memory, instance.exports.axpy as Axpy, length, slots)
    } catch {
      return undefined // e.g. the address space for the memory could not be reserved
    }
  }

  /** True when `buffer` is one of this memory's slots. */
  holds(buffer: Float32Array): boolean {
    return buffer.buffer === this.memory.buffer
  }

  /** target += f32(delta × scale), target a slot: Δ is staged into the memory (one copy), then the SIMD loop. */
  axpy(target: Float32Array, delta: Float32Array, scale: number): void {
    const simdLength = target.length - (target.length % 4)
    this.staging.set(delta)
    this.kernel(target.byteOffset, this.staging.byteOffset, simdLength * 4, scale)
    axpyJs(target, delta, scale, simdLength)
  }
}
