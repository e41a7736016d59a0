// Bounded-memory sketches for one-pass profiling: a uniform reservoir sample (quantiles,
// histograms, drift tests) and a HyperLogLog counter (distinct values past the exact cap).
import { SeededRandom } from '../../util/random.js'

/**
 * A uniform random sample of at most `capacity` numbers from a stream of any length
 * (Vitter/Li "Algorithm L": after the reservoir fills, it jumps over the values it will not
 * keep, so most values cost one comparison). Holds every value while `seen <= capacity`.
 */
export class Reservoir {
  private readonly values: number[] = []
  private seen = 0
  private weight = 0
  private nextIndex = 0
  private readonly random: SeededRandom

  constructor(
    readonly capacity: number,
    seed: number,
  ) {
    this.random = new SeededRandom(seed)
  }

  /** How many values were offered. */
  get total(): number {
    return this.seen
  }

  /** Offers one value. */
  add(value: number): void {
    const index = this.seen++
    if (index < this.capacity) {
      this.values.push(value)
      if (this.seen === this.capacity) {
        this.weight = Math.exp(Math.log(this.uniform()) / this.capacity)
        this.nextIndex = index + this.skip() + 1
      }
      return
    }
    if (index !== this.nextIndex) return
    this.values[this.random.nextInt(this.capacity)] = value
    this.weight *= Math.exp(Math.log(this.uniform()) / this.capacity)
    this.nextIndex = index + this.skip() + 1
  }

  /** The sample, sorted ascending (a copy). */
  sorted(): number[] {
    // A typed array sorts numerically and much faster than Array#sort with a comparator.
    return Array.from(Float64Array.from(this.values).sort())
  }

  /** A uniform number in (0, 1]: `log` of it is finite. */
  private uniform(): number {
    return 1 - this.random.next()
  }

  /** How many values to pass over before the next one kept (geometric with the current weight). */
  private skip(): number {
    const jump = Math.floor(Math.log(this.uniform()) / Math.log(1 - this.weight))
    return Number.isFinite(jump) ? jump : Number.MAX_SAFE_INTEGER
  }
}

/** A 32-bit MurmurHash3-style hash of a string's UTF-16 code units. */
export function hashString(text: string, seed = 0x9747b28c): number {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    let k = Math.imul(text.charCodeAt(i), 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  h ^= text.length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const HLL_BITS = 14
const HLL_REGISTERS = 1 << HLL_BITS

/**
 * HyperLogLog distinct counter with 2^14 registers (16 KiB): standard error about
 * 1.04 / sqrt(16384) ≈ 0.8%, with the small-range (linear counting) correction.
 */
export class HyperLogLog {
  private readonly registers = new Uint8Array(HLL_REGISTERS)

  /** Adds one value (by its string form). */
  add(text: string): void {
    const hash = hashString(text)
    const register = hash >>> (32 - HLL_BITS)
    const rest = (hash << HLL_BITS) >>> 0
    // Rank: position of the first 1 bit in the remaining 18 bits (1-based), 19 if none.
    const rank = rest === 0 ? 32 - HLL_BITS + 1 : Math.clz32(rest) + 1
    if (rank > this.registers[register]) this.registers[register] = rank
  }

  /** The estimated number of distinct values added. */
  estimate(): number {
    let sum = 0
    let zeros = 0
    for (const value of this.registers) {
      sum += 2 ** -value
      if (value === 0) zeros++
    }
    const m = HLL_REGISTERS
    const alpha = 0.7213 / (1 + 1.079 / m)
    const raw = (alpha * m * m) / sum
    if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros))
    const two32 = 2 ** 32
    if (raw > two32 / 30) return Math.round(-two32 * Math.log(1 - raw / two32))
    return Math.round(raw)
  }
}

/** The `p`-quantile (0..1) of sorted values, by linear interpolation between order statistics. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const position = (sorted.length - 1) * p
  const below = Math.floor(position)
  const above = Math.min(below + 1, sorted.length - 1)
  const fraction = position - below
  return sorted[below] + (sorted[above] - sorted[below]) * fraction
}
