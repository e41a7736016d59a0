// DenseToSparse: a numeric vector → { size, indices, values } holding only its non-zero
// elements (dist-keras' DenseTransformer's inverse); compact for one-hot or bag-of-words data.
import type { Row } from '../types.js'
import { StatelessTransformer, type ColumnOptions, type TransformerJSON } from './base.js'
import { checkType, optionsFrom, readVector, withColumn } from './cells.js'
import type { SparseVector } from './sparse-vector.js'

const TYPE = 'DenseToSparse'

/** Options of {@link DenseToSparse}. */
export type DenseToSparseOptions = ColumnOptions

/**
 * Keeps the non-zero elements of a vector.
 *
 * @example
 * new DenseToSparse({ inputCol: 'x' }) // [0, 3, 0, 5] → { size: 4, indices: [1, 3], values: [3, 5] }
 */
export class DenseToSparse extends StatelessTransformer {
  constructor(options: DenseToSparseOptions) {
    super(TYPE, options)
  }

  transform(row: Row): Row {
    const dense = readVector(TYPE, row, this.inputCol)
    const sparse: SparseVector = { size: dense.length, indices: [], values: [] }
    for (let i = 0; i < dense.length; i++) {
      const value = Number(dense[i])
      if (value !== 0) {
        sparse.indices.push(i)
        sparse.values.push(value)
      }
    }
    return withColumn(row, this.outputCol, sparse)
  }

  toJSON(): TransformerJSON {
    return { type: TYPE, ...this.columnsJSON() }
  }

  /** Rebuilds one saved with {@link DenseToSparse.toJSON}. */
  static fromJSON(json: TransformerJSON): DenseToSparse {
    checkType(json, TYPE)
    return new DenseToSparse(optionsFrom<DenseToSparseOptions>(json))
  }
}
