// Reshape: checks a flat vector against a tensor shape (784 → [28, 28, 1]) and outputs it in
// the form TF.js takes: a flat Float32Array (plus the shape), or nested arrays.
import { describeValue } from '../../errors.js'
import type { Row } from '../types.js'
import { StatelessTransformer, badOption, requireColumnName, type ColumnOptions, type TransformerJSON } from './base.js'
import { cellError, checkType, defined, optionsFrom, readVector } from './cells.js'

const TYPE = 'Reshape'

/** A nested array of numbers, as `tf.tensor(nested)` takes. */
export type NestedNumbers = number[] | NestedNumbers[]

/** Options of {@link Reshape}. */
export interface ReshapeOptions extends ColumnOptions {
  /** The shape of one row's value, e.g. `[28, 28, 1]`; one dimension may be −1 (inferred). */
  shape: number[]
  /**
   * `'flat'`: a Float32Array in row-major order, for `tf.tensor(values, shape)` or for
   * batching with `toTensorBatches({ featureShape: reshape.shape })` without a copy per
   * dimension. `'nested'`: nested number arrays (JSON-friendly, `tf.tensor(nested)`).
   * @defaultValue 'flat'
   */
  output?: 'flat' | 'nested'
  /** Also write the resolved shape (a number[]) to this column. @defaultValue not written */
  shapeCol?: string
}

/**
 * Reshapes a numeric vector; the element count must equal the product of `shape`.
 *
 * @example
 * new Reshape({ inputCol: 'image', shape: [28, 28, 1] }) // 784 values → Float32Array(784), checked
 */
export class Reshape extends StatelessTransformer {
  /** The target shape as given (may hold one −1). */
  readonly shape: readonly number[]
  /** The output form. */
  readonly output: 'flat' | 'nested'
  /** Where the resolved shape is written, if anywhere. */
  readonly shapeCol?: string
  private readonly inferred: number
  private readonly known: number

  constructor(options: ReshapeOptions) {
    super(TYPE, options)
    const { shape } = options
    const valid = Array.isArray(shape) && shape.length > 0 && shape.every((d) => Number.isInteger(d) && (d > 0 || d === -1))
    if (!valid || shape.filter((d) => d === -1).length > 1) {
      throw badOption(TYPE, 'shape', 'a non-empty array of positive integers, with at most one -1', shape)
    }
    this.shape = [...shape]
    this.inferred = shape.indexOf(-1)
    this.known = shape.reduce((product, d) => (d === -1 ? product : product * d), 1)
    this.output = options.output ?? 'flat'
    if (this.output !== 'flat' && this.output !== 'nested') throw badOption(TYPE, 'output', "'flat' or 'nested'", options.output)
    if (options.shapeCol !== undefined) this.shapeCol = requireColumnName(TYPE, 'shapeCol', options.shapeCol)
  }

  transform(row: Row): Row {
    const values = readVector(TYPE, row, this.inputCol)
    const shape = [...this.shape]
    if (this.inferred >= 0) {
      if (values.length % this.known !== 0 || values.length === 0) {
        throw cellError(TYPE, this.inputCol, `expected a number of values divisible by ${this.known} for shape ${describeValue(this.shape)}, received ${values.length}`)
      }
      shape[this.inferred] = values.length / this.known
    } else if (values.length !== this.known) {
      throw cellError(TYPE, this.inputCol, `expected ${this.known} values for shape ${describeValue(this.shape)}, received ${values.length}`)
    }
    const out: Row = { ...row }
    out[this.outputCol] = this.output === 'flat' ? Float32Array.from(values) : nest(values, shape, 0, 0)
    if (this.shapeCol !== undefined) out[this.shapeCol] = shape
    return out
  }

  toJSON(): TransformerJSON {
    return { type: TYPE, ...this.columnsJSON(), shape: [...this.shape], output: this.output, ...defined({ shapeCol: this.shapeCol }) }
  }

  /** Rebuilds one saved with {@link Reshape.toJSON}. */
  static fromJSON(json: TransformerJSON): Reshape {
    checkType(json, TYPE)
    return new Reshape(optionsFrom<ReshapeOptions>(json))
  }
}

/** The nested arrays for `shape[dim..]` starting at flat `offset`. */
function nest(values: ArrayLike<number>, shape: number[], dim: number, offset: number): NestedNumbers {
  const size = shape[dim]
  if (dim === shape.length - 1) return Array.from({ length: size }, (_, i) => Number(values[offset + i]))
  const stride = shape.slice(dim + 1).reduce((a, b) => a * b, 1)
  return Array.from({ length: size }, (_, i) => nest(values, shape, dim + 1, offset + i * stride)) as NestedNumbers
}
