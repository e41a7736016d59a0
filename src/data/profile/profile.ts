// The one-pass profiler: feeds every cell of every row to its column's accumulators and
// turns them into a Profile (Facets Overview's numbers) with memory bounded per column.
import { MaltError, describeValue } from '../../errors.js'
import { requireInteger } from '../../util/checks.js'
import type { Row } from '../types.js'
import { CategoricalAccumulator, NumericAccumulator, VectorAccumulator, type VectorLike } from './stats.js'
import { PROFILE_DEFAULTS, type ColumnKind, type ColumnProfile, type Profile, type ProfileOptions, type ProfiledType, type ResolvedProfileOptions } from './types.js'

/** Bytes values up to this long are tried as UTF-8 text (categories); longer ones are binary. */
const MAX_TEXT_BYTES = 1024
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** The text of valid UTF-8 bytes without control characters, else undefined (binary data). */
function decodeText(bytes: Uint8Array): string | undefined {
  let text: string
  try {
    text = strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
  // eslint-disable-next-line no-control-regex -- control characters mark binary, not text
  return /[\u0000-\u0008\u000e-\u001f]/.test(text) ? undefined : text
}

type TypeKey = keyof ColumnProfile['typeCounts']

class ColumnAccumulator {
  private count = 0
  private readonly typeCounts: ColumnProfile['typeCounts'] = {}
  private booleans = 0
  private numeric: NumericAccumulator | undefined
  private categorical: CategoricalAccumulator | undefined
  private vector: VectorAccumulator | undefined

  constructor(
    readonly name: string,
    private readonly options: ResolvedProfileOptions,
    private readonly seed: number,
  ) {}

  add(value: unknown): void {
    if (value === null || value === undefined) return
    switch (typeof value) {
      case 'number':
        if (Number.isNaN(value)) return
        this.numbers().add(value)
        return this.counted('number')
      case 'bigint':
        this.numbers().add(Number(value))
        return this.counted('number')
      case 'boolean':
        this.booleans++
        this.categories().add(String(value))
        return this.counted('boolean')
      case 'string':
        this.categories().add(value)
        return this.counted('string')
      case 'object':
        return this.addObject(value)
      default:
        this.categories().add(String(value))
        return this.counted('object')
    }
  }

  private addObject(value: object): void {
    if (value instanceof Uint8Array) {
      // TFRecord keeps strings as bytes: short valid UTF-8 is a category, as Facets shows it.
      const text = value.length <= MAX_TEXT_BYTES ? decodeText(value) : undefined
      if (text !== undefined) {
        this.categories().add(text)
        return this.counted('string')
      }
      this.vectors().add(value, true)
      return this.counted('bytes')
    }
    if (Array.isArray(value) || ArrayBuffer.isView(value)) {
      this.vectors().add(value as VectorLike, false)
      return this.counted('vector')
    }
    // Nested objects (JSON Lines) and dates: summarised as categories of their text.
    const text = value instanceof Date ? value.toISOString() : safeJson(value)
    this.categories().add(text)
    this.counted('object')
  }

  private counted(key: TypeKey): void {
    this.count++
    this.typeCounts[key] = (this.typeCounts[key] ?? 0) + 1
  }

  private numbers(): NumericAccumulator {
    return (this.numeric ??= new NumericAccumulator(this.options.sampleSize, this.seed))
  }

  private categories(): CategoricalAccumulator {
    return (this.categorical ??= new CategoricalAccumulator(this.options.distinctCap, this.options.categoryCap))
  }

  private vectors(): VectorAccumulator {
    return (this.vector ??= new VectorAccumulator(this.options.sampleSize, this.seed + 1))
  }

  finish(rows: number): ColumnProfile {
    const { bins, topValues } = this.options
    const counts = this.typeCounts
    const numericCount = (counts.number ?? 0)
    const categoricalCount = (counts.string ?? 0) + (counts.boolean ?? 0) + (counts.object ?? 0)
    const vectorCount = (counts.vector ?? 0) + (counts.bytes ?? 0)
    const numeric = this.numeric?.finish(bins)
    const categorical = this.categorical?.finish(topValues)
    const vector = this.vector?.finish(bins)
    let kind: ColumnKind = 'empty'
    let type: ProfiledType = 'null'
    const most = Math.max(numericCount, categoricalCount, vectorCount)
    if (most === 0) {
      kind = 'empty'
    } else if (numericCount === most) {
      kind = 'numeric'
      type = this.numeric?.integral && (numeric?.count ?? 0) > 0 ? 'integer' : 'number'
    } else if (categoricalCount === most) {
      kind = 'categorical'
      type = this.booleans === categoricalCount ? 'boolean' : 'string'
    } else {
      kind = 'vector'
      type = vector?.elementType === 'bytes' ? 'bytes' : 'vector'
    }
    return {
      name: this.name,
      kind,
      type,
      count: this.count,
      missing: rows - this.count,
      typeCounts: { ...counts },
      ...(numeric ? { numeric } : {}),
      ...(categorical ? { categorical } : {}),
      ...(vector ? { vector } : {}),
    }
  }
}

function safeJson(value: object): string {
  try {
    return JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'bigint' ? inner.toString() : inner)) ?? String(value)
  } catch {
    return String(value)
  }
}

/** Applies the defaults of {@link ProfileOptions} and checks every value before any work. */
export function resolveProfileOptions(options: ProfileOptions = {}): ResolvedProfileOptions {
  const d = PROFILE_DEFAULTS
  const positive = (name: Exclude<keyof typeof PROFILE_DEFAULTS, 'seed'>): number => requireInteger('PROFILE_BAD_OPTION', 'profile', name, options[name] ?? d[name])
  if (options.limit !== undefined) requireInteger('PROFILE_BAD_OPTION', 'profile', 'limit', options.limit, 0)
  const seed = options.seed ?? d.seed
  if (!Number.isInteger(seed)) throw new MaltError('PROFILE_BAD_OPTION', `profile: expected seed to be an integer, received ${describeValue(seed)}`)
  const { columns } = options
  if (columns !== undefined && (!Array.isArray(columns) || !columns.every((name) => typeof name === 'string'))) {
    throw new MaltError('PROFILE_BAD_OPTION', `profile: expected columns to be an array of column names, received ${describeValue(columns)}`)
  }
  return {
    name: options.name,
    limit: options.limit,
    onProgress: options.onProgress,
    columns,
    seed,
    sampleSize: positive('sampleSize'),
    bins: positive('bins'),
    distinctCap: positive('distinctCap'),
    categoryCap: positive('categoryCap'),
    topValues: positive('topValues'),
    maxColumns: positive('maxColumns'),
    progressEvery: positive('progressEvery'),
  }
}

/**
 * Builds a profile row by row; {@link profileDataset} drives it, and the CLI feeds the same
 * rows to a profiler and a schema validator in one pass.
 */
export class Profiler {
  private readonly options: ResolvedProfileOptions
  private readonly columns = new Map<string, ColumnAccumulator>()
  private rows = 0
  private dropped = new Set<string>()
  private truncated = false

  constructor(options: ProfileOptions = {}) {
    this.options = resolveProfileOptions(options)
    for (const name of this.options.columns ?? []) this.column(name)
  }

  /** The accumulator of `name`, created on first sight; undefined once `maxColumns` are tracked. */
  private column(name: string): ColumnAccumulator | undefined {
    let column = this.columns.get(name)
    if (!column) {
      if (this.columns.size >= this.options.maxColumns) {
        this.dropped.add(name)
        return undefined
      }
      column = new ColumnAccumulator(name, this.options, this.options.seed + this.columns.size * 7919)
      this.columns.set(name, column)
    }
    return column
  }

  /** Rows added so far. */
  get rowCount(): number {
    return this.rows
  }

  /** True once `limit` rows were added: the caller should stop reading. */
  get full(): boolean {
    return this.options.limit !== undefined && this.rows >= this.options.limit
  }

  /**
   * Adds one row; once `limit` rows were added it ignores the row, marks the profile
   * truncated (a row was left unread) and returns false.
   */
  add(row: Row): boolean {
    if (this.full) {
      this.truncated = true
      return false
    }
    if (row === null || typeof row !== 'object') {
      throw new MaltError('PROFILE_BAD_ROW', `profile: expected row ${this.rows + 1} to be an object of columns, received ${describeValue(row)}`)
    }
    this.rows++
    for (const name in row) this.column(name)?.add(row[name])
    const { onProgress, progressEvery } = this.options
    if (onProgress && this.rows % progressEvery === 0) onProgress(this.rows)
    return true
  }

  /** Marks the profile as cut at `limit`: call it only when a row past the limit exists. */
  markTruncated(): void {
    this.truncated = true
  }

  /** The finished profile. */
  finish(): Profile {
    return {
      ...(this.options.name !== undefined ? { name: this.options.name } : {}),
      rows: this.rows,
      columns: [...this.columns.values()].map((column) => column.finish(this.rows)),
      columnsDropped: this.dropped.size,
      truncated: this.truncated,
    }
  }
}

/**
 * Profiles rows in one streaming pass with bounded memory (see {@link ProfileOptions} for the
 * caps). Columns are `options.columns` (if given) followed by the other keys of the rows, in
 * order of first appearance; a row without a column counts as missing. At `limit`, one more
 * row is pulled to learn whether the data went on (`truncated`).
 *
 * @example
 * const profile = await profileDataset(data.csv('train.csv'), { name: 'train' })
 * console.log(profile.columns.find((c) => c.name === 'age')?.numeric?.median)
 */
export async function profileDataset(rows: AsyncIterable<Row> | Iterable<Row>, options: ProfileOptions = {}): Promise<Profile> {
  const profiler = new Profiler(options)
  // Reads one row past `limit` (if there is one), so `truncated` means rows were left unread.
  for await (const row of rows) if (!profiler.add(row)) break
  return profiler.finish()
}

/**
 * A copy of the profile without the reservoir samples (empty `sample` arrays): compact JSON
 * for people and logs. Keep the samples when the profile will be compared later.
 */
export function stripSamples(profile: Profile): Profile {
  return {
    ...profile,
    columns: profile.columns.map((column) => ({
      ...column,
      ...(column.numeric ? { numeric: { ...column.numeric, sample: [] } } : {}),
      ...(column.vector?.elements ? { vector: { ...column.vector, elements: { ...column.vector.elements, sample: [] } } } : {}),
    })),
  }
}
