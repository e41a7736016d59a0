// LabelIndexer: string labels → integer indices (Spark's StringIndexer, dist-keras'
// LabelIndexer); `inverse()` gives the LabelIndexInverse that maps predictions back.
import { MaltError, describeValue } from '../../errors.js'
import type { Row } from '../types.js'
import { requireInteger } from '../../util/checks.js'
import { ColumnTransformer, badOption, type ColumnOptions, type RowSource, type TransformerJSON } from './base.js'
import { badState, cellError, checkType, isMissing, optionsFrom, readCell, readState, stateStrings, withColumn } from './cells.js'
import { LabelIndexInverse, type LabelIndexInverseOptions } from './label-index-inverse.js'
import { countColumnValues, positionIndex, unknownValueError } from './value-counts.js'

const TYPE = 'LabelIndexer'

/** Options of {@link LabelIndexer}. */
export interface LabelIndexerOptions extends ColumnOptions {
  /**
   * Index order: `'frequency'` gives 0 to the most frequent label (ties by name, code-point
   * order), `'alphabetical'` sorts by name.
   * @defaultValue 'frequency'
   */
  order?: 'frequency' | 'alphabetical'
  /** The labels in index order; when given, `fit` reads nothing. @defaultValue learned by `fit` */
  labels?: string[]
  /**
   * An unknown label at transform time: `'error'` throws, `'keep'` gives the index
   * `labels.length` (one past the last).
   * @defaultValue 'error'
   */
  handleUnknown?: 'error' | 'keep'
  /** Most distinct labels `fit` accepts (bounds its memory). @defaultValue 100000 */
  maxLabels?: number
}

/**
 * Maps a label to its index. Numbers and booleans are labels by their string form (`3` →
 * `'3'`), as Spark does, so a CSV column read as numbers indexes the same as strings.
 *
 * @example
 * const indexer = await new LabelIndexer({ inputCol: 'species' }).fit(rows)
 * const names = indexer.inverse({ inputCol: 'prediction', outputCol: 'species' })
 */
export class LabelIndexer extends ColumnTransformer {
  /** The index order `fit` uses. */
  readonly order: 'frequency' | 'alphabetical'
  /** What an unknown label gives. */
  readonly handleUnknown: 'error' | 'keep'
  /** The limit on distinct labels during fit. */
  readonly maxLabels: number
  readonly learnsFromData: boolean
  private index?: Map<string, number>

  constructor(options: LabelIndexerOptions) {
    super(TYPE, options)
    this.order = options.order ?? 'frequency'
    if (this.order !== 'frequency' && this.order !== 'alphabetical') throw badOption(TYPE, 'order', "'frequency' or 'alphabetical'", options.order)
    this.handleUnknown = options.handleUnknown ?? 'error'
    if (this.handleUnknown !== 'error' && this.handleUnknown !== 'keep') throw badOption(TYPE, 'handleUnknown', "'error' or 'keep'", options.handleUnknown)
    this.maxLabels = requireInteger('TRANSFORMER_BAD_OPTION', TYPE, 'maxLabels', options.maxLabels ?? 100_000)
    this.learnsFromData = options.labels === undefined
    if (options.labels !== undefined) this.setLabels(options.labels, (detail, value) => badOption(TYPE, 'labels', detail, value))
  }

  get fitted(): boolean {
    return this.index !== undefined
  }

  /** The labels in index order, or undefined before fit. */
  get labels(): readonly string[] | undefined {
    return this.index === undefined ? undefined : [...this.index.keys()]
  }

  /** Counts the labels of the column (at most `maxLabels` distinct), in one pass. */
  async fit(data: RowSource): Promise<this> {
    if (!this.learnsFromData) return this
    const counts = await countColumnValues(TYPE, data, this.inputCol, {
      keyOf: labelOf,
      expected: 'a label (string or number)',
      max: this.maxLabels,
      tooMany: `more than maxLabels (${this.maxLabels}) distinct labels; raise maxLabels or give labels`,
    })
    if (counts.size === 0) throw this.noData('the data has no rows')
    const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
    const labels = [...counts.keys()].sort(this.order === 'alphabetical' ? byName : (a, b) => counts.get(b)! - counts.get(a)! || byName(a, b))
    this.setLabels(labels, (detail, value) => cellError(TYPE, this.inputCol, `expected ${detail}, received ${describeValue(value)}`))
    return this
  }

  transform(row: Row): Row {
    this.requireFitted()
    const index = this.index!
    const value = readCell(TYPE, row, this.inputCol)
    const label = labelOf(value)
    const position = label === undefined ? undefined : index.get(label)
    if (position !== undefined) return withColumn(row, this.outputCol, position)
    if (this.handleUnknown === 'keep') return withColumn(row, this.outputCol, index.size)
    const known = [...index.keys()]
    throw unknownValueError(TYPE, this.inputCol, { one: 'label', many: 'labels' }, value, known, `use handleUnknown: 'keep' to map it to ${known.length}`)
  }

  /**
   * The inverse: index or prediction vector → label, with these labels. Reads this indexer's
   * output column and writes its input column unless told otherwise.
   */
  inverse(options: Partial<Omit<LabelIndexInverseOptions, 'labels'>> = {}): LabelIndexInverse {
    this.requireFitted()
    return new LabelIndexInverse({ inputCol: this.outputCol, outputCol: this.inputCol, ...options, labels: [...this.index!.keys()] })
  }

  toJSON(): TransformerJSON {
    const labels = this.index === undefined ? null : [...this.index.keys()]
    return {
      type: TYPE,
      ...this.columnsJSON(),
      order: this.order,
      handleUnknown: this.handleUnknown,
      maxLabels: this.maxLabels,
      ...(this.learnsFromData ? {} : { labels }),
      state: this.learnsFromData && labels !== null ? { labels } : null,
    }
  }

  /** Rebuilds an indexer saved with {@link LabelIndexer.toJSON}. */
  static fromJSON(json: TransformerJSON): LabelIndexer {
    checkType(json, TYPE)
    const indexer = new LabelIndexer(optionsFrom<LabelIndexerOptions>(json))
    const state = readState(TYPE, json)
    if (state === null || !indexer.learnsFromData) return indexer
    const labels = stateStrings(TYPE, state, 'labels')
    if (labels === null) throw badState(TYPE, 'state.labels', 'an array of strings', state.labels)
    indexer.setLabels(labels, (detail, value) => badState(TYPE, 'state.labels', detail, value))
    return indexer
  }

  private setLabels(labels: unknown, error: (detail: string, value: unknown) => MaltError): void {
    if (!Array.isArray(labels) || labels.length === 0) throw error('a non-empty array of strings', labels)
    const isString = (value: unknown): value is string => typeof value === 'string'
    this.index = positionIndex(labels, isString, { expected: 'an array of strings', unique: 'labels without duplicates' }, error)
  }
}

/** A label's string form; undefined for missing values and non-scalars. */
function labelOf(value: unknown): string | undefined {
  if (isMissing(value)) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return undefined
}
