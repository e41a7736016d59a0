// Tensor helpers shared by the protocols, the batcher and the runtimes: element storage per
// data type, sizes, and joining / splitting along the batch (first) dimension.
import type { DataType, Tensor, TensorData } from './types.js'

type NumericArrayConstructor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int32ArrayConstructor
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor

/**
 * The typed array holding each numeric data type. FP16 travels as float32 (JSON carries numbers;
 * a runtime that needs halves converts); BOOL and BYTES are plain arrays.
 */
export const TYPED_ARRAYS: Readonly<Record<Exclude<DataType, 'BOOL' | 'BYTES'>, NumericArrayConstructor>> = {
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Float32Array,
  FP32: Float32Array,
  FP64: Float64Array,
}

/** Every data type name, for validation messages. */
export const DATA_TYPES: readonly DataType[] = ['BOOL', ...(Object.keys(TYPED_ARRAYS) as DataType[]), 'BYTES']

/** True for the names in {@link DATA_TYPES}. */
export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && (DATA_TYPES as readonly string[]).includes(value)
}

/** Elements of a shape (1 for a scalar's `[]`). */
export function elementCount(shape: readonly number[]): number {
  let count = 1
  for (const dim of shape) count *= dim
  return count
}

/** Empty storage for `length` elements of `datatype`. */
export function allocate(datatype: DataType, length: number): TensorData {
  if (datatype === 'BOOL') return new Array<boolean>(length).fill(false)
  if (datatype === 'BYTES') return new Array<string>(length).fill('')
  return new TYPED_ARRAYS[datatype](length)
}

/**
 * Joins tensors of one input along the first dimension: shapes must agree after it (the caller
 * validated them). One tensor is returned as it is.
 */
export function concatBatch(parts: readonly Tensor[]): Tensor {
  if (parts.length === 1) return parts[0]
  const [first] = parts
  const rows = parts.reduce((sum, part) => sum + (part.shape[0] ?? 1), 0)
  const shape = [rows, ...first.shape.slice(1)]
  const data = allocate(first.datatype, elementCount(shape))
  let offset = 0
  for (const part of parts) {
    if (Array.isArray(data)) {
      for (let i = 0; i < part.data.length; i++) (data as unknown[])[offset + i] = (part.data as unknown[])[i]
    } else {
      // Same constructor on both sides: the batcher only joins one input's tensors.
      ;(data as Float32Array).set(part.data as Float32Array, offset)
    }
    offset += part.data.length
  }
  return { name: first.name, datatype: first.datatype, shape, data }
}

/** Splits a tensor along the first dimension into pieces of `rows[i]` rows each (views where possible). */
export function splitBatch(tensor: Tensor, rows: readonly number[]): Tensor[] {
  if (rows.length === 1) return [tensor]
  const rowSize = elementCount(tensor.shape.slice(1))
  const pieces: Tensor[] = []
  let start = 0
  for (const count of rows) {
    const end = start + count * rowSize
    const data = Array.isArray(tensor.data) ? tensor.data.slice(start, end) : (tensor.data as Float32Array).subarray(start, end)
    pieces.push({ name: tensor.name, datatype: tensor.datatype, shape: [count, ...tensor.shape.slice(1)], data: data as TensorData })
    start = end
  }
  return pieces
}
