// BinaryLabel: a numeric score or a class value → 0/1, by a threshold or by naming the
// positive class(es); for binary classifiers' labels.
import { describeValue } from '../../errors.js'
import type { Row } from '../types.js'
import { StatelessTransformer, badOption, type ColumnOptions, type TransformerJSON } from './base.js'
import { cellError, checkType, defined, isMissing, optionsFrom, readCell, readNumber, withColumn } from './cells.js'

const TYPE = 'BinaryLabel'

/** A value that names a positive class. */
export type PositiveClass = string | number | boolean

/** Options of {@link BinaryLabel}: exactly one of `threshold` and `positive`. */
export interface BinaryLabelOptions extends ColumnOptions {
  /** A number at or above this gives 1, below gives 0. */
  threshold?: number
  /** The value(s) that give 1 (compared with ===, so `1` is not `'1'`); anything else gives 0. */
  positive?: PositiveClass | PositiveClass[]
}

/**
 * Maps to 1 or 0. Missing values (null, undefined, NaN, '') are an error, not a 0.
 *
 * @example
 * new BinaryLabel({ inputCol: 'score', threshold: 0.5 })   // 0.7 → 1, 0.2 → 0
 * new BinaryLabel({ inputCol: 'churn', positive: 'yes' })  // 'yes' → 1, 'no' → 0
 */
export class BinaryLabel extends StatelessTransformer {
  /** The threshold, in threshold mode. */
  readonly threshold?: number
  /** The positive classes, in class mode. */
  readonly positive?: readonly PositiveClass[]
  private readonly positives?: Set<unknown>

  constructor(options: BinaryLabelOptions) {
    super(TYPE, options)
    const { threshold, positive } = options
    if ((threshold === undefined) === (positive === undefined)) {
      throw badOption(TYPE, 'threshold or positive', 'exactly one of them', { threshold, positive })
    }
    if (threshold !== undefined) {
      if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw badOption(TYPE, 'threshold', 'a finite number', threshold)
      this.threshold = threshold
      return
    }
    const list = Array.isArray(positive) ? positive : [positive]
    const isClass = (v: unknown): boolean => typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
    if (list.length === 0 || !list.every(isClass)) throw badOption(TYPE, 'positive', 'a string, number or boolean, or a non-empty array of them', positive)
    this.positive = list as PositiveClass[]
    this.positives = new Set(list)
  }

  transform(row: Row): Row {
    if (this.threshold !== undefined) {
      const value = readNumber(TYPE, row, this.inputCol)
      if (Number.isNaN(value)) throw cellError(TYPE, this.inputCol, 'expected a number, received NaN (fill missing values with an Imputer first)')
      return withColumn(row, this.outputCol, value >= this.threshold ? 1 : 0)
    }
    const value = readCell(TYPE, row, this.inputCol)
    if (isMissing(value)) throw cellError(TYPE, this.inputCol, `expected a class value, received ${describeValue(value)} (fill missing values with an Imputer first)`)
    return withColumn(row, this.outputCol, this.positives!.has(value) ? 1 : 0)
  }

  toJSON(): TransformerJSON {
    return { type: TYPE, ...this.columnsJSON(), ...defined({ threshold: this.threshold, positive: this.positive ? [...this.positive] : undefined }) }
  }

  /** Rebuilds one saved with {@link BinaryLabel.toJSON}. */
  static fromJSON(json: TransformerJSON): BinaryLabel {
    checkType(json, TYPE)
    return new BinaryLabel(optionsFrom<BinaryLabelOptions>(json))
  }
}
