// TensorFlow Serving's REST API (tensorflow_serving/g3doc/api_rest.md): predict requests in the
// row ("instances") and columnar ("inputs") formats and their responses, and the model status and
// metadata documents as TF Serving's proto-JSON writes them (int64 as strings, enums by name).
import { describeValue } from '../../errors.js'
import { ServingError, type Tensor, type TensorSpec, type VersionStatus } from '../types.js'
import {
  ERROR_CODES,
  JsonPath,
  TensorReader,
  badRequest,
  checkBatch,
  checkNesting,
  isObject,
  knownCount,
  nameList,
  nestedText,
  resolveDims,
  type DecodeOptions,
  type ElementRules,
  type ModelSignature,
} from './signature.js'

export type { DecodeOptions, ModelSignature } from './signature.js'

/** A predict request read against the model's signature. */
export interface DecodedPredict {
  /** Which format the request used; the response answers in the same one. */
  format: 'row' | 'columnar'
  /** Every model input, keyed by name, batched along the first dimension. */
  inputs: Map<string, Tensor>
  /** Rows in every input. */
  batchSize: number
  /** As the request named it ('serving_default' or ''), if it did. */
  signatureName?: string
}

/** The only signature a Malt model has, as TF Serving names the default one. */
const DEFAULT_SIGNATURE = 'serving_default'

/**
 * Reads a `:predict` body (already parsed) against the model's inputs; a 400 ServingError names
 * the input, the place in the body and what was expected versus received.
 *
 * @example
 * decodePredictRequest({ instances: [[1, 2], [3, 4]] }, model) // format 'row', batchSize 2
 */
export function decodePredictRequest(body: unknown, signature: ModelSignature, options: DecodeOptions = {}): DecodedPredict {
  if (!isObject(body)) throw badRequest(ERROR_CODES.request, `expected a JSON object with "instances" or "inputs", got ${describeValue(body)}`)
  const signatureName = checkSignatureName(body.signature_name)
  const hasInstances = Object.hasOwn(body, 'instances')
  const hasInputs = Object.hasOwn(body, 'inputs')
  if (hasInstances && hasInputs) throw badRequest(ERROR_CODES.request, 'a request has either "instances" (row format) or "inputs" (columnar format), not both')
  if (!hasInstances && !hasInputs) throw badRequest(ERROR_CODES.request, 'expected "instances" (row format) or "inputs" (columnar format) in the request')
  const rules: ElementRules = { allowNonFinite: options.allowNonFinite ?? false, b64Objects: true, nonFiniteStrings: false }
  const decoded = hasInstances ? decodeRows(body.instances, signature.inputs, rules) : decodeColumns(body.inputs, signature.inputs, rules)
  return { ...decoded, signatureName }
}

function checkSignatureName(name: unknown): string | undefined {
  if (name === undefined) return undefined
  if (typeof name !== 'string') throw badRequest(ERROR_CODES.request, `"signature_name": expected a string, got ${describeValue(name)}`)
  // An empty name is proto3's "unset": TF Serving reads it as the default signature.
  if (name !== '' && name !== DEFAULT_SIGNATURE) {
    throw badRequest(ERROR_CODES.request, `"signature_name": serving signature ${JSON.stringify(name)} not found; this model has one signature, "${DEFAULT_SIGNATURE}"`)
  }
  return name
}

function label(spec: TensorSpec): string {
  return `input ${JSON.stringify(spec.name)}`
}

/** `{"b64": "..."}`: a binary value, not a set of named inputs. */
function isB64(value: Record<string, unknown>): boolean {
  return typeof value.b64 === 'string' && Object.keys(value).length === 1
}

/** An object naming inputs: a 400 for a name the model lacks or an input it leaves out. */
function checkNames(value: Record<string, unknown>, specs: readonly TensorSpec[], where: string): void {
  let count = 0
  for (const key in value) {
    if (!specs.some((spec) => spec.name === key)) throw badRequest(ERROR_CODES.request, `${where}: unknown input ${JSON.stringify(key)}; the model's inputs are ${nameList(specs)}`)
    count++
  }
  if (count < specs.length) {
    const missing = specs.filter((spec) => !Object.hasOwn(value, spec.name))
    throw badRequest(ERROR_CODES.request, `${where}: missing input ${nameList(missing)}; the model's inputs are ${nameList(specs)}`)
  }
}

type Decoded = Pick<DecodedPredict, 'format' | 'inputs' | 'batchSize'>

function decodeRows(instances: unknown, specs: readonly TensorSpec[], rules: ElementRules): Decoded {
  if (!Array.isArray(instances)) throw badRequest(ERROR_CODES.request, `"instances": expected a list of instances, got ${describeValue(instances)}`)
  const rows = instances.length
  if (rows === 0) throw badRequest(ERROR_CODES.shape, '"instances" is empty: expected at least one instance')
  for (const spec of specs) checkBatch(spec, rows, label(spec))
  const first: unknown = instances[0]
  const named = specs.length > 1 || (isObject(first) && !isB64(first))
  const inputs = new Map<string, Tensor>()
  if (!named) {
    // One input: `instances` is that input's batch, nested as its shape.
    const spec = specs[0]
    const specDims = [-1, ...spec.shape.slice(1)]
    const dims = resolveDims(instances, specDims)
    checkNesting(instances, dims, specDims, spec.shape, label(spec), new JsonPath('instances'))
    const reader = new TensorReader(spec, knownCount(dims), rules, label(spec))
    reader.readNested(instances, dims, new JsonPath('instances'))
    inputs.set(spec.name, reader.tensor(dims))
    return { format: 'row', inputs, batchSize: rows }
  }
  const where = `instances[0] (the model's inputs are ${nameList(specs)})`
  for (let i = 0; i < rows; i++) {
    const instance: unknown = instances[i]
    if (!isObject(instance) || isB64(instance)) {
      throw badRequest(ERROR_CODES.request, `instances[${i}]: expected an object with the inputs ${nameList(specs)}, got ${describeValue(instance)}`)
    }
    checkNames(instance, specs, i === 0 ? where : `instances[${i}]`)
  }
  for (const spec of specs) {
    const specDims = spec.shape.slice(1)
    const dims = resolveDims((first as Record<string, unknown>)[spec.name], specDims)
    const path = new JsonPath('instances')
    for (let i = 0; i < rows; i++) {
      path.push(i)
      path.push(spec.name)
      checkNesting((instances[i] as Record<string, unknown>)[spec.name], dims, specDims, spec.shape, label(spec), path)
      path.pop()
      path.pop()
    }
    const reader = new TensorReader(spec, rows * knownCount(dims), rules, label(spec))
    for (let i = 0; i < rows; i++) {
      path.push(i)
      path.push(spec.name)
      reader.readNested((instances[i] as Record<string, unknown>)[spec.name], dims, path)
      path.pop()
      path.pop()
    }
    inputs.set(spec.name, reader.tensor([rows, ...dims]))
  }
  return { format: 'row', inputs, batchSize: rows }
}

function decodeColumns(columns: unknown, specs: readonly TensorSpec[], rules: ElementRules): Decoded {
  let values: Record<string, unknown>
  let named = true
  if (isObject(columns) && !isB64(columns)) {
    checkNames(columns, specs, '"inputs"')
    values = columns
  } else if (specs.length === 1) {
    values = { [specs[0].name]: columns }
    named = false
  } else {
    throw badRequest(ERROR_CODES.request, `"inputs": expected an object keyed by the model's inputs ${nameList(specs)}, got ${describeValue(columns)}`)
  }
  const inputs = new Map<string, Tensor>()
  let batchSize = -1
  let batchFrom = ''
  for (const spec of specs) {
    const value = values[spec.name]
    const root = named ? `inputs${/^[A-Za-z_$][\w$]*$/.test(spec.name) ? `.${spec.name}` : `[${JSON.stringify(spec.name)}]`}` : 'inputs'
    const specDims = spec.shape.length > 0 ? [-1, ...spec.shape.slice(1)] : []
    const dims = resolveDims(value, specDims)
    checkNesting(value, dims, specDims, spec.shape, label(spec), new JsonPath(root))
    const rows = dims.length > 0 ? dims[0] : 1
    if (rows === 0) throw badRequest(ERROR_CODES.shape, `${label(spec)}: ${root} is empty: expected at least one row`)
    checkBatch(spec, rows, label(spec))
    if (batchSize === -1) {
      batchSize = rows
      batchFrom = label(spec)
    } else if (rows !== batchSize) {
      throw badRequest(
        ERROR_CODES.shape,
        `${label(spec)}: ${root} has ${rows} rows but ${batchFrom} has ${batchSize}: Malt batches every input along its first dimension, so all inputs need the same number of rows`,
      )
    }
    const reader = new TensorReader(spec, knownCount(dims), rules, label(spec))
    reader.readNested(value, dims, new JsonPath(root))
    inputs.set(spec.name, reader.tensor(dims))
  }
  return { format: 'columnar', inputs, batchSize }
}

/** TF Serving writes outputs named `*_bytes` as `{"b64": ...}` (api_rest.md, "Output of binary values"). */
function bytesStyle(tensor: Tensor): 'b64' | 'string' {
  return tensor.datatype === 'BYTES' && tensor.name.endsWith('_bytes') ? 'b64' : 'string'
}

function requireOutput(outputs: ReadonlyMap<string, Tensor>, name: string): Tensor {
  const tensor = outputs.get(name)
  if (tensor === undefined) throw new ServingError(500, 'SERVING_MISSING_OUTPUT', `the model returned no output ${JSON.stringify(name)}`)
  return tensor
}

/** JSON text of row `row` of a batched tensor (a scalar for a rank-1 output). */
function rowText(tensor: Tensor, row: number): string {
  const inner = tensor.shape.slice(1)
  let size = 1
  for (const dim of inner) size *= dim
  return nestedText(tensor.data, inner, row * size, 'tokens', bytesStyle(tensor))
}

/**
 * The response body as JSON text: `predictions` for row requests, `outputs` for columnar ones;
 * one output → no names; several → objects (row) / an object (columnar). NaN/Infinity written as
 * tokens, as TF Serving's "JSON conformance" section allows.
 */
export function encodePredictResponse(format: 'row' | 'columnar', outputs: ReadonlyMap<string, Tensor>, signature: ModelSignature): string {
  const tensors = signature.outputs.map((spec) => requireOutput(outputs, spec.name))
  const whole = (tensor: Tensor): string => nestedText(tensor.data, tensor.shape, 0, 'tokens', bytesStyle(tensor))
  if (format === 'columnar') {
    if (tensors.length === 1) return `{"outputs":${whole(tensors[0])}}`
    return `{"outputs":{${tensors.map((tensor) => `${JSON.stringify(tensor.name)}:${whole(tensor)}`).join(',')}}}`
  }
  for (const tensor of tensors) {
    if (tensor.shape.length === 0) throw new ServingError(500, 'SERVING_BAD_OUTPUT', `output ${JSON.stringify(tensor.name)} is a scalar: row-format predictions need a batch dimension`)
  }
  // One output: the list of its rows is the tensor itself, nested.
  if (tensors.length === 1) return `{"predictions":${whole(tensors[0])}}`
  const rows = tensors[0].shape[0]
  const keys = tensors.map((tensor) => `${JSON.stringify(tensor.name)}:`)
  let text = '{"predictions":['
  for (let row = 0; row < rows; row++) {
    text += row === 0 ? '{' : ',{'
    for (let k = 0; k < tensors.length; k++) text += (k === 0 ? '' : ',') + keys[k] + rowText(tensors[k], row)
    text += '}'
  }
  return `${text}]}`
}

/** tensorflow.error.Code names: a version error whose code is one of them keeps it, others are UNKNOWN. */
const TF_ERROR_CODES = new Set([
  'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'UNAUTHENTICATED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS',
])

/**
 * GetModelStatusResponse as JSON:
 * `{model_version_status: [{version: "3", state: "AVAILABLE", status: {error_code: "OK", error_message: ""}}]}`
 * (versions as strings, as proto-JSON writes int64). A failed load keeps a TF error code when its
 * code is one; otherwise it is UNKNOWN and Malt's code leads the message.
 */
export function modelStatusResponse(statuses: readonly VersionStatus[]): object {
  return {
    model_version_status: statuses.map((status) => ({
      version: String(status.version),
      state: status.state,
      status:
        status.error === undefined
          ? { error_code: 'OK', error_message: '' }
          : TF_ERROR_CODES.has(status.error.code)
            ? { error_code: status.error.code, error_message: status.error.message }
            : { error_code: 'UNKNOWN', error_message: `${status.error.code}: ${status.error.message}` },
    })),
  }
}

/** tensorflow.DataType names of the wire data types. */
const TF_DTYPES = {
  BOOL: 'DT_BOOL', UINT8: 'DT_UINT8', UINT16: 'DT_UINT16', UINT32: 'DT_UINT32', UINT64: 'DT_UINT64',
  INT8: 'DT_INT8', INT16: 'DT_INT16', INT32: 'DT_INT32', INT64: 'DT_INT64',
  FP16: 'DT_HALF', FP32: 'DT_FLOAT', FP64: 'DT_DOUBLE', BYTES: 'DT_STRING',
} as const

/** TensorInfo (meta_graph.proto) as JSON: dims' int64 sizes as strings, -1 for a variable one. */
function tensorInfos(specs: readonly TensorSpec[]): Record<string, object> {
  const infos: Record<string, object> = {}
  for (const spec of specs) {
    infos[spec.name] = {
      dtype: TF_DTYPES[spec.datatype],
      tensor_shape: { dim: spec.shape.map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
      name: spec.name,
    }
  }
  return infos
}

/**
 * GetModelMetadataResponse as JSON, as TF Serving writes it: `model_spec` {name, signature_name,
 * version} and `metadata.signature_def.signature_def.serving_default` with the inputs, outputs and
 * method_name `tensorflow/serving/predict`.
 */
export function modelMetadataResponse(name: string, version: number, signature: ModelSignature): object {
  return {
    model_spec: { name, signature_name: '', version: String(version) },
    metadata: {
      signature_def: {
        signature_def: {
          [DEFAULT_SIGNATURE]: {
            inputs: tensorInfos(signature.inputs),
            outputs: tensorInfos(signature.outputs),
            method_name: 'tensorflow/serving/predict',
            defaults: {},
          },
        },
      },
    },
  }
}
