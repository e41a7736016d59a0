// The shapes of a data profile (what Facets Overview shows per column) and the options of
// the one-pass profiler. Everything here is plain JSON: profiles can be saved and compared later.

/** How a column is summarised: numbers, categories (strings, booleans), vectors, or nothing seen. */
export type ColumnKind = 'numeric' | 'categorical' | 'vector' | 'empty'

/** The value type of a column as profiled: a schema type, or `'null'` when every value was missing. */
export type ProfiledType = 'number' | 'integer' | 'boolean' | 'string' | 'vector' | 'bytes' | 'null'

/** One bin of a histogram: values in `[low, high)` (the last bin includes `high`). */
export interface HistogramBin {
  low: number
  high: number
  count: number
}

/** Summary of numeric values (a numeric column, or the elements of a vector column). */
export interface NumericStats {
  /** Finite values seen (±Infinity counts in `infinite`, not here). */
  count: number
  zeros: number
  infinite: number
  mean: number
  /** Population standard deviation (divides by `count`), as Facets Overview shows. */
  std: number
  min: number
  max: number
  /** Exact when `count <= sample.length` (the whole column fits the sample), else estimated from the sample. */
  median: number
  p25: number
  p75: number
  /** Equal-width bins over `[min, max]`; counts are exact when not `approximate`, else scaled from the sample. */
  histogram: HistogramBin[]
  /** True when `count` exceeded the sample size, so quantiles and histogram come from a uniform sample. */
  approximate: boolean
  /** A uniform random sample of the values (reservoir), sorted ascending; drift tests use it. */
  sample: number[]
}

/** One value of a categorical column and how often it occurred. */
export interface ValueCount {
  value: string
  count: number
}

/** Summary of string or boolean values. */
export interface CategoricalStats {
  count: number
  /** Distinct values: exact while `distinctApproximate` is false, else a HyperLogLog estimate (about ±1%). */
  distinct: number
  distinctApproximate: boolean
  /** The most frequent values, most frequent first (at most `topValues`). */
  top: ValueCount[]
  /**
   * Frequencies of the most frequent values (at most `categoryCap`), most frequent first; drift
   * compares these. Exact unless `frequenciesApproximate`.
   */
  frequencies: ValueCount[]
  /** Values not listed in `frequencies` (the long tail), summed. */
  otherCount: number
  /** True once the column had more distinct values than the profiler tracks exactly. */
  frequenciesApproximate: boolean
  /** Mean length of the strings, in UTF-16 code units. */
  meanLength: number
}

/** Summary of array-valued cells (images, embeddings, TFRecord lists). */
export interface VectorStats {
  count: number
  minLength: number
  maxLength: number
  meanLength: number
  /** What the elements are: numbers (summarised in `elements`), strings, or byte strings. */
  elementType: 'number' | 'string' | 'bytes' | 'mixed'
  /** Statistics of all numeric elements of all vectors, when elements are numbers. */
  elements?: NumericStats
}

/** The profile of one column. */
export interface ColumnProfile {
  name: string
  /** The dominant kind: the one most non-missing values have. */
  kind: ColumnKind
  type: ProfiledType
  /** Non-missing values (of any type). */
  count: number
  /** Rows where the column was absent, `null`, `undefined` or NaN. */
  missing: number
  /** Non-missing values by JavaScript kind; more than one key means mixed types. */
  typeCounts: Partial<Record<'number' | 'boolean' | 'string' | 'vector' | 'bytes' | 'object', number>>
  numeric?: NumericStats
  categorical?: CategoricalStats
  vector?: VectorStats
}

/** The profile of a data set: one entry per column, in order of first appearance. */
export interface Profile {
  /** A label for reports, e.g. the file name. */
  name?: string
  rows: number
  columns: ColumnProfile[]
  /** Columns seen after `maxColumns` was reached; not profiled. */
  columnsDropped: number
  /** True when the pass stopped at `limit` rows and at least one more row was left unread. */
  truncated: boolean
}

/** Options of {@link profileDataset}. */
export interface ProfileOptions {
  /** A label for the profile (reports show it). @defaultValue undefined */
  name?: string
  /**
   * Reservoir size per numeric column (and per vector column's elements). Median, quartiles,
   * histogram and drift tests are exact while a column has at most this many values; past it
   * they come from a uniform sample, with a quantile rank error of about 1/sqrt(sampleSize)
   * (±1% of rank at the default) and histogram bin shares within about ±0.5%.
   * @defaultValue 10000
   */
  sampleSize?: number
  /** Equal-width histogram bins. @defaultValue 20 */
  bins?: number
  /** Distinct values counted exactly per column before switching to HyperLogLog. @defaultValue 10000 */
  distinctCap?: number
  /** Value frequencies kept per categorical column (the rest is summed in `otherCount`). @defaultValue 1000 */
  categoryCap?: number
  /** Top values listed per categorical column. @defaultValue 10 */
  topValues?: number
  /** Columns profiled at most; later new columns are counted in `columnsDropped`. @defaultValue 10000 */
  maxColumns?: number
  /**
   * Column names known before reading (e.g. a CSV header): profiled first, in this order, so a
   * column appears (kind 'empty', count 0) even when no row holds it or there are no rows.
   * @defaultValue none: columns are the keys the rows have
   */
  columns?: string[]
  /** Stop after this many rows. @defaultValue no limit */
  limit?: number
  /** Seed of the reservoir sampling, so a profile is reproducible. @defaultValue 42 */
  seed?: number
  /** Called every `progressEvery` rows with the rows read so far. @defaultValue none */
  onProgress?: (rows: number) => void
  /** @defaultValue 10000 */
  progressEvery?: number
}

/** The options with their defaults applied. */
export type ResolvedProfileOptions = Required<Omit<ProfileOptions, 'name' | 'limit' | 'onProgress' | 'columns'>> & Pick<ProfileOptions, 'name' | 'limit' | 'onProgress' | 'columns'>

/** Default values of {@link ProfileOptions}. */
export const PROFILE_DEFAULTS = {
  sampleSize: 10_000,
  bins: 20,
  distinctCap: 10_000,
  categoryCap: 1_000,
  topValues: 10,
  maxColumns: 10_000,
  seed: 42,
  progressEvery: 10_000,
} as const
