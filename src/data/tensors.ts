// Turns batches of rows into tensors by column names: the bridge from Dataset to model.fit.
import { tf } from '../backend/index.js'
import type * as tfjs from '@tensorflow/tfjs'
import { MaltError, describeValue } from '../errors.js'
import { Dataset } from './dataset.js'
import type { Row } from './types.js'

/** Options of {@link toTensorBatches}. */
export interface TensorBatchOptions {
  /** A column holding a vector (e.g. `image`) or several numeric columns to stack side by side. */
  features: string | string[]
  /** The label column; omit it for unlabelled data. */
  label?: string
  /**
   * Encode integer labels as one-hot vectors of this many classes (for categoricalCrossentropy).
   * @defaultValue labels are kept as a float32 column vector
   */
  oneHot?: number
  /** Reshape each feature vector, e.g. `[28, 28, 1]` for a CNN. @defaultValue flat */
  featureShape?: number[]
}

/** A batch ready for a model: `xs` of shape [batch, ...features], `ys` as asked. */
export interface TensorBatch {
  xs: tfjs.Tensor
  ys?: tfjs.Tensor
}

function columnError(column: string, row: number, detail: string): MaltError {
  return new MaltError('DATA_BAD_COLUMN', `column "${column}" of row ${row} in the batch: ${detail}`, { location: { field: column } })
}

function readVector(row: Row, column: string, rowIndex: number): ArrayLike<number> {
  const value = row[column]
  if (value === undefined) throw columnError(column, rowIndex, `missing; the row has columns ${Object.keys(row).join(', ')}`)
  if (typeof value === 'number') return [value]
  if (typeof value === 'boolean') return [value ? 1 : 0]
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return value as unknown as ArrayLike<number>
  throw columnError(column, rowIndex, `expected a number or a numeric vector, received ${describeValue(value)}`)
}

/** Converts one batch of rows into tensors (the caller owns and disposes them). */
export function rowsToTensors(rows: readonly Row[], options: TensorBatchOptions): TensorBatch {
  if (rows.length === 0) throw new MaltError('DATA_EMPTY_BATCH', 'cannot make tensors from an empty batch')
  const columns = Array.isArray(options.features) ? options.features : [options.features]
  const width = columns.reduce((sum, column) => sum + readVector(rows[0], column, 0).length, 0)
  const features = new Float32Array(rows.length * width)
  rows.forEach((row, rowIndex) => {
    let offset = rowIndex * width
    for (const column of columns) {
      const vector = readVector(row, column, rowIndex)
      if (offset + vector.length > (rowIndex + 1) * width) throw columnError(column, rowIndex, `has ${vector.length} values, the first row had fewer`)
      for (let i = 0; i < vector.length; i++) features[offset + i] = Number(vector[i])
      offset += vector.length
    }
    if (offset !== (rowIndex + 1) * width) throw columnError(columns[columns.length - 1], rowIndex, `row has ${offset - rowIndex * width} feature values, expected ${width}`)
  })
  const shape = options.featureShape ?? [width]
  if (shape.reduce((product, size) => product * size, 1) !== width) {
    throw new MaltError('DATA_BAD_SHAPE', `featureShape [${shape.join(', ')}] holds ${shape.reduce((p, n) => p * n, 1)} values, but each row has ${width} feature values`)
  }
  // Labels are checked before any tensor exists, so a bad batch leaks nothing.
  const labels = options.label === undefined ? undefined : readLabels(rows, options.label, options.oneHot)
  const xs = tf.tensor(features, [rows.length, ...shape], 'float32')
  if (labels === undefined) return { xs }
  if (options.oneHot !== undefined) {
    const classes = options.oneHot
    const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat())
    return { xs, ys }
  }
  return { xs, ys: tf.tensor2d(labels, [rows.length, 1], 'float32') }
}

function readLabels(rows: readonly Row[], label: string, oneHot: number | undefined): number[] {
  return rows.map((row, rowIndex) => {
    const value = row[label]
    let number: number
    if (typeof value === 'number') number = value
    else if (typeof value === 'boolean') number = value ? 1 : 0
    else if (typeof value === 'bigint') number = Number(value)
    else throw columnError(label, rowIndex, `expected a numeric label, received ${describeValue(value)}`)
    if (oneHot !== undefined && (!Number.isInteger(number) || number < 0 || number >= oneHot)) {
      throw columnError(label, rowIndex, `expected an integer class in [0, ${oneHot}) for oneHot, received ${number}`)
    }
    return number
  })
}

/** Maps a dataset of row batches to tensor batches. */
export function toTensorBatches(batches: Dataset<Row[]>, options: TensorBatchOptions): Dataset<TensorBatch> {
  return batches.map((rows) => rowsToTensors(rows, options))
}

/**
 * A `tf.data.Dataset` of `{xs, ys}` for `model.fitDataset`, from a dataset of row batches.
 * TF.js disposes each batch's tensors after the step. TF.js never closes an iterator it
 * stops early (`batchesPerEpoch`), so starting a new pass closes the previous one: at most
 * one pass (one open file) is held at a time.
 */
export function toTfDataset(batches: Dataset<Row[]>, options: TensorBatchOptions): tfjs.data.Dataset<tfjs.TensorContainer> {
  let current: AsyncIterator<Row[]> | undefined
  return tf.data.generator(async () => {
    const previous = current
    current = undefined
    await previous?.return?.()
    const iterator = batches[Symbol.asyncIterator]()
    current = iterator
    return {
      next: async () => {
        const next = await iterator.next()
        if (next.done) {
          if (current === iterator) current = undefined
          return { done: true, value: undefined }
        }
        const { xs, ys } = rowsToTensors(next.value, options)
        return { done: false, value: ys ? { xs, ys } : { xs } }
      },
    } as unknown as Iterator<tfjs.TensorContainer>
  })
}
