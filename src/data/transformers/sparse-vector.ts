// The sparse vector form DenseToSparse writes and SparseToDense reads.
import { describeValue } from '../../errors.js'
import { cellError } from './cells.js'

/** A vector of `size` elements holding `values[k]` at `indices[k]` (ascending) and 0 elsewhere. */
export interface SparseVector {
  size: number
  indices: number[]
  values: number[]
}

/** Checks a cell is a valid {@link SparseVector}: integer size, in-range strictly ascending indices. */
export function checkSparse(type: string, column: string, value: unknown): SparseVector {
  const fail = (detail: string): Error => cellError(type, column, `expected a sparse vector { size, indices, values }: ${detail}`)
  if (value === null || typeof value !== 'object') throw fail(`received ${describeValue(value)}`)
  const { size, indices, values } = value as Partial<SparseVector>
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw fail(`size must be a non-negative integer, received ${describeValue(size)}`)
  if (!Array.isArray(indices) || !Array.isArray(values)) throw fail('indices and values must be arrays')
  if (indices.length !== values.length) throw fail(`indices has ${indices.length} entries but values has ${values.length}`)
  let previous = -1
  for (let k = 0; k < indices.length; k++) {
    const index = indices[k]
    if (!Number.isInteger(index) || index <= previous || index >= size) {
      throw fail(`indices must be strictly ascending integers in [0, ${size}), received ${describeValue(index)} at position ${k}`)
    }
    if (typeof values[k] !== 'number') throw fail(`values must be numbers, received ${describeValue(values[k])} at position ${k}`)
    previous = index
  }
  return { size, indices, values }
}
