// dist-keras' predictor and evaluators over datasets of rows: a model's prediction added as a
// column (in batches), and the accuracy and confusion matrix of such a column against a label.
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../backend/index.js'
import { Dataset } from '../data/dataset.js'
import type { Row } from '../data/types.js'
import { rowsToTensors } from '../data/tensors.js'
import { MaltError, describeValue } from '../errors.js'

/** Options of {@link ModelPredictor}. */
export interface ModelPredictorOptions {
  model: tfjs.LayersModel
  /** The features column(s), as the model was trained on them. */
  features: string | string[]
  /** Each row's features reshaped, e.g. [28, 28, 1]. @defaultValue flat */
  featureShape?: number[]
  /** @defaultValue 'prediction' */
  outputCol?: string
  /** Rows per model call. @defaultValue 256 */
  batchSize?: number
}

/** Adds the model's output (a Float32Array per row; a number when the model gives one value) as a column. */
export class ModelPredictor {
  private readonly outputCol: string
  private readonly batchSize: number

  constructor(private readonly options: ModelPredictorOptions) {
    this.outputCol = options.outputCol ?? 'prediction'
    this.batchSize = options.batchSize ?? 256
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new MaltError('EVAL_BAD_OPTION', `ModelPredictor: batchSize must be a positive integer, received ${describeValue(options.batchSize)}`)
  }

  /** The rows of `data`, each with the prediction column added (lazily, one model call per batch). */
  predict(data: Dataset<Row> | readonly Row[]): Dataset<Row> {
    const source = data instanceof Dataset ? data : Dataset.fromArray(data)
    const batches = source.batch(this.batchSize).map((rows) => {
        const { xs } = rowsToTensors(rows, { features: this.options.features, featureShape: this.options.featureShape })
        const output = tf.tidy(() => this.options.model.predict(xs) as tfjs.Tensor)
        xs.dispose()
        const values = output.dataSync() as Float32Array
        const width = output.size / rows.length
        output.dispose()
        return rows.map((row, i) => ({ ...row, [this.outputCol]: width === 1 ? values[i] : values.slice(i * width, (i + 1) * width) }))
      })
    return Dataset.fromGenerator(async function* () {
      for await (const rows of batches) yield* rows
    })
  }
}

/** Which columns an evaluator compares. */
export interface EvaluatorOptions {
  /** @defaultValue 'prediction' */
  predictionCol?: string
  /** @defaultValue 'label' */
  labelCol?: string
}

/** The predicted class of a prediction cell: the arg-max of a vector, a single score against 0.5, or an index. */
function predictedClass(value: unknown, row: number, column: string): number {
  if (typeof value === 'number') return Number.isInteger(value) ? value : value >= 0.5 ? 1 : 0
  if (ArrayBuffer.isView(value) || Array.isArray(value)) {
    const scores = value as unknown as ArrayLike<number>
    if (scores.length === 1) return scores[0] >= 0.5 ? 1 : 0
    let best = 0
    for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i
    return best
  }
  throw new MaltError('EVAL_BAD_ROW', `row ${row}: column "${column}": expected a prediction (scores or a class index), received ${describeValue(value)}`, { location: { field: column } })
}

function labelClass(value: unknown, row: number, column: string): number {
  const label = typeof value === 'boolean' ? Number(value) : value
  if (typeof label !== 'number' || !Number.isInteger(label) || label < 0) {
    throw new MaltError('EVAL_BAD_ROW', `row ${row}: column "${column}": expected a class index (an integer ≥ 0), received ${describeValue(value)}`, { location: { field: column } })
  }
  return label
}

async function forEachPair(data: AsyncIterable<Row> | Iterable<Row>, options: EvaluatorOptions, fn: (predicted: number, label: number) => void): Promise<number> {
  const predictionCol = options.predictionCol ?? 'prediction'
  const labelCol = options.labelCol ?? 'label'
  let rows = 0
  for await (const row of data) {
    fn(predictedClass(row[predictionCol], rows, predictionCol), labelClass(row[labelCol], rows, labelCol))
    rows++
  }
  if (rows === 0) throw new MaltError('EVAL_NO_DATA', 'cannot evaluate an empty data set')
  return rows
}

/** The share of rows whose predicted class equals the label (dist-keras' AccuracyEvaluator). */
export class AccuracyEvaluator {
  constructor(private readonly options: EvaluatorOptions = {}) {}

  async evaluate(data: AsyncIterable<Row> | Iterable<Row>): Promise<number> {
    let right = 0
    const rows = await forEachPair(data, this.options, (predicted, label) => {
      if (predicted === label) right++
    })
    return right / rows
  }
}

/** A confusion matrix: `matrix[label][predicted]` counts rows. */
export interface ConfusionMatrix {
  matrix: number[][]
  /** Per class: right / rows of that label (NaN for a class with no rows). */
  recall: number[]
  /** Per class: right / rows predicted as it (NaN when never predicted). */
  precision: number[]
  accuracy: number
}

/** Counts (label, predicted) pairs over `classes` classes. */
export class ConfusionMatrixEvaluator {
  constructor(private readonly options: EvaluatorOptions & { classes: number }) {
    if (!Number.isInteger(options?.classes) || options.classes < 2) throw new MaltError('EVAL_BAD_OPTION', `ConfusionMatrixEvaluator: classes must be an integer ≥ 2, received ${describeValue(options?.classes)}`)
  }

  async evaluate(data: AsyncIterable<Row> | Iterable<Row>): Promise<ConfusionMatrix> {
    const { classes } = this.options
    const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0))
    let row = 0
    const rows = await forEachPair(data, this.options, (predicted, label) => {
      if (label >= classes || predicted >= classes) {
        throw new MaltError('EVAL_BAD_ROW', `row ${row}: class ${Math.max(label, predicted)} is outside the ${classes} classes`)
      }
      matrix[label][predicted]++
      row++
    })
    const right = matrix.reduce((sum, counts, i) => sum + counts[i], 0)
    return {
      matrix,
      recall: matrix.map((counts, i) => counts[i] / counts.reduce((a, b) => a + b, 0)),
      precision: matrix.map((_, i) => matrix[i][i] / matrix.reduce((sum, counts) => sum + counts[i], 0)),
      accuracy: right / rows,
    }
  }
}
