// OneHotEncoder: a category (integer or string) → a vector with a 1 at the category's
// position, as dist-keras' OneHotTransformer; categories are given or learned in fit.
import { MaltError, describeValue } from '../../errors.js'
import type { Row } from '../types.js'
import { requireInteger } from '../../util/checks.js'
import { ColumnTransformer, badOption, type ColumnOptions, type RowSource, type TransformerJSON } from './base.js'
import { badState, cellError, checkType, isMissing, optionsFrom, readCell, readState, withColumn } from './cells.js'
import { countColumnValues, positionIndex, unknownValueError } from './value-counts.js'

const TYPE = 'OneHotEncoder'

/** A category value: numbers and strings are distinct (`1` is not `'1'`). */
export type Category = string | number

/** Options of {@link OneHotEncoder}. */
export interface OneHotEncoderOptions extends ColumnOptions {
  /**
   * The categories in output order, or a count `n` for the integers 0..n−1. When given,
   * `fit` reads nothing.
   * @defaultValue learned by `fit`: numbers ascending, then strings in code-point order
   */
  categories?: Category[] | number
  /**
   * A category not in `categories` at transform time: `'error'` throws, `'ignore'` gives
   * an all-zero vector (missing values count as unknown).
   * @defaultValue 'error'
   */
  handleUnknown?: 'error' | 'ignore'
  /**
   * Most distinct values `fit` accepts before it stops with an error (bounds its memory;
   * a column with more is probably not categorical).
   * @defaultValue 10000
   */
  maxCategories?: number
}

/**
 * Encodes a category as a one-hot `Float32Array` of length `categories.length`.
 *
 * @example
 * new OneHotEncoder({ inputCol: 'digit', categories: 10 }) // 3 → [0,0,0,1,0,0,0,0,0,0]
 */
export class OneHotEncoder extends ColumnTransformer {
  /** What an unknown category gives. */
  readonly handleUnknown: 'error' | 'ignore'
  /** The limit on distinct values during fit. */
  readonly maxCategories: number
  readonly learnsFromData: boolean
  private index?: Map<Category, number>

  constructor(options: OneHotEncoderOptions) {
    super(TYPE, options)
    this.handleUnknown = options.handleUnknown ?? 'error'
    if (this.handleUnknown !== 'error' && this.handleUnknown !== 'ignore') {
      throw badOption(TYPE, 'handleUnknown', "'error' or 'ignore'", options.handleUnknown)
    }
    this.maxCategories = requireInteger('TRANSFORMER_BAD_OPTION', TYPE, 'maxCategories', options.maxCategories ?? 10_000)
    const given = options.categories
    this.learnsFromData = given === undefined
    if (typeof given === 'number') {
      if (!Number.isInteger(given) || given < 1) throw badOption(TYPE, 'categories', 'a positive integer count or an array of categories', given)
    } else if (given !== undefined && (!Array.isArray(given) || given.length === 0)) {
      throw badOption(TYPE, 'categories', 'a positive integer count or a non-empty array of categories', given)
    }
    if (given !== undefined) {
      const list = typeof given === 'number' ? Array.from({ length: given }, (_, i) => i) : given
      this.setCategories(list, (detail, value) => badOption(TYPE, 'categories', detail, value))
    }
  }

  get fitted(): boolean {
    return this.index !== undefined
  }

  /** The categories in output order, or undefined before fit. */
  get categories(): readonly Category[] | undefined {
    return this.index === undefined ? undefined : [...this.index.keys()]
  }

  /** Collects the distinct values of the column (at most `maxCategories`), in one pass. */
  async fit(data: RowSource): Promise<this> {
    if (!this.learnsFromData) return this
    const seen = await countColumnValues(TYPE, data, this.inputCol, {
      keyOf: (value) => (isValidCategory(value) ? value : undefined),
      expected: 'a string or number category',
      max: this.maxCategories,
      tooMany: `more than maxCategories (${this.maxCategories}) distinct values; raise maxCategories or give categories`,
    })
    if (seen.size === 0) throw this.noData('the data has no rows')
    this.setCategories([...seen.keys()].sort(compareCategories), (detail, value) => cellError(TYPE, this.inputCol, `expected ${detail}, received ${describeValue(value)}`))
    return this
  }

  transform(row: Row): Row {
    this.requireFitted()
    const index = this.index!
    const value = readCell(TYPE, row, this.inputCol)
    const position = isCategory(value) ? index.get(value) : undefined
    const out = new Float32Array(index.size)
    if (position !== undefined) {
      out[position] = 1
    } else if (this.handleUnknown === 'error') {
      throw unknownValueError(TYPE, this.inputCol, { one: 'category', many: 'categories' }, value, [...index.keys()], "use handleUnknown: 'ignore' for all zeros")
    }
    return withColumn(row, this.outputCol, out)
  }

  toJSON(): TransformerJSON {
    return {
      type: TYPE,
      ...this.columnsJSON(),
      handleUnknown: this.handleUnknown,
      maxCategories: this.maxCategories,
      ...(this.learnsFromData ? {} : { categories: [...this.index!.keys()] }),
      state: this.learnsFromData && this.index !== undefined ? { categories: [...this.index.keys()] } : null,
    }
  }

  /** Rebuilds an encoder saved with {@link OneHotEncoder.toJSON}. */
  static fromJSON(json: TransformerJSON): OneHotEncoder {
    checkType(json, TYPE)
    const encoder = new OneHotEncoder(optionsFrom<OneHotEncoderOptions>(json))
    const state = readState(TYPE, json)
    if (state === null || !encoder.learnsFromData) return encoder
    const categories = state.categories
    if (!Array.isArray(categories) || categories.length === 0) throw badState(TYPE, 'state.categories', 'a non-empty array of strings and numbers', categories)
    encoder.setCategories(categories as Category[], (detail, value) => badState(TYPE, 'state.categories', detail, value))
    return encoder
  }

  private setCategories(categories: readonly Category[], error: (detail: string, value: unknown) => MaltError): void {
    this.index = positionIndex(categories, isValidCategory, { expected: 'an array of strings and finite numbers', unique: 'categories without duplicates' }, error)
  }
}

function isCategory(value: unknown): value is Category {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))
}

/** A category that can be encoded: not missing (the empty string is missing). */
function isValidCategory(value: unknown): value is Category {
  return isCategory(value) && !isMissing(value)
}

/** Numbers ascending, then strings in code-point order (locale-independent, so reproducible). */
export function compareCategories(a: Category, b: Category): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b
  if (typeof a === 'number') return -1
  if (typeof b === 'number') return 1
  return a < b ? -1 : a > b ? 1 : 0
}
