// Drift between two data sets (training vs serving, train vs test): the two-sample
// Kolmogorov–Smirnov test for numbers, the Jensen–Shannon distance for categories.
import { MaltError, describeValue } from '../../errors.js'
import type { Row } from '../types.js'
import { profileDataset } from './profile.js'
import type { CategoricalStats, ColumnKind, ColumnProfile, Profile, ProfileOptions } from './types.js'

/** The result of a two-sample Kolmogorov–Smirnov test. */
export interface KsResult {
  /** The largest distance between the two empirical CDFs, in [0, 1]. */
  d: number
  /** Asymptotic p-value: Q_KS(sqrt(n·m/(n+m))·D), Kolmogorov's limiting distribution. */
  pValue: number
  n: number
  m: number
}

/**
 * The two-sample KS statistic D of two ascending samples and its asymptotic p-value
 * (Kolmogorov's limiting distribution, no small-sample correction): reliable
 * when n·m/(n+m) is above ~10, only indicative below. Ties step both CDFs together.
 * Profiles pass their reservoir samples, so n and m are the sample sizes (≤ sampleSize).
 */
export function ksTest(a: readonly number[], b: readonly number[]): KsResult {
  const n = a.length
  const m = b.length
  if (n === 0 || m === 0) return { d: NaN, pValue: NaN, n, m }
  let i = 0
  let j = 0
  let d = 0
  while (i < n && j < m) {
    const value = Math.min(a[i], b[j])
    while (i < n && a[i] === value) i++
    while (j < m && b[j] === value) j++
    const gap = Math.abs(i / n - j / m)
    if (gap > d) d = gap
  }
  return { d, pValue: kolmogorovSurvival(Math.sqrt((n * m) / (n + m)) * d), n, m }
}

/**
 * P(K > x) for Kolmogorov's distribution: 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²x²}. For small x the
 * series converges slowly, so the equivalent theta-function form 1 − (√(2π)/x) Σ e^{−(2k−1)²π²/(8x²)} is used.
 */
export function kolmogorovSurvival(x: number): number {
  if (!(x > 0)) return 1
  if (x < 1) {
    let sum = 0
    for (let k = 1; k <= 6; k++) sum += Math.exp(-((2 * k - 1) ** 2) * Math.PI ** 2 / (8 * x * x))
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / x) * sum))
  }
  let sum = 0
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * x * x)
    sum += k % 2 === 1 ? term : -term
    if (term < 1e-17) break
  }
  return Math.min(1, Math.max(0, 2 * sum))
}

/**
 * Jensen–Shannon distance (the square root of the JS divergence with base-2 logarithms), in
 * [0, 1]: 0 for equal distributions, 1 for disjoint ones. Inputs are counts or weights by
 * category; they are normalised here.
 */
export function jensenShannonDistance(p: ReadonlyMap<string, number>, q: ReadonlyMap<string, number>): number {
  const totalP = [...p.values()].reduce((s, v) => s + v, 0)
  const totalQ = [...q.values()].reduce((s, v) => s + v, 0)
  if (totalP === 0 || totalQ === 0) return NaN
  let divergence = 0
  for (const key of new Set([...p.keys(), ...q.keys()])) {
    const pi = (p.get(key) ?? 0) / totalP
    const qi = (q.get(key) ?? 0) / totalQ
    const mi = (pi + qi) / 2
    if (pi > 0) divergence += 0.5 * pi * Math.log2(pi / mi)
    if (qi > 0) divergence += 0.5 * qi * Math.log2(qi / mi)
  }
  return Math.sqrt(Math.min(1, Math.max(0, divergence)))
}

/** The largest difference between the two frequency distributions' probabilities (TFX's L-infinity distance). */
export function lInfinityDistance(p: ReadonlyMap<string, number>, q: ReadonlyMap<string, number>): number {
  const totalP = [...p.values()].reduce((s, v) => s + v, 0)
  const totalQ = [...q.values()].reduce((s, v) => s + v, 0)
  if (totalP === 0 || totalQ === 0) return NaN
  let most = 0
  for (const key of new Set([...p.keys(), ...q.keys()])) most = Math.max(most, Math.abs((p.get(key) ?? 0) / totalP - (q.get(key) ?? 0) / totalQ))
  return most
}

/** When a column counts as drifted. */
export interface DriftThresholds {
  /** Numeric: flag when the KS p-value is below this… @defaultValue 0.01 */
  ksPValue?: number
  /** …and D is above this (large samples make tiny, harmless shifts significant). @defaultValue 0.1 */
  ksStatistic?: number
  /** Categorical: flag when the Jensen–Shannon distance is above this. @defaultValue 0.1 */
  jensenShannon?: number
}

/** Default {@link DriftThresholds}. */
export const DRIFT_DEFAULTS: Required<DriftThresholds> = { ksPValue: 0.01, ksStatistic: 0.1, jensenShannon: 0.1 }

/** Drift of one column between data set A (reference, e.g. train) and B (e.g. test). */
export interface ColumnDrift {
  name: string
  /** Where the column is: both data sets, or only one. */
  presence: 'both' | 'a-only' | 'b-only'
  kindA?: ColumnKind
  kindB?: ColumnKind
  /** Which statistic was computed: KS (numbers, vector elements), JS distance (categories), or none. */
  test: 'ks' | 'jensen-shannon' | 'none'
  ks?: KsResult
  jensenShannon?: number
  lInfinity?: number
  /** Fraction of rows missing the column in A and in B. */
  missingA?: number
  missingB?: number
  drifted: boolean
  /** Why it was flagged (or why no test ran), for people. */
  reason: string
}

/** What {@link compareProfiles} found. */
export interface Comparison {
  nameA?: string
  nameB?: string
  columns: ColumnDrift[]
  /** Names of the columns flagged as drifted (including those in one data set only, and type changes). */
  drifted: string[]
  thresholds: Required<DriftThresholds>
}

function frequencyMap(stats: CategoricalStats): Map<string, number> {
  const map = new Map(stats.frequencies.map((f) => [f.value, f.count]))
  // The long tail is one bucket on each side: an approximation when it is large (documented on categoryCap).
  if (stats.otherCount > 0) map.set('\u0000other', stats.otherCount)
  return map
}

function compareColumn(a: ColumnProfile, b: ColumnProfile, t: Required<DriftThresholds>, rowsA: number, rowsB: number): ColumnDrift {
  const base = {
    name: a.name,
    presence: 'both' as const,
    kindA: a.kind,
    kindB: b.kind,
    missingA: rowsA > 0 ? a.missing / rowsA : 0,
    missingB: rowsB > 0 ? b.missing / rowsB : 0,
  }
  if (a.kind !== b.kind && a.kind !== 'empty' && b.kind !== 'empty') {
    return { ...base, test: 'none', drifted: true, reason: `type changed: ${a.type} in A, ${b.type} in B` }
  }
  const sampleA = a.kind === 'vector' ? a.vector?.elements?.sample : a.numeric?.sample
  const sampleB = b.kind === 'vector' ? b.vector?.elements?.sample : b.numeric?.sample
  if ((a.kind === 'numeric' || a.kind === 'vector') && sampleA?.length && sampleB?.length) {
    const ks = ksTest(sampleA, sampleB)
    const drifted = ks.pValue < t.ksPValue && ks.d > t.ksStatistic
    const what = `KS D = ${ks.d.toFixed(3)}, p = ${ks.pValue.toPrecision(2)}`
    return { ...base, test: 'ks', ks, drifted, reason: drifted ? `${what} (p < ${t.ksPValue} and D > ${t.ksStatistic})` : what }
  }
  if (a.kind === 'categorical' && a.categorical && b.categorical) {
    const p = frequencyMap(a.categorical)
    const q = frequencyMap(b.categorical)
    const js = jensenShannonDistance(p, q)
    const drifted = js > t.jensenShannon
    const what = `JS distance = ${js.toFixed(3)}`
    return { ...base, test: 'jensen-shannon', jensenShannon: js, lInfinity: lInfinityDistance(p, q), drifted, reason: drifted ? `${what} (> ${t.jensenShannon})` : what }
  }
  return { ...base, test: 'none', drifted: false, reason: 'no values to compare' }
}

function checkThresholds(thresholds: DriftThresholds): Required<DriftThresholds> {
  const t = { ...DRIFT_DEFAULTS, ...thresholds }
  for (const [name, value] of Object.entries(t)) {
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw new MaltError('DRIFT_BAD_OPTION', `compareProfiles: expected thresholds.${name} to be a number in [0, 1], received ${describeValue(value)}`)
    }
  }
  return t
}

/**
 * Compares two profiles column by column: KS on the numeric samples (vector columns: on
 * their element samples), Jensen–Shannon distance on category frequencies, and flags
 * columns above the thresholds, columns whose kind changed, and columns in one set only.
 */
export function compareProfiles(a: Profile, b: Profile, thresholds: DriftThresholds = {}): Comparison {
  const t = checkThresholds(thresholds)
  const inB = new Map(b.columns.map((c) => [c.name, c]))
  const inA = new Set(a.columns.map((c) => c.name))
  const columns: ColumnDrift[] = []
  for (const column of a.columns) {
    const other = inB.get(column.name)
    if (other) columns.push(compareColumn(column, other, t, a.rows, b.rows))
    else columns.push({ name: column.name, presence: 'a-only', kindA: column.kind, test: 'none', drifted: true, reason: 'only in A' })
  }
  for (const column of b.columns) {
    if (!inA.has(column.name)) columns.push({ name: column.name, presence: 'b-only', kindB: column.kind, test: 'none', drifted: true, reason: 'only in B' })
  }
  return {
    ...(a.name !== undefined ? { nameA: a.name } : {}),
    ...(b.name !== undefined ? { nameB: b.name } : {}),
    columns,
    drifted: columns.filter((c) => c.drifted).map((c) => c.name),
    thresholds: t,
  }
}

/** Profiles both data sets (same options) and compares them. */
export async function compareDatasets(
  a: AsyncIterable<Row> | Iterable<Row>,
  b: AsyncIterable<Row> | Iterable<Row>,
  options: ProfileOptions & { thresholds?: DriftThresholds } = {},
): Promise<{ a: Profile; b: Profile; comparison: Comparison }> {
  const { thresholds, ...profileOptions } = options
  checkThresholds(thresholds ?? {})
  const profileA = await profileDataset(a, profileOptions)
  const profileB = await profileDataset(b, profileOptions)
  return { a: profileA, b: profileB, comparison: compareProfiles(profileA, profileB, thresholds) }
}
