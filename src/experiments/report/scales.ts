// Scales, ticks and colours shared by the experiment report's charts: linear or log numeric
// scales with readable ticks, label thinning so tick texts never overlap, and the colour ramps.
import { formatNumber } from '../../data/profile/text-report.js'

/** A numeric axis: maps a value to [0, 1] (0 = bottom / left). */
export interface NumericScale {
  kind: 'linear' | 'log'
  min: number
  max: number
  /** Position in [0, 1]; NaN when the value cannot be placed (not finite, or ≤ 0 on a log scale). */
  position(value: number): number
  /** Values worth a tick label, inside [min, max]. */
  ticks(count?: number): number[]
}

/** Log scale when every value is positive and they span more than two decades (max / min > 100). */
export function spansDecades(values: readonly number[]): boolean {
  if (values.length === 0 || values.some((v) => v <= 0)) return false
  return Math.max(...values) / Math.min(...values) > 100
}

function roundTo(value: number): number {
  return Number(value.toPrecision(12))
}

/** Ticks at 1, 2 or 5 × 10^k within [min, max] (about `count` of them). */
export function niceTicks(min: number, max: number, count = 5, integral = false): number[] {
  if (!(max > min)) return Number.isFinite(min) ? [min] : []
  const raw = (max - min) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const normalised = raw / magnitude
  let step = (normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10) * magnitude
  if (integral) step = Math.max(1, Math.round(step))
  const ticks: number[] = []
  const first = Math.ceil(min / step - 1e-9)
  for (let i = first; i * step <= max + step * 1e-9; i++) ticks.push(roundTo(i * step))
  return ticks
}

/** Powers of ten inside [min, max]; with fewer than two, the 2× and 5× marks too. */
export function logTicks(min: number, max: number): number[] {
  const low = Math.floor(Math.log10(min))
  const high = Math.ceil(Math.log10(max))
  const inside = (v: number) => v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)
  const powers: number[] = []
  for (let k = low; k <= high; k++) if (inside(10 ** k)) powers.push(roundTo(10 ** k))
  if (powers.length >= 2) return powers.length > 8 ? powers.filter((_, i) => i % Math.ceil(powers.length / 8) === 0) : powers
  const marks: number[] = []
  for (let k = low; k <= high; k++) for (const m of [1, 2, 5]) if (inside(m * 10 ** k)) marks.push(roundTo(m * 10 ** k))
  return marks.length >= 2 ? marks : [min, max]
}

/**
 * A scale over `values` (the non-finite ones ignored): log when {@link spansDecades}, else
 * linear; `nice` widens a linear domain to the surrounding ticks (for charts with grid lines).
 * A single distinct value sits in the middle.
 */
export function numericScale(values: readonly number[], options: { nice?: boolean; integral?: boolean } = {}): NumericScale {
  const finite = values.filter((v) => Number.isFinite(v))
  if (spansDecades(finite)) {
    const min = Math.min(...finite)
    const max = Math.max(...finite)
    const span = Math.log10(max) - Math.log10(min)
    return {
      kind: 'log',
      min,
      max,
      position: (v) => (v > 0 && Number.isFinite(v) ? (Math.log10(v) - Math.log10(min)) / span : NaN),
      ticks: () => logTicks(min, max),
    }
  }
  let min = finite.length ? Math.min(...finite) : 0
  let max = finite.length ? Math.max(...finite) : 1
  if (options.nice && max > min) {
    const ticks = niceTicks(min, max, 5, options.integral)
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : max - min
    min = Math.min(min, roundTo(Math.floor(min / step + 1e-9) * step))
    max = Math.max(max, roundTo(Math.ceil(max / step - 1e-9) * step))
  }
  const lo = min
  const hi = max
  return {
    kind: 'linear',
    min: lo,
    max: hi,
    position: (v) => (!Number.isFinite(v) ? NaN : hi > lo ? (v - lo) / (hi - lo) : 0.5),
    ticks: (count = 5) => niceTicks(lo, hi, count, options.integral),
  }
}

/** A tick label: short numbers (4 significant digits, exponent form when tiny or huge). */
export function tickLabel(value: number): string {
  return formatNumber(value)
}

/**
 * Keeps the labels that fit: walks them in position order and drops one that would sit less
 * than `gap` pixels from the last one kept. The first and last are preferred.
 */
export function thinLabels<T extends { at: number }>(labels: readonly T[], gap: number): T[] {
  const sorted = [...labels].sort((a, b) => a.at - b.at)
  if (sorted.length <= 2) return sorted.length === 2 && sorted[1].at - sorted[0].at < gap ? [sorted[0]] : sorted
  const last = sorted[sorted.length - 1]
  const kept: T[] = [sorted[0]]
  for (const label of sorted.slice(1, -1)) {
    if (label.at - kept[kept.length - 1].at >= gap && last.at - label.at >= gap) kept.push(label)
  }
  if (last.at - kept[kept.length - 1].at >= gap) kept.push(last)
  return kept
}

/** Distinct trial colours (categorical), for up to 20 trials; more trials use {@link rampColor}. */
export const TRIAL_PALETTE = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#393b79',
  '#ad494a', '#637939', '#6baed6', '#fd8d3c', '#74c476', '#9e9ac8', '#e7969c', '#843c39', '#7b4173', '#31a354',
] as const

/** Lines of failed trials (and a metric no trial reached). */
export const FAILED_COLOR = '#9aa0a6'

// Dark blue (worst) through magenta to orange (best): every stop stays readable on white.
const RAMP: readonly [number, number, number][] = [
  [0x1b, 0x0c, 0x7e],
  [0x6a, 0x00, 0xa8],
  [0xb1, 0x2a, 0x90],
  [0xe1, 0x64, 0x62],
  [0xf2, 0x8f, 0x1e],
]

/** The colour of `t` in [0, 1] on the metric ramp (1 = best). */
export function rampColor(t: number): string {
  const clamped = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0
  const scaled = clamped * (RAMP.length - 1)
  const i = Math.min(RAMP.length - 2, Math.floor(scaled))
  const f = scaled - i
  const channel = (c: number) => Math.round(RAMP[i][c] + (RAMP[i + 1][c] - RAMP[i][c]) * f)
  return `#${[0, 1, 2].map((c) => channel(c).toString(16).padStart(2, '0')).join('')}`
}

/** Text cut to `max` characters with an ellipsis. */
export function clip(text: string, max: number): string {
  const limit = Math.max(2, Math.floor(max))
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text
}
