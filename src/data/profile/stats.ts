// Streaming statistics for one column: numeric moments (Welford), quantiles and histograms
// from a reservoir, categorical frequencies and distinct counts with fixed memory caps.
import { HyperLogLog, Reservoir, hashString, quantile } from './sketches.js'
import type { CategoricalStats, HistogramBin, NumericStats, ValueCount, VectorStats } from './types.js'

/** Accumulates numbers one at a time; memory is bounded by the reservoir capacity. */
export class NumericAccumulator {
  private count = 0
  private mean = 0
  private m2 = 0
  private min = Infinity
  private max = -Infinity
  private zeros = 0
  private infinite = 0
  /** True while every finite value is an integer. */
  integral = true
  private readonly reservoir: Reservoir

  constructor(sampleSize: number, seed: number) {
    this.reservoir = new Reservoir(sampleSize, seed)
  }

  /** Adds one number; NaN must be filtered out by the caller (it counts as missing). */
  add(value: number): void {
    if (!Number.isFinite(value)) {
      this.infinite++
      return
    }
    this.count++
    // Welford's update: stable for large counts and large offsets.
    const delta = value - this.mean
    this.mean += delta / this.count
    this.m2 += delta * (value - this.mean)
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
    if (value === 0) this.zeros++
    if (this.integral && !Number.isInteger(value)) this.integral = false
    this.reservoir.add(value)
  }

  /** The summary, with a histogram of `bins` equal-width bins over [min, max]. */
  finish(bins: number): NumericStats {
    const sample = this.reservoir.sorted()
    const approximate = this.count > sample.length
    const empty = this.count === 0
    return {
      count: this.count,
      zeros: this.zeros,
      infinite: this.infinite,
      mean: empty ? NaN : this.mean,
      std: empty ? NaN : Math.sqrt(this.m2 / this.count),
      min: empty ? NaN : this.min,
      max: empty ? NaN : this.max,
      median: quantile(sample, 0.5),
      p25: quantile(sample, 0.25),
      p75: quantile(sample, 0.75),
      histogram: empty ? [] : binnedHistogram(sample, this.min, this.max, bins, this.integral, this.count),
      approximate,
      sample,
    }
  }
}

/**
 * A histogram over [min, max]: `bins` equal-width bins, or, for integers spanning fewer
 * values than `bins`, one bin [v, v + 1) per integer (no empty bins between integers).
 */
export function binnedHistogram(sorted: readonly number[], min: number, max: number, bins: number, integral: boolean, total = sorted.length): HistogramBin[] {
  if (integral && max > min && max - min < bins) return histogram(sorted, min, max + 1, max - min + 1, total)
  return histogram(sorted, min, max, bins, total)
}

/**
 * Equal-width bins over [low, high] filled from `sorted` values, scaled so the counts add up
 * to about `total` (exactly `total` when the sample is the whole column).
 */
export function histogram(sorted: readonly number[], low: number, high: number, bins: number, total = sorted.length): HistogramBin[] {
  if (sorted.length === 0) return []
  if (!(high > low)) return [{ low, high, count: total }]
  const width = (high - low) / bins
  const counts = new Array<number>(bins).fill(0)
  for (const value of sorted) {
    if (value < low || value > high) continue
    counts[Math.min(bins - 1, Math.floor((value - low) / width))]++
  }
  const scale = total / sorted.length
  return counts.map((count, i) => ({
    low: low + i * width,
    high: i === bins - 1 ? high : low + (i + 1) * width,
    count: scale === 1 ? count : Math.round(count * scale),
  }))
}

/** Keys longer than this are stored as a prefix plus a hash, so memory stays bounded. */
const MAX_KEY_CHARS = 200

function valueKey(text: string): string {
  if (text.length <= MAX_KEY_CHARS) return text
  // Two independent 32-bit hashes: collisions among 10^4 long strings are negligible.
  return `${text.slice(0, MAX_KEY_CHARS - 20)}…#${hashString(text).toString(36)}${hashString(text, 7).toString(36)}`
}

/**
 * Accumulates strings (booleans arrive as 'true'/'false'). Distinct values are exact up to
 * `distinctCap`, then estimated with HyperLogLog. Frequencies are exact while at most
 * `2 * categoryCap` distinct values were seen; past that the map is pruned to the
 * `categoryCap` most frequent values whenever it doubles, so counts of values that were
 * pruned and came back are underestimated (and marked approximate).
 */
export class CategoricalAccumulator {
  private count = 0
  private totalLength = 0
  private exact: Set<string> | undefined = new Set()
  private sketch: HyperLogLog | undefined
  private frequencies = new Map<string, number>()
  private approximate = false

  constructor(
    private readonly distinctCap: number,
    private readonly categoryCap: number,
  ) {}

  add(text: string): void {
    this.count++
    this.totalLength += text.length
    const key = valueKey(text)
    if (this.exact) {
      this.exact.add(key)
      if (this.exact.size > this.distinctCap) {
        this.sketch = new HyperLogLog()
        for (const seen of this.exact) this.sketch.add(seen)
        this.exact = undefined
      }
    } else {
      this.sketch?.add(key)
    }
    this.frequencies.set(key, (this.frequencies.get(key) ?? 0) + 1)
    if (this.frequencies.size > 2 * this.categoryCap) this.prune()
  }

  private prune(): void {
    const kept = [...this.frequencies].sort((a, b) => b[1] - a[1])
    this.frequencies = new Map(kept.slice(0, this.categoryCap))
    this.approximate = true
  }

  finish(topValues: number): CategoricalStats {
    const sorted = [...this.frequencies].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    const kept: ValueCount[] = sorted.slice(0, this.categoryCap).map(([value, count]) => ({ value, count }))
    const listed = kept.reduce((sum, item) => sum + item.count, 0)
    return {
      count: this.count,
      distinct: this.exact ? this.exact.size : (this.sketch?.estimate() ?? 0),
      distinctApproximate: this.exact === undefined,
      top: kept.slice(0, topValues),
      frequencies: kept,
      otherCount: this.count - listed,
      frequenciesApproximate: this.approximate,
      meanLength: this.count === 0 ? NaN : this.totalLength / this.count,
    }
  }
}

/** An array-like cell: plain arrays and typed arrays. */
export type VectorLike = ArrayLike<unknown>

/**
 * Accumulates vector cells: their lengths, and the statistics of all numeric elements
 * together (e.g. the pixel values of all MNIST images). `Uint8Array` cells and arrays of
 * them are byte strings: only their lengths are summarised.
 */
export class VectorAccumulator {
  private count = 0
  private minLength = Infinity
  private maxLength = -Infinity
  private totalLength = 0
  private readonly types = new Set<VectorStats['elementType']>()
  private readonly elements: NumericAccumulator

  constructor(sampleSize: number, seed: number) {
    this.elements = new NumericAccumulator(sampleSize, seed)
  }

  add(vector: VectorLike, bytes: boolean): void {
    this.count++
    const length = vector.length
    if (length < this.minLength) this.minLength = length
    if (length > this.maxLength) this.maxLength = length
    this.totalLength += length
    if (bytes) {
      this.types.add('bytes')
      return
    }
    if (ArrayBuffer.isView(vector)) {
      this.types.add('number')
      const numbers = vector as unknown as ArrayLike<number>
      for (let i = 0; i < numbers.length; i++) this.addElement(Number(numbers[i]))
      return
    }
    for (let i = 0; i < length; i++) {
      const element = vector[i]
      if (typeof element === 'number' || typeof element === 'bigint') {
        this.types.add('number')
        this.addElement(Number(element))
      } else if (element instanceof Uint8Array) {
        this.types.add('bytes')
      } else if (element !== null && element !== undefined) {
        this.types.add('string')
      }
    }
  }

  private addElement(value: number): void {
    if (!Number.isNaN(value)) this.elements.add(value)
  }

  finish(bins: number): VectorStats {
    const elementType = this.types.size === 1 ? [...this.types][0] : this.types.size === 0 ? 'number' : 'mixed'
    const elements = this.elements.finish(bins)
    return {
      count: this.count,
      minLength: this.count === 0 ? 0 : this.minLength,
      maxLength: this.count === 0 ? 0 : this.maxLength,
      meanLength: this.count === 0 ? 0 : this.totalLength / this.count,
      elementType,
      ...(elements.count > 0 ? { elements } : {}),
    }
  }
}
