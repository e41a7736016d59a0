// SparseToDense: { size, indices, values } → a dense Float32Array (dist-keras'
// DenseTransformer), the form a model's input tensor needs.
import type { Row } from '../types.js'
import { StatelessTransformer, type ColumnOptions, type TransformerJSON } from './base.js'
import { checkType, optionsFrom, readCell, withColumn } from './cells.js'
import { checkSparse } from './sparse-vector.js'

const TYPE = 'SparseToDense'

/** Options of {@link SparseToDense}. */
export type SparseToDenseOptions = ColumnOptions

/**
 * Expands a sparse vector; the input is checked (indices ascending and in range).
 *
 * @example
 * new SparseToDense({ inputCol: 'x' }) // { size: 4, indices: [1, 3], values: [3, 5] } → [0, 3, 0, 5]
 */
export class SparseToDense extends StatelessTransformer {
  constructor(options: SparseToDenseOptions) {
    super(TYPE, options)
  }

  transform(row: Row): Row {
    const sparse = checkSparse(TYPE, this.inputCol, readCell(TYPE, row, this.inputCol))
    const dense = new Float32Array(sparse.size)
    for (let k = 0; k < sparse.indices.length; k++) dense[sparse.indices[k]] = sparse.values[k]
    return withColumn(row, this.outputCol, dense)
  }

  toJSON(): TransformerJSON {
    return { type: TYPE, ...this.columnsJSON() }
  }

  /** Rebuilds one saved with {@link SparseToDense.toJSON}. */
  static fromJSON(json: TransformerJSON): SparseToDense {
    checkType(json, TYPE)
    return new SparseToDense(optionsFrom<SparseToDenseOptions>(json))
  }
}
