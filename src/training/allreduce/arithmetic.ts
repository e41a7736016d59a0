// The all-reduce's arithmetic: add a received segment into the buffer (and divide by the ring size
// for `mean`). It is the only CPU work besides the kernel's copies, and a plain JS loop over
// Float32Arrays costs several times a memory copy, so segments are added with WebAssembly SIMD
// (four floats an instruction): the socket reads the incoming segment straight into WebAssembly
// memory, the destination range is copied in beside it, added, and copied back. Results are the
// same bits either way: a float32 sum, then a float32 division.

/** Adds incoming segments (read into `scratch`) into destination ranges. */
export interface SegmentArithmetic {
  /** Where the socket reads a segment to be added; holds at least `segmentFloats` floats. */
  readonly scratch: Float32Array
  /** target[offset + i] += scratch[i] for i < length. */
  add(target: Float32Array, offset: number, length: number): void
  /** target[offset + i] = (target[offset + i] + scratch[i]) / divisor, each step rounded to float32. */
  addAndDivide(target: Float32Array, offset: number, length: number, divisor: number): void
}

/** Below this many floats the JS loop beats the copies around a WebAssembly call. */
const SIMD_MIN_FLOATS = 256
const PAGE_BYTES = 65536

function addLoop(target: Float32Array, offset: number, length: number, source: Float32Array): void {
  for (let i = 0; i < length; i++) target[offset + i] += source[i]
}

function addAndDivideLoop(target: Float32Array, offset: number, length: number, source: Float32Array, divisor: number): void {
  for (let i = 0; i < length; i++) target[offset + i] = Math.fround(target[offset + i] + source[i]) / divisor
}

/** The JS-only arithmetic (where WebAssembly SIMD is unavailable). */
function plainArithmetic(segmentFloats: number): SegmentArithmetic {
  const scratch = new Float32Array(segmentFloats)
  return {
    scratch,
    add: (target, offset, length) => addLoop(target, offset, length, scratch),
    addAndDivide: (target, offset, length, divisor) => addAndDivideLoop(target, offset, length, scratch, divisor),
  }
}

// ---- The WebAssembly module, assembled here (no build step, no binary file) -------------------
// (func $add (param $dst i32) (param $src i32) (param $count i32))            count: a multiple of 4
// (func $addDivide (param $dst i32) (param $src i32) (param $count i32) (param $divisor f32))
// Both loop `dst[0..count) = dst + src` (then `/ divisor`) over v128 lanes; memory is imported.

const leb128 = (value: number): number[] => {
  const bytes: number[] = []
  do {
    let byte = value & 0x7f
    value >>>= 7
    if (value !== 0) byte |= 0x80
    bytes.push(byte)
  } while (value !== 0)
  return bytes
}
const section = (id: number, body: number[]): number[] => [id, ...leb128(body.length), ...body]
const vector = (items: number[][]): number[] => [...leb128(items.length), ...items.flat()]
const name = (text: string): number[] => [...leb128(text.length), ...Array.from(Buffer.from(text, 'latin1'))]

const I32 = 0x7f
const F32 = 0x7d
const V128 = 0x7b
/** end = dst + count * 4 → local `endLocal`. */
const computeEnd = (endLocal: number): number[] => [0x20, 2, 0x41, 2, 0x74, 0x20, 0, 0x6a, 0x21, endLocal]
/** while (dst < end) { store(dst, f32x4.add(load(dst), load(src)) [then `afterAdd`]); dst += 16; src += 16 } */
const laneLoop = (endLocal: number, afterAdd: number[]): number[] => [
  0x02, 0x40, 0x03, 0x40, // block, loop
  0x20, 0, 0x20, endLocal, 0x4f, 0x0d, 1, // if (dst >= end) break
  0x20, 0, // address for the store
  0x20, 0, 0xfd, 0x00, 4, 0, // v128.load dst
  0x20, 1, 0xfd, 0x00, 4, 0, // v128.load src
  0xfd, 0xe4, 0x01, // f32x4.add
  ...afterAdd,
  0xfd, 0x0b, 4, 0, // v128.store
  0x20, 0, 0x41, 16, 0x6a, 0x21, 0, // dst += 16
  0x20, 1, 0x41, 16, 0x6a, 0x21, 1, // src += 16
  0x0c, 0, 0x0b, 0x0b, // continue; end loop, end block
]
const addBody = [...vector([[1, I32]]), ...computeEnd(3), ...laneLoop(3, []), 0x0b]
const addDivideBody = [
  ...vector([[1, I32], [1, V128]]),
  0x20, 3, 0xfd, 0x13, 0x21, 5, // divisors = f32x4.splat(divisor)
  ...computeEnd(4),
  ...laneLoop(4, [0x20, 5, 0xfd, 0xe7, 0x01]), // f32x4.div by divisors
  0x0b,
]
const MODULE_BYTES = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, vector([[0x60, 3, I32, I32, I32, 0], [0x60, 4, I32, I32, I32, F32, 0]])),
  ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x01]])),
  ...section(3, vector([[0], [1]])),
  ...section(7, vector([[...name('add'), 0x00, 0], [...name('addDivide'), 0x00, 1]])),
  ...section(10, vector([[...leb128(addBody.length), ...addBody], [...leb128(addDivideBody.length), ...addDivideBody]])),
])

interface SimdExports {
  add(dst: number, src: number, count: number): void
  addDivide(dst: number, src: number, count: number, divisor: number): void
}

/** The part of the WebAssembly API used here (the project's `lib` setting declares none of it). */
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => { readonly buffer: ArrayBuffer }
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> }
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly

let compiled: object | null | undefined

/** The compiled module, or null where this engine has no WebAssembly (SIMD). */
function simdModule(): object | null {
  if (compiled === undefined) {
    try {
      compiled = wasm === undefined ? null : new wasm.Module(MODULE_BYTES)
    } catch {
      compiled = null // An engine without SIMD rejects the module: the JS loop takes over.
    }
  }
  return compiled
}

/** Arithmetic for segments of up to `segmentFloats` floats: WebAssembly SIMD when available, else JS. */
export function segmentArithmetic(segmentFloats: number): SegmentArithmetic {
  const module = simdModule()
  if (wasm === undefined || module === null || segmentFloats === 0) return plainArithmetic(segmentFloats)
  const laneFloats = Math.ceil(segmentFloats / 4) * 4 // The lanes run past `length` into padding.
  const memory = new wasm.Memory({ initial: Math.ceil((2 * laneFloats * 4) / PAGE_BYTES) }) // Never grown: views stay valid.
  const simd = new wasm.Instance(module, { env: { memory } }).exports as unknown as SimdExports // The two functions above.
  const scratch = new Float32Array(memory.buffer, 0, laneFloats)
  const staging = new Float32Array(memory.buffer, laneFloats * 4, laneFloats)
  const stagingAddress = laneFloats * 4
  const run = (target: Float32Array, offset: number, length: number, divisor: number): void => {
    staging.set(target.subarray(offset, offset + length))
    const count = Math.ceil(length / 4) * 4
    if (divisor === 1) simd.add(stagingAddress, 0, count)
    else simd.addDivide(stagingAddress, 0, count, divisor)
    target.set(staging.subarray(0, length), offset)
  }
  return {
    scratch,
    add(target, offset, length) {
      if (length < SIMD_MIN_FLOATS) addLoop(target, offset, length, scratch)
      else run(target, offset, length, 1)
    },
    addAndDivide(target, offset, length, divisor) {
      if (length < SIMD_MIN_FLOATS) addAndDivideLoop(target, offset, length, scratch, divisor)
      else run(target, offset, length, divisor)
    },
  }
}
