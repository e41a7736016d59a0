// A version's fitted data pipeline (`pipeline.json`, saved by Pipeline.save) served in front of its
// model: requests carry raw columns, the pipeline's stages that lead to the model's features run on
// each row, and a LabelIndexer the features do not need (the one fitted on the training label)
// turns the model's scores back into label names after it.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MaltError, describeValue } from '../errors.js'
import type { JsonValue, Transformer, TransformerJSON } from '../data/transformers/base.js'
import { LabelIndexer } from '../data/transformers/label-indexer.js'
import type { LabelIndexInverse } from '../data/transformers/label-index-inverse.js'
import { Pipeline, transformerFromJSON } from '../data/transformers/pipeline.js'
import type { Row } from '../data/types.js'
import { allocate, elementCount } from './tensor.js'
import { isFile } from '../util/files.js'
import { ServingError, type DataType, type LoadedModel, type Tensor, type TensorData, type TensorSpec } from './types.js'

/** The file a version directory may hold beside its model. */
export const PIPELINE_FILE = 'pipeline.json'

/** The column the model's features are read from when a stage writes it (as `malt predict` does). */
const FEATURES_COLUMN = 'features'

/** What a pipeline does in front of one model, worked out once when the version loads. */
export interface ServingPlan {
  /** The stages that lead to the features, in order (the label's stages are left out). */
  stages: Transformer[]
  /** The column the model reads. */
  features: string
  /** The raw columns requests carry, with their types. */
  inputs: TensorSpec[]
  /** The label inverse after the model, if the pipeline indexed a label. */
  label?: { column: string; inverse: LabelIndexInverse; classes: number }
}

/** Reads the columns a stage reads and writes from its saved form (every built-in stage names them the same way). */
function stageColumns(json: TransformerJSON): { reads: string[]; writes: string[] } {
  const names = (value: JsonValue | undefined): string[] => (typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [])
  const reads = [...names(json.inputCol), ...names(json.inputCols)]
  const outputs = names(json.outputCol)
  const writes = outputs.length > 0 ? outputs : reads
  return { reads, writes: typeof json.shapeCol === 'string' ? [...writes, json.shapeCol] : writes }
}

/** The stages in order, nested pipelines opened. */
function flatten(transformer: Transformer): Transformer[] {
  return transformer instanceof Pipeline ? transformer.stages.flatMap(flatten) : [transformer]
}

function state(json: TransformerJSON): Record<string, JsonValue> | undefined {
  const value = json.state
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : undefined
}

function numbers(value: JsonValue | undefined): number[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'number') ? (value as number[]) : undefined
}

/** A scaler's input: a vector of the fitted length, or a scalar. */
function scaledInput(name: string, fitted: number[] | undefined, vector: boolean): TensorSpec {
  return vector && fitted !== undefined ? { name, datatype: 'FP32', shape: [-1, fitted.length] } : { name, datatype: 'FP64', shape: [-1] }
}

function valueType(value: JsonValue | undefined): DataType {
  return typeof value === 'string' ? 'BYTES' : typeof value === 'boolean' ? 'BOOL' : 'FP64'
}

/**
 * The type of raw column `name` as the first stage reading it takes it. A stage whose input has no
 * tensor form (sparse vectors) cannot take raw request columns: the version fails to load, naming it.
 */
function rawInputSpec(name: string, json: TransformerJSON, file: string): TensorSpec {
  const fitted = state(json)
  switch (json.type) {
    case 'LabelIndexer':
      return { name, datatype: 'BYTES', shape: [-1] }
    case 'OneHotEncoder': {
      const categories = fitted?.categories ?? json.categories
      const numeric = Array.isArray(categories) && categories.length > 0 && categories.every((c) => typeof c === 'number')
      return { name, datatype: numeric ? 'FP64' : 'BYTES', shape: [-1] }
    }
    case 'BinaryLabel': {
      const positive = json.positive
      return { name, datatype: Array.isArray(positive) ? valueType(positive[0]) : 'FP64', shape: [-1] }
    }
    case 'Imputer': {
      const columns = Array.isArray(json.inputCol) ? json.inputCol : [json.inputCol]
      const fills = fitted?.fill
      const fill = Array.isArray(fills) ? fills[columns.indexOf(name)] : json.fillValue
      return { name, datatype: valueType(fill), shape: [-1], nullable: true }
    }
    case 'StandardScaler':
      return scaledInput(name, numbers(fitted?.mean), fitted?.vector === true)
    case 'MinMaxScaler': {
      const given = numbers(json.inputMin)
      return given !== undefined ? scaledInput(name, given, given.length > 1) : scaledInput(name, numbers(fitted?.dataMin), fitted?.vector === true)
    }
    case 'Reshape': {
      const shape = numbers(json.shape) ?? []
      return { name, datatype: 'FP32', shape: [-1, shape.includes(-1) ? -1 : elementCount(shape)] }
    }
    case 'VectorAssembler':
      return { name, datatype: 'FP64', shape: [-1] }
    default:
      throw new MaltError('SERVING_BAD_PIPELINE', `${file}: column ${JSON.stringify(name)} is read first by a ${json.type} stage, which cannot take a raw request column; put a stage that can (e.g. a scaler or an encoder) before it, or send the model's features directly`, {
        location: { file },
      })
  }
}

/**
 * Works out what serving `pipeline` in front of a model with one input means: the features column
 * (`features` when a stage writes it, else the last stage's output that is not a label index), the
 * stages needed to compute it, the raw columns and their types, and the label inverse.
 */
export function planServing(pipeline: Transformer, file: string): ServingPlan {
  const all = flatten(pipeline)
  const jsons = all.map((stage) => stage.toJSON())
  const columns = jsons.map(stageColumns)
  const unfitted = all.findIndex((stage) => !stage.fitted)
  if (unfitted >= 0) throw new MaltError('SERVING_BAD_PIPELINE', `${file}: stage ${unfitted} (${all[unfitted].type}) is not fitted; save the pipeline after fit()`, { location: { file } })
  let features: string | undefined = columns.some((c) => c.writes.includes(FEATURES_COLUMN)) ? FEATURES_COLUMN : undefined
  for (let k = all.length - 1; k >= 0 && features === undefined; k--) {
    if (!(all[k] instanceof LabelIndexer)) features = columns[k].writes.at(-1)
  }
  if (features === undefined) throw new MaltError('SERVING_BAD_PIPELINE', `${file}: no stage writes the model's features (a "${FEATURES_COLUMN}" column or a last stage that is not a LabelIndexer)`, { location: { file } })

  // Walk back from the features: a stage is needed when it writes a column still needed.
  const needed = new Set([features])
  const kept: number[] = []
  for (let k = all.length - 1; k >= 0; k--) {
    if (!columns[k].writes.some((c) => needed.has(c))) continue
    kept.unshift(k)
    for (const c of columns[k].writes) needed.delete(c)
    for (const c of columns[k].reads) needed.add(c)
  }
  const inputs: TensorSpec[] = []
  const produced = new Set<string>()
  for (const k of kept) {
    for (const c of columns[k].reads) {
      if (!produced.has(c) && !inputs.some((spec) => spec.name === c)) inputs.push(rawInputSpec(c, jsons[k], file))
    }
    for (const c of columns[k].writes) produced.add(c)
  }

  // The label: a LabelIndexer left out, preferring one that writes `label` when there are several.
  const readByKept = new Set(kept.flatMap((k) => columns[k].reads))
  const labelIndexers = all.filter((stage, k): stage is LabelIndexer => stage instanceof LabelIndexer && !kept.includes(k) && !readByKept.has(stage.outputCol))
  const indexer = labelIndexers.length === 1 ? labelIndexers[0] : labelIndexers.find((stage) => stage.outputCol === 'label')
  const label = indexer === undefined ? undefined : { column: indexer.inputCol, inverse: indexer.inverse({ inputCol: 'scores', outputCol: indexer.inputCol }), classes: indexer.labels?.length ?? 0 }
  return { stages: kept.map((k) => all[k]), features, inputs, label }
}

/** Reads a saved pipeline (or single transformer) file; errors name the file. */
export async function readPipelineFile(file: string): Promise<Transformer> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(file, 'utf8'))
  } catch (error) {
    throw new MaltError('SERVING_BAD_PIPELINE', `${file}: not a pipeline saved by Pipeline.save: ${(error as Error).message}`, { cause: error, location: { file } })
  }
  try {
    return transformerFromJSON(json)
  } catch (error) {
    throw new MaltError('SERVING_BAD_PIPELINE', `${file}: ${(error as Error).message}`, { cause: error, location: { file } })
  }
}

/** Row `i` of a raw input as the pipeline reads a cell: a number, string, boolean, or a vector view. */
function cell(tensor: Tensor, i: number): unknown {
  if (tensor.shape.length <= 1) {
    const value = tensor.data[i]
    return typeof value === 'bigint' ? Number(value) : value
  }
  const size = elementCount(tensor.shape.slice(1))
  return (tensor.data as Float32Array).subarray(i * size, (i + 1) * size)
}

/** Copies a features cell (number, vector, nested arrays from Reshape) into `out` at `offset`; returns the count written. */
function writeFeatures(value: unknown, out: TensorData, offset: number): number {
  if (typeof value === 'number' || typeof value === 'boolean') {
    ;(out as unknown as unknown[])[offset] = Number(value)
    return 1
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const values = value as unknown as ArrayLike<number>
    for (let i = 0; i < values.length; i++) (out as unknown as number[])[offset + i] = values[i]
    return values.length
  }
  if (Array.isArray(value)) {
    let written = 0
    for (const item of value) written += writeFeatures(item, out, offset + written)
    return written
  }
  throw new Error(`expected numbers, got ${describeValue(value)}`)
}

/** Counts the numbers a features cell holds (without writing them). */
function featureCount(value: unknown): number {
  if (typeof value === 'number' || typeof value === 'boolean') return 1
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return (value as unknown as ArrayLike<number>).length
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + featureCount(item), 0)
  return -1
}

/**
 * A model with its pipeline in front: inputs are the raw columns, outputs the model's plus, with a
 * label inverse, a BYTES output named after the label column holding each row's label.
 */
export class PipelineServable implements LoadedModel {
  readonly platform: string
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  private readonly modelInput: TensorSpec
  private readonly rowSize: number
  private readonly labelOutput?: TensorSpec

  constructor(
    /** The model behind the pipeline. */
    readonly model: LoadedModel,
    readonly plan: ServingPlan,
    private readonly file: string,
  ) {
    if (model.inputs.length !== 1) {
      throw new MaltError('SERVING_BAD_PIPELINE', `${file}: a pipeline serves models with one input; this model has ${model.inputs.length} (${model.inputs.map((s) => s.name).join(', ')})`, { location: { file } })
    }
    this.platform = model.platform
    this.modelInput = model.inputs[0]
    this.rowSize = elementCount(this.modelInput.shape.slice(1))
    if (this.rowSize < 0) throw new MaltError('SERVING_BAD_PIPELINE', `${file}: the model's input ${this.modelInput.name} has a variable inner dimension ([${this.modelInput.shape.join(', ')}]); a pipeline needs its size`, { location: { file } })
    this.inputs = plan.inputs
    const outputs = [...model.outputs]
    if (plan.label !== undefined) {
      const scores = model.outputs[0]
      const width = scores?.shape.length === 2 ? scores.shape[1] : -1
      const { classes } = plan.label
      if (width !== classes && !(width === 1 && classes === 2)) {
        throw new MaltError('SERVING_BAD_PIPELINE', `${file}: the label column ${JSON.stringify(plan.label.column)} has ${classes} labels, but the model's output ${scores?.name} has shape [${scores?.shape.join(', ')}]: expected [-1, ${classes}]`, { location: { file } })
      }
      const taken = new Set(outputs.map((s) => s.name))
      let name = plan.label.column
      while (taken.has(name)) name = `${name}_label`
      this.labelOutput = { name, datatype: 'BYTES', shape: [-1] }
      outputs.push(this.labelOutput)
    }
    this.outputs = outputs
  }

  async predict(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    const first = inputs.get(this.inputs[0].name)
    const rows = first?.shape[0] ?? 0
    const features = allocate(this.modelInput.datatype, rows * this.rowSize)
    for (let i = 0; i < rows; i++) {
      let row: Row = {}
      for (const spec of this.inputs) {
        const tensor = inputs.get(spec.name)
        if (tensor === undefined) throw new ServingError(400, 'SERVING_MISSING_INPUT', `The model needs input ${JSON.stringify(spec.name)}; it was not given`)
        row[spec.name] = cell(tensor, i)
      }
      try {
        for (const stage of this.plan.stages) row = stage.transform(row)
      } catch (error) {
        throw new ServingError(400, 'SERVING_BAD_VALUE', `instance ${i}: ${(error as Error).message}`, { cause: error })
      }
      const value = row[this.plan.features]
      const count = featureCount(value)
      if (count !== this.rowSize) {
        throw new ServingError(400, 'SERVING_BAD_SHAPE', `instance ${i}: the pipeline made ${count < 0 ? describeValue(value) : `${count} features`} from it; the model's input ${this.modelInput.name} takes ${this.rowSize}`)
      }
      writeFeatures(value, features, i * this.rowSize)
    }
    const shape = [rows, ...this.modelInput.shape.slice(1)]
    const outputs = await this.model.predict(new Map([[this.modelInput.name, { name: this.modelInput.name, datatype: this.modelInput.datatype, shape, data: features }]]))
    if (this.plan.label !== undefined && this.labelOutput !== undefined) outputs.set(this.labelOutput.name, this.labels(outputs.get(this.model.outputs[0].name), rows))
    return outputs
  }

  /** Each row's label from the model's first output: arg-max of the scores, or a single sigmoid score against 0.5. */
  private labels(scores: Tensor | undefined, rows: number): Tensor {
    const { inverse } = this.plan.label!
    const data = new Array<string>(rows)
    const width = scores === undefined ? 0 : elementCount(scores.shape.slice(1))
    for (let i = 0; i < rows; i++) {
      const values = (scores!.data as Float32Array).subarray(i * width, (i + 1) * width)
      const cellValue = width === 1 ? (values[0] >= 0.5 ? 1 : 0) : values
      try {
        data[i] = inverse.transform({ scores: cellValue })[inverse.outputCol] as string
      } catch (error) {
        throw new ServingError(500, 'SERVING_MODEL_FAILED', `instance ${i}: the label inverse of ${this.file} failed on the model's output: ${(error as Error).message}`, { cause: error })
      }
    }
    return { name: this.labelOutput!.name, datatype: 'BYTES', shape: [rows], data }
  }

  dispose(): Promise<void> {
    return this.model.dispose()
  }
}

/** Puts the version's pipeline (if it has one) in front of its loaded model. */
export async function withServingPipeline(dir: string, model: LoadedModel): Promise<LoadedModel> {
  const file = join(dir, PIPELINE_FILE)
  if (!(await isFile(file))) return model
  try {
    return new PipelineServable(model, planServing(await readPipelineFile(file), file), file)
  } catch (error) {
    await model.dispose()
    throw error
  }
}
