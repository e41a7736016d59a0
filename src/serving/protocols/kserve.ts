// The Open Inference Protocol (KServe v2) over REST (specification/protocol/inference_rest.md):
// inference requests of typed tensors {name, shape, datatype, data} and their responses, and the
// server and model metadata documents.
import { describeValue } from '../../errors.js'
import { isDataType } from '../tensor.js'
import { ServingError, type Tensor, type TensorSpec } from '../types.js'
import {
  ERROR_CODES,
  JsonPath,
  TensorReader,
  badRequest,
  checkBatch,
  checkNesting,
  formatShape,
  isObject,
  listText,
  nameList,
  type DecodeOptions,
  type ElementRules,
  type ModelSignature,
} from './signature.js'

export type { DecodeOptions, ModelSignature } from './signature.js'

/** An inference request read against the model's signature. */
export interface DecodedInfer {
  /** The request's `id`, echoed in the response. */
  id?: string
  /** Every model input, keyed by name, batched along the first dimension. */
  inputs: Map<string, Tensor>
  /** Rows in every input (the first dimension of each). */
  batchSize: number
  /** The outputs the request asked for, in its order; absent: all of them. */
  requestedOutputs?: string[]
  /** The request's `parameters` (string, number or boolean values). */
  parameters?: Record<string, unknown>
}

/**
 * Reads an `/infer` body (already parsed) against the model's inputs. Data may be flat or nested as
 * the shape (the spec allows both); the datatype must be the model input's. With allowNonFinite,
 * float elements may also be the strings "NaN", "Infinity" and "-Infinity" (the spec lets a server
 * coerce elements), which is how {@link encodeInferResponse} writes them.
 *
 * @example
 * decodeInferRequest({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }, model)
 */
export function decodeInferRequest(body: unknown, signature: ModelSignature, options: DecodeOptions = {}): DecodedInfer {
  if (!isObject(body)) throw badRequest(ERROR_CODES.request, `expected an inference request object with "inputs", got ${describeValue(body)}`)
  const id = body.id
  if (id !== undefined && typeof id !== 'string') throw badRequest(ERROR_CODES.request, `"id": expected a string, got ${describeValue(id)}`)
  const parameters = checkParameters(body.parameters, '"parameters"')
  const requestedOutputs = checkRequestedOutputs(body.outputs, signature.outputs)
  const list = body.inputs
  if (!Array.isArray(list)) throw badRequest(ERROR_CODES.request, `"inputs": expected a list of input tensors {name, shape, datatype, data}, got ${describeValue(list)}`)
  const rules: ElementRules = { allowNonFinite: options.allowNonFinite ?? false, b64Objects: false, nonFiniteStrings: true }
  const inputs = new Map<string, Tensor>()
  let batchSize = -1
  let batchFrom = ''
  for (let i = 0; i < list.length; i++) {
    const tensor = decodeInput(list[i], i, signature.inputs, inputs, rules)
    const rows = tensor.shape.length > 0 ? tensor.shape[0] : 1
    const where = `inputs[${i}] (${JSON.stringify(tensor.name)})`
    if (batchSize === -1) {
      batchSize = rows
      batchFrom = where
    } else if (rows !== batchSize) {
      throw badRequest(
        ERROR_CODES.shape,
        `${where}: ${rows} rows but ${batchFrom} has ${batchSize}: Malt batches every input along its first dimension, so all inputs need the same first dimension`,
      )
    }
    inputs.set(tensor.name, tensor)
  }
  const missing = signature.inputs.filter((spec) => !inputs.has(spec.name))
  if (missing.length > 0) throw badRequest(ERROR_CODES.request, `"inputs": missing input ${nameList(missing)}; the model's inputs are ${nameList(signature.inputs)}`)
  return {
    ...(id === undefined ? {} : { id }),
    inputs,
    batchSize,
    ...(requestedOutputs === undefined ? {} : { requestedOutputs }),
    ...(parameters === undefined ? {} : { parameters }),
  }
}

/** `$parameters`: an object whose values are strings, numbers or booleans. */
function checkParameters(value: unknown, where: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined
  if (!isObject(value)) throw badRequest(ERROR_CODES.request, `${where}: expected an object of parameters, got ${describeValue(value)}`)
  for (const key in value) {
    const v = value[key]
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw badRequest(ERROR_CODES.request, `${where}.${key}: expected a string, number or boolean, got ${describeValue(v)}`)
    }
  }
  return value
}

function checkRequestedOutputs(value: unknown, outputs: readonly TensorSpec[]): string[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw badRequest(ERROR_CODES.request, `"outputs": expected a list of {name}, got ${describeValue(value)}`)
  const names: string[] = []
  for (let i = 0; i < value.length; i++) {
    const output: unknown = value[i]
    if (!isObject(output) || typeof output.name !== 'string') throw badRequest(ERROR_CODES.request, `outputs[${i}]: expected {"name": <string>}, got ${describeValue(output)}`)
    const name = output.name
    if (!outputs.some((spec) => spec.name === name)) {
      throw badRequest(ERROR_CODES.request, `outputs[${i}]: unknown output ${JSON.stringify(name)}; the model's outputs are ${nameList(outputs)}`)
    }
    if (names.includes(name)) throw badRequest(ERROR_CODES.request, `outputs[${i}]: output ${JSON.stringify(name)} is requested twice`)
    checkParameters(output.parameters, `outputs[${i}].parameters`)
    names.push(name)
  }
  return names
}

function decodeInput(input: unknown, index: number, specs: readonly TensorSpec[], seen: ReadonlyMap<string, Tensor>, rules: ElementRules): Tensor {
  const at = `inputs[${index}]`
  if (!isObject(input)) throw badRequest(ERROR_CODES.request, `${at}: expected a tensor {name, shape, datatype, data}, got ${describeValue(input)}`)
  const { name, shape, datatype, data } = input
  if (typeof name !== 'string') throw badRequest(ERROR_CODES.request, `${at}.name: expected a string, got ${describeValue(name)}`)
  const spec = specs.find((candidate) => candidate.name === name)
  if (spec === undefined) throw badRequest(ERROR_CODES.request, `${at}: unknown input ${JSON.stringify(name)}; the model's inputs are ${nameList(specs)}`)
  if (seen.has(name)) throw badRequest(ERROR_CODES.request, `${at}: input ${JSON.stringify(name)} is given twice`)
  const where = `${at} (${JSON.stringify(name)})`
  if (!isDataType(datatype)) {
    throw badRequest(ERROR_CODES.datatype, `${where}.datatype: expected one of the protocol's data types (BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BYTES), got ${describeValue(datatype)}`)
  }
  if (datatype !== spec.datatype) throw badRequest(ERROR_CODES.datatype, `${where}.datatype: the model's input is ${spec.datatype}, got ${datatype}`)
  const dims = checkShape(shape, spec, where)
  checkParameters(input.parameters, `${where}.parameters`)
  if (!Array.isArray(data)) throw badRequest(ERROR_CODES.request, `${where}.data: expected a list of elements, got ${describeValue(data)}`)
  let count = 1
  for (const dim of dims) count *= dim
  if (count === 0) throw badRequest(ERROR_CODES.shape, `${where}: shape ${formatShape(dims)} holds no elements: expected at least one row`)
  checkBatch(spec, dims[0], where)
  const label = `input ${JSON.stringify(name)}`
  const path = new JsonPath(`${at}.data`)
  // The spec allows the natural nesting or a flat list; nesting starts with a list.
  if (dims.length > 1 && Array.isArray(data[0])) {
    checkNesting(data, dims, dims, dims, label, path)
    const reader = new TensorReader(spec, count, rules, label)
    reader.readNested(data, dims, path)
    return reader.tensor(dims)
  }
  if (data.length !== count) {
    throw badRequest(ERROR_CODES.shape, `${where}: shape ${formatShape(dims)} holds ${count} elements, data has ${data.length}`)
  }
  const reader = new TensorReader(spec, count, rules, label)
  reader.readList(data, path)
  return reader.tensor(dims)
}

/** The request's shape: non-negative integers, the model's rank, its fixed dimensions. */
function checkShape(shape: unknown, spec: TensorSpec, where: string): number[] {
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && (dim as number) >= 0)) {
    throw badRequest(ERROR_CODES.shape, `${where}.shape: expected a list of non-negative integers, got ${describeValue(shape)}`)
  }
  const dims = shape as number[]
  const fits = dims.length === spec.shape.length && dims.every((dim, d) => spec.shape[d] === -1 || spec.shape[d] === dim)
  if (!fits) throw badRequest(ERROR_CODES.shape, `${where}.shape: expected ${formatShape(spec.shape)} (-1: any size), got ${formatShape(dims)}`)
  return dims.slice()
}

/**
 * The response body as JSON text: `model_name`, `model_version`, `id` (when the request had one)
 * and `outputs`, each {name, datatype, shape, data} with data flat in row-major order — the
 * requested outputs in the request's order, or all of them. Non-finite floats are written as the
 * strings "NaN", "Infinity", "-Infinity": the body stays strict JSON (the spec's $number is JSON's)
 * and the spec allows string elements; numpy-based clients read them back as floats.
 */
export function encodeInferResponse(response: { modelName: string; modelVersion: string; id?: string; outputs: ReadonlyMap<string, Tensor>; requestedOutputs?: string[] }): string {
  const names = response.requestedOutputs ?? [...response.outputs.keys()]
  let text = `{"model_name":${JSON.stringify(response.modelName)},"model_version":${JSON.stringify(response.modelVersion)}`
  if (response.id !== undefined) text += `,"id":${JSON.stringify(response.id)}`
  text += ',"outputs":['
  for (let i = 0; i < names.length; i++) {
    const tensor = response.outputs.get(names[i])
    if (tensor === undefined) throw new ServingError(500, 'SERVING_MISSING_OUTPUT', `the model returned no output ${JSON.stringify(names[i])}`)
    text += `${i === 0 ? '' : ','}{"name":${JSON.stringify(tensor.name)},"datatype":"${tensor.datatype}","shape":[${tensor.shape.join(',')}],"data":${listText(tensor.data, 0, tensor.data.length, 'strings', 'string')}}`
  }
  return `${text}]}`
}

/** `$metadata_server_response`: `{name: 'malt', version, extensions: []}`. */
export function serverMetadataResponse(serverVersion: string): object {
  return { name: 'malt', version: serverVersion, extensions: [] }
}

/** `$metadata_model_response`: name, versions, platform and the inputs/outputs as {name, datatype, shape} (-1: variable). */
export function modelMetadataResponse(name: string, versions: readonly string[], platform: string, signature: ModelSignature): object {
  const tensor = (spec: TensorSpec): object => ({ name: spec.name, datatype: spec.datatype, shape: [...spec.shape] })
  return { name, versions: [...versions], platform, inputs: signature.inputs.map(tensor), outputs: signature.outputs.map(tensor) }
}
