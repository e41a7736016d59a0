// IEEE 754 half-precision floats for compressed commits: float32 → float16 with round to nearest,
// ties to even (overflow → ±Infinity, NaN stays NaN, tiny values become subnormals or ±0), and
// float16 → float32 through a 65,536-entry table (exact: every half is a float32).

const scratchFloat = new Float32Array(1)
const scratchBits = new Int32Array(scratchFloat.buffer)

/** 2^-14 as float32 bits: below it a half is subnormal. */
const HALF_NORMAL_MIN_BITS = 113 << 23
/** 65536 as float32 bits: from there on a half is infinite (65520 and up round to it too, below). */
const HALF_OVERFLOW_BITS = (127 + 16) << 23
const FLOAT_INFINITY_BITS = 255 << 23
/** 2^-25 as float32 bits: below it a value rounds to ±0 (2^-25 itself is a tie, to the even 0). */
const HALF_ZERO_BITS = 102 << 23

/** The half-float bits nearest to the float32 whose bits are `bits` (ties to even); integer operations only. */
function halfFromFloatBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000
  const magnitude = bits & 0x7fffffff
  if (magnitude >= HALF_OVERFLOW_BITS) return sign | (magnitude > FLOAT_INFINITY_BITS ? 0x7e00 : 0x7c00)
  if (magnitude < HALF_NORMAL_MIN_BITS) {
    if (magnitude < HALF_ZERO_BITS) return sign
    // Subnormal: the 24-bit significand in units of 2^-24 (the subnormal step), shifted right 14..24
    // bits and rounded; a carry to 0x400 is the smallest normal half, which is right.
    const significand = (magnitude & 0x7fffff) | 0x800000
    const shift = 126 - (magnitude >>> 23)
    const half = significand >>> shift
    const rest = significand & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    return sign | (half + (rest > halfway || (rest === halfway && (half & 1) === 1) ? 1 : 0))
  }
  // Normal: rebias the exponent, add 0xfff plus the lowest kept bit (ties to even), drop 13 bits; a
  // mantissa carry rolls into the exponent, up to infinity for 65520 ≤ |x| < 65536.
  const odd = (magnitude >>> 13) & 1
  return sign | ((magnitude + ((15 - 127) << 23) + 0xfff + odd) >>> 13)
}

/** The half-float bits nearest to `value`. */
export function toFloat16Bits(value: number): number {
  scratchFloat[0] = value
  return halfFromFloatBits(scratchBits[0])
}

/** Encodes `values` as half floats into `out` (same length), one pass over the float32 bits. */
export function encodeFloat16(values: Float32Array, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  // Int32, not Uint32: values above 2^31 would leave V8's small-integer fast path.
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length)
  for (let i = 0; i < bits.length; i++) out[i] = halfFromFloatBits(bits[i])
  return out
}

/**
 * Error-feedback encoding in one pass: `owed[i] += values[i]`, `out[i]` = the half nearest to it
 * (±65504 for larger finite values rather than ±Infinity), and `owed[i]` keeps what the half missed.
 */
export function encodeFloat16WithFeedback(values: Float32Array, owed: Float32Array, out: Uint16Array = new Uint16Array(values.length)): Uint16Array {
  const owedBits = new Int32Array(owed.buffer, owed.byteOffset, owed.length)
  const halfValues = float16Table()
  for (let i = 0; i < values.length; i++) {
    owed[i] += values[i]
    let half = halfFromFloatBits(owedBits[i])
    if ((half & 0x7fff) === 0x7c00 && (owedBits[i] & 0x7f800000) !== 0x7f800000) half -= 1
    out[i] = half
    owed[i] -= halfValues[half]
  }
  return out
}

let table: Float32Array | undefined

/** The float32 value of every half, indexed by its bits (built on first use, 256 KiB). */
export function float16Table(): Float32Array {
  if (table !== undefined) return table
  table = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const exponent = (h >>> 10) & 0x1f
    const fraction = h & 0x3ff
    if (exponent === 0) table[h] = sign * fraction * 2 ** -24
    else if (exponent === 31) table[h] = fraction === 0 ? sign * Infinity : NaN
    else table[h] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
  }
  return table
}

/** The float32 value of the half whose bits are `bits`. */
export function fromFloat16Bits(bits: number): number {
  return float16Table()[bits & 0xffff]
}

/** Decodes half floats into `out` (same length). */
export function decodeFloat16(halves: Uint16Array, out: Float32Array = new Float32Array(halves.length)): Float32Array {
  const values = float16Table()
  for (let i = 0; i < halves.length; i++) out[i] = values[halves[i]]
  return out
}
