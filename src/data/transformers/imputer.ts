// Imputer: fills missing values (null, undefined, an absent column, NaN, '') in one or more
// scalar columns with the column's mean, median, most frequent value or a constant.
import { describeValue } from '../../errors.js'
import { requireInteger } from '../../util/checks.js'
import { SeededRandom } from '../../util/random.js'
import type { Row } from '../types.js'
import { BaseTransformer, badOption, forEachRow, requireColumnName, type RowSource, type TransformerJSON } from './base.js'
import { badState, cellError, checkType, defined, isMissing, optionsFrom, readState } from './cells.js'
import { countBounded } from './value-counts.js'

const TYPE = 'Imputer'

/** A fill value. */
export type FillValue = number | string | boolean

/** How {@link Imputer} picks the fill value of a column. */
export type ImputeStrategy = 'mean' | 'median' | 'most_frequent' | 'constant'

/** Options of {@link Imputer}. */
export interface ImputerOptions {
  /** The column(s) to fill; several columns are fitted in the same single pass. */
  inputCol: string | string[]
  /** Where to write, one per input column. @defaultValue `inputCol` (filled in place) */
  outputCol?: string | string[]
  /** @defaultValue 'mean' */
  strategy?: ImputeStrategy
  /** The value for `strategy: 'constant'` (required there, refused elsewhere). */
  fillValue?: FillValue
  /**
   * Median only: the size of the uniform reservoir sample each column keeps. The median is
   * exact when a column has at most this many values, else the sample's median (its rank
   * error shrinks as 1/√sampleSize). Memory: 8 bytes × sampleSize per column.
   * @defaultValue 100000
   */
  sampleSize?: number
  /** most_frequent only: most distinct values counted per column (bounds memory). @defaultValue 100000 */
  maxDistinct?: number
  /** Median only: seed of the reservoir sampler, so a fit is reproducible. @defaultValue 0 */
  seed?: number
}

/**
 * Fills missing values; other values pass through untouched. Mean and median need numbers;
 * most_frequent takes numbers, strings or booleans (ties go to the value seen first).
 *
 * @example
 * await new Imputer({ inputCol: ['age', 'income'], strategy: 'median' }).fit(rows)
 */
export class Imputer extends BaseTransformer {
  /** The columns read. */
  readonly inputCols: readonly string[]
  /** The columns written, one per input column. */
  readonly outputCols: readonly string[]
  /** How fill values are chosen. */
  readonly strategy: ImputeStrategy
  /** The constant, for `strategy: 'constant'`. */
  readonly fillValue?: FillValue
  /** Reservoir size of the median. */
  readonly sampleSize: number
  /** Distinct-value limit of most_frequent. */
  readonly maxDistinct: number
  /** Seed of the median's reservoir sampler. */
  readonly seed: number
  readonly learnsFromData: boolean
  private fill?: FillValue[]

  constructor(options: ImputerOptions) {
    super(TYPE)
    if (options === null || typeof options !== 'object') throw badOption(TYPE, 'options', 'an object with inputCol', options)
    const inputs = Array.isArray(options.inputCol) ? options.inputCol : [options.inputCol]
    if (inputs.length === 0) throw badOption(TYPE, 'inputCol', 'a column name or a non-empty array of them', options.inputCol)
    this.inputCols = inputs.map((c, i) => requireColumnName(TYPE, Array.isArray(options.inputCol) ? `inputCol[${i}]` : 'inputCol', c))
    const outputs = options.outputCol === undefined ? this.inputCols : Array.isArray(options.outputCol) ? options.outputCol : [options.outputCol]
    if (outputs.length !== inputs.length) throw badOption(TYPE, 'outputCol', `${inputs.length} column name(s), one per inputCol`, options.outputCol)
    this.outputCols = outputs.map((c) => requireColumnName(TYPE, 'outputCol', c))
    this.strategy = options.strategy ?? 'mean'
    if (!['mean', 'median', 'most_frequent', 'constant'].includes(this.strategy)) {
      throw badOption(TYPE, 'strategy', "'mean', 'median', 'most_frequent' or 'constant'", options.strategy)
    }
    const { fillValue } = options
    if (this.strategy === 'constant') {
      if (!isFillValue(fillValue)) throw badOption(TYPE, 'fillValue', "a number, string or boolean that is not missing, for strategy 'constant'", fillValue)
      this.fillValue = fillValue
      this.fill = this.inputCols.map(() => fillValue)
    } else if (fillValue !== undefined) {
      throw badOption(TYPE, 'fillValue', `undefined for strategy '${this.strategy}' (it applies to 'constant' only)`, fillValue)
    }
    this.learnsFromData = this.strategy !== 'constant'
    this.sampleSize = requireInteger('TRANSFORMER_BAD_OPTION', TYPE, 'sampleSize', options.sampleSize ?? 100_000)
    this.maxDistinct = requireInteger('TRANSFORMER_BAD_OPTION', TYPE, 'maxDistinct', options.maxDistinct ?? 100_000)
    this.seed = options.seed ?? 0
    if (!Number.isInteger(this.seed)) throw badOption(TYPE, 'seed', 'an integer', options.seed)
  }

  get fitted(): boolean {
    return this.fill !== undefined
  }

  /** The fill value of each input column, or undefined before fit. */
  get fillValues(): readonly FillValue[] | undefined {
    return this.fill
  }

  protected describe(): string {
    return `column${this.inputCols.length > 1 ? 's' : ''} ${this.inputCols.map((c) => `"${c}"`).join(', ')}`
  }

  /** Computes each column's fill value from its non-missing values, all columns in one pass. */
  async fit(data: RowSource): Promise<this> {
    if (!this.learnsFromData) return this
    const stats = this.inputCols.map((column) => newStat(this.strategy, column, this))
    await forEachRow(data, (row, index) => {
      if (row === null || typeof row !== 'object') throw cellError(TYPE, this.inputCols[0], `expected a row object, received ${describeValue(row)}`, index)
      for (const stat of stats) {
        const value = row[stat.column]
        if (!isMissing(value)) stat.add(value, index)
      }
    })
    this.fill = stats.map((stat) => {
      const value = stat.result()
      if (value === undefined) throw this.noData(`column "${stat.column}" has no non-missing values to compute the ${this.strategy} from`)
      return value
    })
    return this
  }

  transform(row: Row): Row {
    this.requireFitted()
    const fill = this.fill!
    const out: Row = { ...row }
    for (let i = 0; i < this.inputCols.length; i++) {
      const value = row[this.inputCols[i]]
      out[this.outputCols[i]] = isMissing(value) ? fill[i] : value
    }
    return out
  }

  toJSON(): TransformerJSON {
    return {
      type: TYPE,
      inputCol: [...this.inputCols],
      outputCol: [...this.outputCols],
      strategy: this.strategy,
      ...defined({ fillValue: this.fillValue }),
      sampleSize: this.sampleSize,
      maxDistinct: this.maxDistinct,
      seed: this.seed,
      state: this.learnsFromData && this.fill !== undefined ? { fill: [...this.fill] } : null,
    }
  }

  /** Rebuilds an imputer saved with {@link Imputer.toJSON}. */
  static fromJSON(json: TransformerJSON): Imputer {
    checkType(json, TYPE)
    const imputer = new Imputer(optionsFrom<ImputerOptions>(json))
    const state = readState(TYPE, json)
    if (state === null || !imputer.learnsFromData) return imputer
    const fill = state.fill
    if (!Array.isArray(fill) || fill.length !== imputer.inputCols.length || !fill.every(isFillValue)) {
      throw badState(TYPE, 'state.fill', `an array of ${imputer.inputCols.length} numbers, strings or booleans`, fill)
    }
    imputer.fill = fill as FillValue[]
    return imputer
  }
}

function isFillValue(value: unknown): value is FillValue {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value !== '') || typeof value === 'boolean'
}

/** One column's running statistic. */
interface Stat {
  column: string
  add(value: unknown, index: number): void
  /** The fill value, or undefined when no value was seen. */
  result(): FillValue | undefined
}

function newStat(strategy: ImputeStrategy, column: string, options: Imputer): Stat {
  const numberOf = (value: unknown, index: number): number => {
    if (typeof value === 'number' && Number.isFinite(value)) return value
    throw cellError(TYPE, column, `expected a number for strategy '${strategy}', received ${describeValue(value)}`, index)
  }
  if (strategy === 'mean') {
    let n = 0
    let mean = 0
    return {
      column,
      add: (value, index) => {
        mean += (numberOf(value, index) - mean) / ++n
      },
      result: () => (n === 0 ? undefined : mean),
    }
  }
  if (strategy === 'median') {
    // Reservoir sampling (Vitter's algorithm R): a uniform sample of at most sampleSize values.
    const random = new SeededRandom(options.seed)
    const sample: number[] = []
    let seen = 0
    return {
      column,
      add: (value, index) => {
        const x = numberOf(value, index)
        seen++
        if (sample.length < options.sampleSize) sample.push(x)
        else {
          const slot = random.nextInt(seen)
          if (slot < options.sampleSize) sample[slot] = x
        }
      },
      result: () => {
        if (sample.length === 0) return undefined
        const sorted = Float64Array.from(sample).sort()
        const middle = sorted.length >> 1
        return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
      },
    }
  }
  // most_frequent
  const counts = new Map<FillValue, number>()
  return {
    column,
    add: (value, index) => {
      if (!isFillValue(value)) throw cellError(TYPE, column, `expected a number, string or boolean, received ${describeValue(value)}`, index)
      countBounded(counts, value, options.maxDistinct, () =>
        cellError(TYPE, column, `more than maxDistinct (${options.maxDistinct}) distinct values for most_frequent; raise maxDistinct or use another strategy`, index),
      )
    },
    result: () => {
      let best: FillValue | undefined
      let bestCount = 0
      for (const [value, count] of counts) if (count > bestCount) [best, bestCount] = [value, count]
      return best
    },
  }
}
