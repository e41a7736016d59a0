// LabelIndexInverse: a class index, or a model's prediction vector (arg-max with an optional
// activation threshold, as dist-keras' LabelIndexTransformer), → its label string.
import { describeValue } from '../../errors.js'
import type { Row } from '../types.js'
import { StatelessTransformer, badOption, type ColumnOptions, type TransformerJSON } from './base.js'
import { cellError, checkType, defined, isNumericVector, optionsFrom, readCell, withColumn } from './cells.js'

const TYPE = 'LabelIndexInverse'

/** Options of {@link LabelIndexInverse}. */
export interface LabelIndexInverseOptions extends ColumnOptions {
  /** The labels in index order (e.g. `indexer.labels`, or use `indexer.inverse()`). */
  labels: string[]
  /**
   * For a prediction vector: when its largest activation is below this, the output is
   * `defaultLabel` (the model is not sure enough).
   * @defaultValue no threshold: always the arg-max
   */
  threshold?: number
  /**
   * The label for a prediction below `threshold`, and for index `labels.length` (what
   * `LabelIndexer` with `handleUnknown: 'keep'` gives to unknown labels).
   * @defaultValue 'unknown'
   */
  defaultLabel?: string
}

/**
 * Index → label, or prediction vector → label of its largest element (the first one on ties).
 * A vector must have one element per label and no NaN; an index must be an integer in [0, labels.length].
 *
 * @example
 * new LabelIndexInverse({ inputCol: 'prediction', outputCol: 'label', labels: ['cat', 'dog'], threshold: 0.6 })
 * // prediction [0.3, 0.7] → 'dog'; [0.55, 0.45] → 'unknown'
 */
export class LabelIndexInverse extends StatelessTransformer {
  /** The labels in index order. */
  readonly labels: readonly string[]
  /** The activation threshold, if any. */
  readonly threshold?: number
  /** The label given below the threshold or for the unknown index. */
  readonly defaultLabel: string

  constructor(options: LabelIndexInverseOptions) {
    super(TYPE, options)
    const { labels, threshold } = options
    if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === 'string')) {
      throw badOption(TYPE, 'labels', 'a non-empty array of strings', labels)
    }
    if (threshold !== undefined && (typeof threshold !== 'number' || !Number.isFinite(threshold))) throw badOption(TYPE, 'threshold', 'a finite number', threshold)
    this.defaultLabel = options.defaultLabel ?? 'unknown'
    if (typeof this.defaultLabel !== 'string') throw badOption(TYPE, 'defaultLabel', 'a string', options.defaultLabel)
    this.labels = [...labels]
    this.threshold = threshold
  }

  transform(row: Row): Row {
    const value = readCell(TYPE, row, this.inputCol)
    const labels = this.labels
    if (typeof value === 'number' || typeof value === 'bigint') {
      const index = Number(value)
      if (!Number.isInteger(index) || index < 0 || index > labels.length) {
        throw cellError(TYPE, this.inputCol, `expected a class index, an integer in [0, ${labels.length - 1}] (or ${labels.length} for unknown), received ${value}`)
      }
      return withColumn(row, this.outputCol, index === labels.length ? this.defaultLabel : labels[index])
    }
    if (!isNumericVector(value)) {
      throw cellError(TYPE, this.inputCol, `expected a class index or a prediction vector of ${labels.length} numbers, received ${describeValue(value)}`)
    }
    if (value.length !== labels.length) {
      throw cellError(TYPE, this.inputCol, `expected a prediction vector of ${labels.length} numbers (one per label), received ${value.length}`)
    }
    // NaN compares false with everything, so it would silently lose (or win at index 0):
    // a NaN activation means a broken model, not a label.
    let best = 0
    for (let i = 0; i < value.length; i++) {
      if (Number.isNaN(value[i])) throw cellError(TYPE, this.inputCol, `expected a prediction vector without NaN, received NaN at position ${i} of ${value.length} (the model produced NaN)`)
      if (value[i] > value[best]) best = i
    }
    const sure = this.threshold === undefined || value[best] >= this.threshold
    return withColumn(row, this.outputCol, sure ? labels[best] : this.defaultLabel)
  }

  toJSON(): TransformerJSON {
    return {
      type: TYPE,
      ...this.columnsJSON(),
      labels: [...this.labels],
      ...defined({ threshold: this.threshold }),
      defaultLabel: this.defaultLabel,
    }
  }

  /** Rebuilds one saved with {@link LabelIndexInverse.toJSON}. */
  static fromJSON(json: TransformerJSON): LabelIndexInverse {
    checkType(json, TYPE)
    return new LabelIndexInverse(optionsFrom<LabelIndexInverseOptions>(json))
  }
}
