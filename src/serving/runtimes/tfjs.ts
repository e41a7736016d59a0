// The TF.js runtime: a version directory with `model.json` (a Layers or a Graph model, told
// apart by its `format`) and its weight shards, run on Malt's backend (native kernels when built).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import { MaltError } from '../../errors.js'
import { tf, ready } from '../../backend/index.js'
import { ServingError, type DataType, type LoadedModel, type ModelRuntime, type Tensor, type TensorSpec } from '../types.js'
import { isFile } from '../../util/files.js'
import { planDirectExecution, type DirectPlan } from './direct.js'

const MODEL_JSON = 'model.json'

/** TF.js dtypes the runtime passes through, with their wire names. */
const FROM_TFJS: Readonly<Record<string, DataType>> = { float32: 'FP32', int32: 'INT32', bool: 'BOOL', string: 'BYTES' }
const TO_TFJS: Readonly<Partial<Record<DataType, tfjs.DataType>>> = { FP32: 'float32', INT32: 'int32', BOOL: 'bool' }

function dataType(dtype: string | undefined, where: string): DataType {
  const datatype = FROM_TFJS[dtype ?? 'float32']
  if (datatype === undefined) throw new MaltError('SERVING_UNSUPPORTED_DTYPE', `${where}: TF.js dtype ${dtype} cannot be served (supported: float32, int32, bool)`)
  return datatype
}

function specShape(shape: readonly (number | null)[] | undefined): number[] {
  return (shape ?? [-1]).map((dim) => (dim === null || dim < 0 ? -1 : dim))
}

/** Turns a request tensor into a TF.js tensor (the protocols produced the right typed array). */
function toTf(tensor: Tensor): tfjs.Tensor {
  const dtype = TO_TFJS[tensor.datatype]
  if (dtype === undefined) throw new MaltError('SERVING_UNSUPPORTED_DTYPE', `input ${tensor.name}: ${tensor.datatype} is not a TF.js type`)
  if (dtype === 'bool') return tf.tensor(tensor.data as boolean[], tensor.shape, 'bool')
  return tf.tensor(tensor.data as Float32Array | Int32Array, tensor.shape, dtype)
}

async function fromTf(name: string, tensor: tfjs.Tensor): Promise<Tensor> {
  const datatype = dataType(tensor.dtype, `output ${name}`)
  const values = await tensor.data()
  const data = datatype === 'BOOL' ? Array.from(values as Uint8Array, (v) => v !== 0) : (values as Float32Array | Int32Array)
  return { name, datatype, shape: [...tensor.shape], data }
}

/** The model's outputs read back by name, in the specs' order; the TF.js tensors are disposed. */
async function readOutputs(specs: readonly TensorSpec[], result: tfjs.Tensor | tfjs.Tensor[]): Promise<Map<string, Tensor>> {
  const results = Array.isArray(result) ? result : [result]
  try {
    const outputs = new Map<string, Tensor>()
    for (const [i, spec] of specs.entries()) outputs.set(spec.name, await fromTf(spec.name, results[i]))
    return outputs
  } finally {
    tf.dispose(results)
  }
}

class LayersServable implements LoadedModel {
  readonly platform = 'tensorflowjs_layers'
  readonly inputs: TensorSpec[]
  readonly outputs: TensorSpec[]
  /** Set while predictions bypass the TF.js engine (direct.ts); dropped if it ever fails. */
  private direct: DirectPlan | undefined

  constructor(private readonly model: tfjs.LayersModel) {
    // A loaded Sequential model fills inputNames/outputNames only on its first predict: name by layer.
    this.inputs = model.inputs.map((input) => ({ name: input.sourceLayer.name, datatype: dataType(input.dtype, `input ${input.sourceLayer.name}`), shape: specShape(input.shape) }))
    this.outputs = model.outputs.map((output) => ({ name: output.sourceLayer.name, datatype: dataType(output.dtype, `output ${output.sourceLayer.name}`), shape: specShape(output.shape) }))
    // MALT_SERVING_DIRECT=0 keeps every model on TF.js (see planDirectExecution).
    this.direct = planDirectExecution(model)
  }

  /** 'direct' when predictions run the precompiled plan over the native kernels, 'tfjs' when TF.js runs the model. */
  get execution(): 'direct' | 'tfjs' {
    return this.direct === undefined ? 'tfjs' : 'direct'
  }

  async predict(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    if (this.direct !== undefined) {
      try {
        // Undefined for inputs the plan does not cover (another dtype, a wrong shape): TF.js serves or rejects them.
        const outputs = this.direct.predict(inputs)
        if (outputs !== undefined) return outputs
      } catch (error) {
        // A kernel refused what the plan passed: a bug, not the client's fault. TF.js answers from now on.
        process.stderr.write(`malt serve: direct execution of model ${this.model.name} failed (${(error as Error).message}); TF.js runs it from now on\n`)
        this.direct = undefined
      }
    }
    const feeds = this.inputs.map((spec) => toTf(required(inputs, spec.name)))
    try {
      return await readOutputs(this.outputs, this.model.predict(feeds.length === 1 ? feeds[0] : feeds))
    } finally {
      tf.dispose(feeds)
    }
  }

  async dispose(): Promise<void> {
    this.direct?.release()
    this.direct = undefined
    this.model.dispose()
  }
}

class GraphServable implements LoadedModel {
  readonly platform = 'tensorflowjs_graph'
  readonly inputs: TensorSpec[]
  readonly outputs: TensorSpec[]
  /** Set once the graph turned out to have control flow ops (execute refused it). */
  private needsAsync = false

  constructor(private readonly model: tfjs.GraphModel) {
    this.inputs = model.inputs.map((info) => ({ name: info.name, datatype: dataType(info.dtype, `input ${info.name}`), shape: specShape(info.shape) }))
    this.outputs = model.outputs.map((info) => ({ name: info.name, datatype: dataType(info.dtype, `output ${info.name}`), shape: specShape(info.shape) }))
  }

  async predict(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    const feeds: Record<string, tfjs.Tensor> = {}
    for (const spec of this.inputs) feeds[spec.name] = toTf(required(inputs, spec.name))
    try {
      return await readOutputs(this.outputs, await this.execute(feeds))
    } finally {
      tf.dispose(Object.values(feeds))
    }
  }

  async dispose(): Promise<void> {
    this.model.dispose()
  }

  /** `execute` (synchronous, no warning per call) unless the graph has control flow, which needs `executeAsync`. */
  private async execute(feeds: Record<string, tfjs.Tensor>): Promise<tfjs.Tensor | tfjs.Tensor[]> {
    const names = this.outputs.map((spec) => spec.name)
    if (!this.needsAsync) {
      try {
        return this.model.execute(feeds, names)
      } catch (error) {
        if (!/executeAsync/.test((error as Error).message)) throw error
        this.needsAsync = true
      }
    }
    return this.model.executeAsync(feeds, names)
  }
}

function required(inputs: ReadonlyMap<string, Tensor>, name: string): Tensor {
  const tensor = inputs.get(name)
  if (tensor === undefined) throw new ServingError(400, 'SERVING_MISSING_INPUT', `The model needs input ${JSON.stringify(name)}; it was not given`)
  return tensor
}

/** Loads `dir/model.json`: a Layers model (`format: 'layers-model'`, the default of `model.save`) or a Graph model. */
export const tfjsRuntime: ModelRuntime = {
  name: 'tfjs',

  accepts(dir) {
    return isFile(join(dir, MODEL_JSON))
  },

  async load(dir) {
    await ready()
    const path = join(dir, MODEL_JSON)
    let format: unknown
    try {
      format = (JSON.parse(await readFile(path, 'utf8')) as { format?: unknown }).format
    } catch (error) {
      throw new MaltError('MODEL_BAD_JSON', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error, location: { file: path } })
    }
    const url = `file://${path}`
    if (format === 'graph-model') return new GraphServable(await tf.loadGraphModel(url))
    return new LayersServable(await tf.loadLayersModel(url))
  },
}
