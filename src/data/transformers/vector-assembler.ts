// VectorAssembler: several numeric columns (numbers, booleans or vectors) → one Float32Array
// column, the usual step from a CSV's columns to a model's input (as Spark's).
import type { Row } from '../types.js'
import { BaseTransformer, badOption, requireColumnName, type RowSource, type TransformerJSON } from './base.js'
import { checkType, optionsFrom, readNumeric } from './cells.js'

const TYPE = 'VectorAssembler'

/** Options of {@link VectorAssembler}. */
export interface VectorAssemblerOptions {
  /** The columns to concatenate, in order. */
  inputCols: string[]
  /** The vector column written. @defaultValue 'features' */
  outputCol?: string
}

/**
 * Concatenates the input columns into one vector; a vector column contributes all its
 * elements. Missing values are an error (fill them with an Imputer first).
 *
 * @example
 * new VectorAssembler({ inputCols: ['age', 'income', 'owner'] }) // { age: 30, income: 2.5, owner: true } → features [30, 2.5, 1]
 */
export class VectorAssembler extends BaseTransformer {
  /** The columns read, in order. */
  readonly inputCols: readonly string[]
  /** The vector column written. */
  readonly outputCol: string
  readonly fitted = true
  readonly learnsFromData = false

  constructor(options: VectorAssemblerOptions) {
    super(TYPE)
    const inputCols = options?.inputCols
    if (!Array.isArray(inputCols) || inputCols.length === 0) throw badOption(TYPE, 'inputCols', 'a non-empty array of column names', inputCols)
    this.inputCols = inputCols.map((c, i) => requireColumnName(TYPE, `inputCols[${i}]`, c))
    this.outputCol = requireColumnName(TYPE, 'outputCol', options.outputCol ?? 'features')
  }

  protected describe(): string {
    return `columns ${this.inputCols.map((c) => `"${c}"`).join(', ')}`
  }

  async fit(_data: RowSource): Promise<this> {
    return this
  }

  transform(row: Row): Row {
    const parts = this.inputCols.map((column) => readNumeric(TYPE, row, column))
    const size = parts.reduce<number>((sum, part) => sum + (typeof part === 'number' ? 1 : part.length), 0)
    const out = new Float32Array(size)
    let offset = 0
    for (const part of parts) {
      if (typeof part === 'number') out[offset++] = part
      else {
        for (let i = 0; i < part.length; i++) out[offset + i] = part[i]
        offset += part.length
      }
    }
    return { ...row, [this.outputCol]: out }
  }

  toJSON(): TransformerJSON {
    return { type: TYPE, inputCols: [...this.inputCols], outputCol: this.outputCol }
  }

  /** Rebuilds one saved with {@link VectorAssembler.toJSON}. */
  static fromJSON(json: TransformerJSON): VectorAssembler {
    checkType(json, TYPE)
    return new VectorAssembler(optionsFrom<VectorAssemblerOptions>(json))
  }
}
