// Batch inference, as dist-keras' ModelPredictor: runs a model over a data file batch by batch,
// streaming (memory holds one batch, never the file), and writes every input row with a prediction.
import { basename, dirname } from 'node:path'
import { MaltError, describeValue } from '../errors.js'
import { formatOf, openDataset, scanColumns, tfRecordKinds, type DataFormat } from '../data/formats.js'
import { inferCsvSchema } from '../data/sources/csv.js'
import { parquetInfo } from '../data/sources/parquet.js'
import { writeTfRecord } from '../data/sources/tfrecord.js'
import type { Transformer } from '../data/transformers/base.js'
import { Pipeline, transformerFromJSON } from '../data/transformers/pipeline.js'
import type { Row } from '../data/types.js'
import { writeCsv, writeJsonl } from '../data/writers/text.js'
import { resolvePath } from '../storage/index.js'
import { requireInteger } from '../util/checks.js'
import { PipelineServable } from './pipeline.js'
import { loadModelVersion, onnxRuntime, tfjsRuntime } from './runtimes/index.js'
import { allocate, elementCount } from './tensor.js'
import type { LoadedModel, Tensor, TensorData, TensorSpec } from './types.js'

/** What the prediction column holds: the output vector, its arg-max index, or the arg-max's label. */
export type PredictionKind = 'scores' | 'class' | readonly string[]

/** Options of {@link batchPredict}. */
export interface BatchPredictOptions {
  /** A model directory (holding `model.json` or `model.onnx`), a `model.json` or a `model.onnx`. */
  model: string
  /** The data file: .csv, .tsv, .jsonl/.ndjson, .parquet or .tfrecord[.gz]. */
  input: string
  /** Where the rows with predictions go: .csv, .tsv, .jsonl/.ndjson or .tfrecord[.gz]; written atomically. */
  output: string
  /**
   * Columns assembled, in order, into the model's input vector (a column may hold a vector, e.g. `image`).
   * @defaultValue with `pipeline`, its `features` column when it writes one; else the one vector column
   * whose length fits the model input, else every numeric column in file order when their count fits;
   * else an error listing the columns and the input size needed
   */
  features?: string[]
  /**
   * A fitted pipeline (or transformer) JSON applied to each row before the model; the output rows keep the input's columns.
   * @defaultValue the version's `pipeline.json` (as `malt serve` runs it: the stages that make the features), if it has one
   */
  pipeline?: string
  /** Name of the added column. @defaultValue 'prediction' */
  predictionColumn?: string
  /**
   * `'scores'`: the model's output vector (a number when the model gives one value per row);
   * `'class'`: the arg-max index (for one value per row, 1 when it is ≥ 0.5); a list of labels:
   * the arg-max's label (two labels for one value per row). Ties go to the first index.
   * @defaultValue the labels of the version's pipeline when it indexed a label, else 'scores'
   */
  prediction?: PredictionKind
  /** Rows per model call. @defaultValue 256 */
  batchSize?: number
  /** Called after each batch with the number of rows predicted so far. */
  onProgress?: (rows: number) => void
}

/** What {@link batchPredict} did. */
export interface BatchPredictResult {
  rows: number
  /** Wall time of the whole run, model loading included. */
  seconds: number
}

const DEFAULTS = { predictionColumn: 'prediction', prediction: 'scores', batchSize: 256, pipelineFeatures: 'features' } as const
const WRITABLE: readonly DataFormat[] = ['csv', 'tsv', 'jsonl', 'tfrecord']
/** Input types filled as the runtimes take them; the others go as float64, which the ONNX runtime converts with range checks. */
const DIRECT_TYPES = new Set(['FP32', 'FP64', 'FP16', 'INT32'])

function badOption(name: string, expected: string, received: unknown): MaltError {
  return new MaltError('PREDICT_BAD_OPTION', `batchPredict: expected ${name} to be ${expected}, received ${describeValue(received)}`)
}

function requireName(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw badOption(name, 'a non-empty string', value)
  return value
}

interface Checked {
  predictionColumn: string
  prediction: PredictionKind
  batchSize: number
  inputFormat: DataFormat
  outputFormat: DataFormat
}

/** Checks every option before any work (a bad flag must not cost a model load). */
function checkOptions(options: BatchPredictOptions): Checked {
  for (const name of ['model', 'input', 'output'] as const) requireName(name, options?.[name])
  const predictionColumn = requireName('predictionColumn', options.predictionColumn ?? DEFAULTS.predictionColumn)
  const batchSize = requireInteger('PREDICT_BAD_OPTION', 'batchPredict', 'batchSize', options.batchSize ?? DEFAULTS.batchSize)
  const prediction = options.prediction ?? DEFAULTS.prediction
  if (Array.isArray(prediction)) {
    if (prediction.length === 0 || !prediction.every((label) => typeof label === 'string')) throw badOption('prediction', 'a non-empty list of label strings', prediction)
  } else if (prediction !== 'scores' && prediction !== 'class') throw badOption('prediction', '"scores", "class" or a list of labels', prediction)
  if (options.features !== undefined) {
    if (!Array.isArray(options.features) || options.features.length === 0) throw badOption('features', 'a non-empty list of column names', options.features)
    options.features.forEach((column, i) => requireName(`features[${i}]`, column))
  }
  if (options.pipeline !== undefined) requireName('pipeline', options.pipeline)
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw badOption('onProgress', 'a function', options.onProgress)
  const inputFormat = formatOf(options.input)
  const outputFormat = formatOf(options.output)
  if (!WRITABLE.includes(outputFormat)) {
    throw new MaltError('PREDICT_BAD_OPTION', `batchPredict: cannot write ${outputFormat} (${options.output}); predictions go to ${WRITABLE.join(', ')}`, { location: { file: options.output } })
  }
  if (resolvePath(options.input).uri === resolvePath(options.output).uri) {
    throw new MaltError('PREDICT_BAD_OPTION', `batchPredict: output ${options.output} is the input file; write the predictions to another file`)
  }
  return { predictionColumn, prediction, batchSize, inputFormat, outputFormat }
}

/** Loads a model from a version directory, or from the model.json / model.onnx named. */
async function loadModel(path: string): Promise<LoadedModel> {
  const { storage, path: local } = resolvePath(path)
  const expected = 'a model directory, a model.json or a model.onnx'
  if (!(await storage.exists(local))) throw new MaltError('PREDICT_MODEL_NOT_FOUND', `model: no such file or directory ${path}; expected ${expected}`, { location: { file: path } })
  if ((await storage.stat(local)).isDirectory) return loadModelVersion(local)
  const name = basename(local)
  if (name === 'model.json') return loadModelVersion(dirname(local), [tfjsRuntime])
  if (name === 'model.onnx') return loadModelVersion(dirname(local), [onnxRuntime])
  throw new MaltError('PREDICT_BAD_OPTION', `model: expected ${expected}, received the file ${path} (runtimes load files named model.json or model.onnx)`, { location: { file: path } })
}

/** The model's one input and the output the prediction comes from (its first). */
interface ModelPlan {
  input: TensorSpec
  /** Values per row: the product of the input's dimensions after the batch. */
  size: number
  output: TensorSpec
}

function planModel(model: LoadedModel, path: string): ModelPlan {
  const names = (specs: readonly TensorSpec[]): string => specs.map((spec) => JSON.stringify(spec.name)).join(', ')
  if (model.inputs.length !== 1) {
    throw new MaltError('PREDICT_UNSUPPORTED_MODEL', `${path} takes ${model.inputs.length} inputs (${names(model.inputs)}); batch prediction feeds one input, built from each row's features`)
  }
  const [input] = model.inputs
  const rowShape = input.shape.slice(1)
  if (rowShape.some((dim) => dim < 0)) {
    throw new MaltError('PREDICT_UNSUPPORTED_MODEL', `${path}: input ${JSON.stringify(input.name)} has shape ${JSON.stringify(input.shape)}; batch prediction needs every dimension after the batch fixed`)
  }
  if (input.datatype === 'BOOL' || input.datatype === 'BYTES') {
    throw new MaltError('PREDICT_UNSUPPORTED_MODEL', `${path}: input ${JSON.stringify(input.name)} is ${input.datatype}; batch prediction feeds numbers`)
  }
  return { input, size: elementCount(rowShape), output: model.outputs[0] }
}

/** A value as a numeric vector: arrays of numbers, numeric typed arrays, and the JSON arrays CSV files hold. */
function asVector(value: unknown): ArrayLike<number | bigint> | undefined {
  if (Array.isArray(value)) return value.every((v) => typeof v === 'number') ? value : undefined
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return value as unknown as ArrayLike<number | bigint>
  // The data layer writes vector cells into CSV as JSON arrays; they read back as text.
  if (typeof value === 'string' && value.startsWith('[')) {
    try {
      return asVector(JSON.parse(value))
    } catch {
      return undefined
    }
  }
  return undefined
}

function isScalar(value: unknown): boolean {
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
}

/** "a (number), image (vector of 784), name (string)": a row's columns for error messages. */
function describeColumns(row: Row): string {
  const kinds = Object.entries(row).map(([name, value]) => {
    const vector = asVector(value)
    const kind = vector ? `vector of ${vector.length}` : value === null || value === undefined ? 'empty' : typeof value
    return `${name} (${kind})`
  })
  return kinds.length > 0 ? kinds.join(', ') : '(none)'
}

/** The feature columns and how many values each gives, fixed by the first row. */
interface FeaturePlan {
  columns: string[]
  lengths: number[]
}

function resolveFeatures(row: Row, requested: readonly string[] | undefined, plan: ModelPlan, input: string): FeaturePlan {
  const needed = `the model's input ${JSON.stringify(plan.input.name)} takes ${plan.size} values per row`
  const choose = 'choose them with features (CLI: --features a,b,c)'
  if (requested) {
    const lengths = requested.map((column) => {
      if (!Object.hasOwn(row, column)) throw missingColumn(input, 1, column, row)
      const value = row[column]
      if (isScalar(value)) return 1
      const vector = asVector(value)
      if (vector === undefined) throw badValue(input, 1, column, 'a number or a numeric vector', value)
      return vector.length
    })
    const total = lengths.reduce((sum, length) => sum + length, 0)
    if (total !== plan.size) {
      const given = requested.map((column, i) => `${column}: ${lengths[i]}`).join(', ')
      throw new MaltError('PREDICT_FEATURE_SIZE', `${input}: ${needed}; the features give ${total} (${given})`)
    }
    return { columns: [...requested], lengths }
  }
  const columns = Object.keys(row)
  const fitting = columns.filter((column) => asVector(row[column])?.length === plan.size)
  if (fitting.length === 1) return { columns: fitting, lengths: [plan.size] }
  if (fitting.length > 1) throw new MaltError('PREDICT_FEATURE_SIZE', `${input}: ${needed} and several vector columns hold that many (${fitting.join(', ')}); ${choose}`)
  const numeric = columns.filter((column) => typeof row[column] === 'number')
  if (numeric.length === plan.size) return { columns: numeric, lengths: numeric.map(() => 1) }
  throw new MaltError(
    'PREDICT_FEATURE_SIZE',
    `${input}: ${needed}, but no vector column holds ${plan.size} values and there are ${numeric.length} numeric columns, not ${plan.size}; ` +
      `the columns of row 1: ${describeColumns(row)}; ${choose}`,
  )
}

function missingColumn(input: string, rowNumber: number, column: string, row: Row): MaltError {
  return new MaltError('PREDICT_MISSING_COLUMN', `${input}: row ${rowNumber} has no column "${column}"; its columns: ${describeColumns(row)}`, { location: { file: input, field: column } })
}

function badValue(input: string, rowNumber: number, column: string, expected: string, value: unknown): MaltError {
  return new MaltError('PREDICT_BAD_VALUE', `${input}: row ${rowNumber}, column "${column}": expected ${expected}, received ${describeValue(value)}`, { location: { file: input, field: column } })
}

/** Writes one row's features into `target` at `offset` (row numbers are 1-based, header not counted). */
function fillRow(target: TensorData, offset: number, row: Row, features: FeaturePlan, integers: boolean, rowNumber: number, input: string): void {
  const out = target as unknown as { [index: number]: number }
  const put = (column: string, value: number | bigint | boolean): void => {
    const number = Number(value)
    if (integers && !Number.isInteger(number)) throw badValue(input, rowNumber, column, 'an integer (the model input is an integer type)', value)
    out[offset++] = number
  }
  features.columns.forEach((column, i) => {
    if (!Object.hasOwn(row, column)) throw missingColumn(input, rowNumber, column, row)
    const value = row[column]
    const length = features.lengths[i]
    if (length === 1 && isScalar(value)) return put(column, value as number)
    const vector = asVector(value)
    if (vector === undefined) throw badValue(input, rowNumber, column, length === 1 ? 'a number' : `a vector of ${length} numbers`, value)
    if (vector.length !== length) throw badValue(input, rowNumber, column, `${length} values (as in row 1)`, `${vector.length} values`)
    for (let j = 0; j < vector.length; j++) put(column, vector[j])
  })
}

/** Index of the largest value (the first on ties; NaN never wins); -1 when every value is NaN. */
function argMax(values: ArrayLike<number>): number {
  let best = -1
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i]) && (best < 0 || values[i] > values[best])) best = i
  return best
}

/** Turns the output tensor into one prediction cell per row. */
function decode(output: Tensor, rows: number, kind: PredictionKind, path: string): unknown[] {
  if (Array.isArray(output.data) && kind !== 'scores') {
    throw new MaltError('PREDICT_UNSUPPORTED_MODEL', `${path}: output ${JSON.stringify(output.name)} is ${output.datatype}; a class or label prediction needs numeric scores`)
  }
  if (output.shape[0] !== rows) {
    throw new MaltError('PREDICT_UNSUPPORTED_MODEL', `${path}: output ${JSON.stringify(output.name)} has shape ${JSON.stringify(output.shape)} for a batch of ${rows} rows; expected its first dimension to be the batch`)
  }
  const per = output.data.length / rows
  const numbers = (i: number): number[] => Array.from(output.data.slice(i * per, (i + 1) * per) as ArrayLike<number | bigint>, Number)
  if (Array.isArray(kind) && kind.length !== Math.max(per, 2)) {
    throw new MaltError('PREDICT_BAD_OPTION', `${path}: output ${JSON.stringify(output.name)} gives ${per} value${per === 1 ? '' : 's'} per row, so it needs ${Math.max(per, 2)} labels; received ${kind.length}: ${describeValue(kind)}`)
  }
  return Array.from({ length: rows }, (_, i) => {
    if (kind === 'scores') {
      const cell = (output.data as ArrayLike<unknown>)[i]
      if (per === 1) return typeof cell === 'bigint' ? Number(cell) : cell
      return Array.isArray(output.data) ? output.data.slice(i * per, (i + 1) * per) : numbers(i)
    }
    const values = numbers(i)
    const index = per === 1 ? (Number.isNaN(values[0]) ? -1 : Number(values[0] >= 0.5)) : argMax(values)
    if (index < 0) return null
    return kind === 'class' ? index : (kind as readonly string[])[index]
  })
}

async function loadTransformer(path: string): Promise<Transformer> {
  const { storage, path: local } = resolvePath(path)
  const text = new TextDecoder().decode(await storage.readFile(local))
  let transformer: Transformer
  try {
    transformer = transformerFromJSON(JSON.parse(text))
  } catch (error) {
    throw new MaltError(error instanceof MaltError ? error.code : 'PREDICT_BAD_PIPELINE', `pipeline ${path}: ${(error as Error).message}`, { cause: error, location: { file: path } })
  }
  if (!transformer.fitted) throw new MaltError('PREDICT_BAD_PIPELINE', `pipeline ${path}: ${transformer.type} is not fitted; save it after fit()`, { location: { file: path } })
  return transformer
}

/** The input's columns for a CSV header: from the header or the footer when the format has one, else one pass over the rows. */
async function inputColumns(input: string, format: DataFormat): Promise<string[]> {
  if (format === 'csv' || format === 'tsv') return (await inferCsvSchema(input, { delimiter: format === 'tsv' ? '\t' : ',' })).columns.map((column) => column.name)
  if (format === 'parquet') return (await parquetInfo(input)).columns.map((column) => column.name)
  return (await scanColumns(openDataset(input))).columns
}

async function writeRows(options: BatchPredictOptions, checked: Checked, rows: AsyncIterable<Row>): Promise<number> {
  const { output } = options
  switch (checked.outputFormat) {
    case 'jsonl':
      return writeJsonl(output, rows)
    case 'csv':
    case 'tsv': {
      const columns = [...(await inputColumns(options.input, checked.inputFormat)), checked.predictionColumn]
      return writeCsv(output, rows, { delimiter: checked.outputFormat === 'tsv' ? '\t' : ',', columns })
    }
    default: {
      const kinds = tfRecordKinds(await scanColumns(openDataset(options.input)))
      kinds[checked.predictionColumn] = checked.prediction === 'scores' ? 'float' : checked.prediction === 'class' ? 'int64' : 'bytes'
      return writeTfRecord(output, rows, { types: kinds, compression: output.toLowerCase().endsWith('.gz') ? 'gzip' : undefined })
    }
  }
}

/** Input rows with their prediction, in input order, one model call per batch. */
async function* predictRows(options: BatchPredictOptions, checked: Checked, model: LoadedModel, transformer: Transformer | undefined, pipelineFeatures: string): AsyncGenerator<Row> {
  const plan = planModel(model, options.model)
  const { input } = options
  const integers = !['FP32', 'FP64', 'FP16'].includes(plan.input.datatype)
  let features: FeaturePlan | undefined
  let batch: Row[] = []
  let values: TensorData | undefined
  let rowNumber = 0
  const newValues = (): TensorData => (DIRECT_TYPES.has(plan.input.datatype) ? allocate(plan.input.datatype, checked.batchSize * plan.size) : new Float64Array(checked.batchSize * plan.size))
  const run = async (): Promise<Row[]> => {
    const n = batch.length
    // A typed array: planModel refused BOOL and BYTES inputs.
    const data = (values as Float32Array).subarray(0, n * plan.size)
    const tensor: Tensor = { name: plan.input.name, datatype: plan.input.datatype, shape: [n, ...plan.input.shape.slice(1)], data }
    const outputs = await model.predict(new Map([[plan.input.name, tensor]]))
    const predictions = decode(outputs.get(plan.output.name) as Tensor, n, checked.prediction, options.model)
    const out = batch.map((row, i) => ({ ...row, [checked.predictionColumn]: predictions[i] }))
    options.onProgress?.(rowNumber)
    batch = []
    values = undefined
    return out
  }
  for await (const row of openDataset(input)) {
    rowNumber++
    let modelRow = row
    if (transformer) {
      try {
        modelRow = transformer.transform(row)
      } catch (error) {
        throw new MaltError(error instanceof MaltError ? error.code : 'PREDICT_BAD_PIPELINE', `${input}: row ${rowNumber}: pipeline ${options.pipeline}: ${(error as Error).message}`, { cause: error })
      }
    }
    if (Object.hasOwn(row, checked.predictionColumn)) {
      throw new MaltError('PREDICT_BAD_OPTION', `${input}: row ${rowNumber} already has a column "${checked.predictionColumn}"; name the prediction column otherwise (predictionColumn, CLI: --column)`)
    }
    if (features === undefined) {
      const fromPipeline = transformer && options.features === undefined && Object.hasOwn(modelRow, pipelineFeatures) ? [pipelineFeatures] : undefined
      features = resolveFeatures(modelRow, options.features ?? fromPipeline, plan, input)
    }
    values ??= newValues()
    fillRow(values, batch.length * plan.size, modelRow, features, integers, rowNumber, input)
    batch.push(row)
    if (batch.length === checked.batchSize) yield* await run()
  }
  if (batch.length > 0) yield* await run()
}

/**
 * Runs a model over every row of a data file and writes the rows with a prediction column,
 * streaming: memory holds one batch, so the file may be any size. Rows keep their input order.
 * The output appears only when complete; a failure (a bad value in row 70,000) leaves none.
 * CSV output from JSON Lines or TFRecord, and TFRecord output, first read the input once without
 * the model, to learn every column (and each one's TFRecord list kind).
 *
 * @example
 * const { rows, seconds } = await batchPredict({ model: 'models/fashion/3', input: 'test.jsonl', output: 'scored.csv', prediction: 'class' })
 */
export async function batchPredict(options: BatchPredictOptions): Promise<BatchPredictResult> {
  const started = performance.now()
  const checked = checkOptions(options)
  const { storage, path } = resolvePath(options.input)
  if ((await storage.stat(path)).isDirectory) throw new MaltError('PREDICT_BAD_OPTION', `input ${options.input} is a directory; expected a data file`, { location: { file: options.input } })
  let transformer = options.pipeline === undefined ? undefined : await loadTransformer(options.pipeline)
  let model = await loadModel(options.model)
  let pipelineFeatures: string = DEFAULTS.pipelineFeatures
  if (model instanceof PipelineServable) {
    // A version exported with its pipeline: run the model behind it on rows through the pipeline's
    // feature stages (unless another pipeline was given), naming labels when it indexed one.
    const { plan } = model
    model = model.model
    if (transformer === undefined) {
      transformer = new Pipeline(plan.stages)
      pipelineFeatures = plan.features
      if (options.prediction === undefined && plan.label !== undefined) checked.prediction = plan.label.inverse.labels
    }
  }
  try {
    const rows = await writeRows(options, checked, predictRows(options, checked, model, transformer, pipelineFeatures))
    return { rows, seconds: (performance.now() - started) / 1000 }
  } finally {
    await model.dispose()
  }
}
