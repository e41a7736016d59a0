// The ONNX runtime: a version directory with `model.onnx`, run by onnxruntime-node. That package
// is an optional dependency, imported on the first ONNX load so TF.js-only servers never need it.
import { join } from 'node:path'
import type * as Ort from 'onnxruntime-node'
import { MaltError, describeValue } from '../../errors.js'
import { TYPED_ARRAYS, allocate } from '../tensor.js'
import { ServingError, type DataType, type LoadedModel, type ModelRuntime, type Tensor, type TensorData, type TensorSpec } from '../types.js'
import { isFile } from '../../util/files.js'

const MODEL_ONNX = 'model.onnx'

type OrtModule = typeof Ort

/** ONNX element types the runtime serves, with their wire names (int4/uint4 have none). */
const FROM_ORT: Readonly<Partial<Record<Ort.Tensor.Type, DataType>>> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  bool: 'BOOL',
  string: 'BYTES',
}
const TO_ORT = Object.fromEntries(Object.entries(FROM_ORT).map(([type, datatype]) => [datatype, type])) as Readonly<Record<DataType, Ort.Tensor.Type>>

/** Inclusive bounds of the integer types: values outside them are refused rather than wrapped. */
const INTEGER_RANGE: Readonly<Partial<Record<DataType, readonly [bigint, bigint]>>> = {
  INT8: [-(2n ** 7n), 2n ** 7n - 1n],
  INT16: [-(2n ** 15n), 2n ** 15n - 1n],
  INT32: [-(2n ** 31n), 2n ** 31n - 1n],
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT8: [0n, 2n ** 8n - 1n],
  UINT16: [0n, 2n ** 16n - 1n],
  UINT32: [0n, 2n ** 32n - 1n],
  UINT64: [0n, 2n ** 64n - 1n],
}

/**
 * Session options for a server. ORT's defaults already fit (full graph optimisation, sequential
 * execution, memory arena); intra-op threads stay at ORT's default (one per physical core) as
 * nothing measured here argues for another number.
 */
const SESSION_OPTIONS: Ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', executionMode: 'sequential' }

let ortImport: Promise<OrtModule> | undefined

/** Imports onnxruntime-node once; a failed import is retried on the next load (it may be installed meanwhile). */
async function importOrt(path: string): Promise<OrtModule> {
  ortImport ??= import('onnxruntime-node')
  try {
    return await ortImport
  } catch (error) {
    ortImport = undefined
    const missing = (error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND'
    const why = missing ? 'is not installed' : `could not be loaded (${(error as Error).message})`
    throw new MaltError('ONNX_RUNTIME_MISSING', `${path} is an ONNX model, which needs the optional package onnxruntime-node; it ${why}. Install it with: npm install onnxruntime-node`, { cause: error, location: { file: path } })
  }
}

function toSpec(meta: Ort.InferenceSession.ValueMetadata, role: 'input' | 'output', path: string): TensorSpec {
  if (!meta.isTensor) throw new MaltError('SERVING_UNSUPPORTED_DTYPE', `${path}: ${role} ${JSON.stringify(meta.name)} is a sequence or a map; only tensors can be served`, { location: { file: path } })
  const datatype = FROM_ORT[meta.type]
  if (datatype === undefined) {
    throw new MaltError('SERVING_UNSUPPORTED_DTYPE', `${path}: ${role} ${JSON.stringify(meta.name)} has ONNX element type ${meta.type}, which cannot be served (supported: ${Object.keys(FROM_ORT).join(', ')})`, { location: { file: path } })
  }
  // A symbolic dimension ('batch') or an unnamed dynamic one ('') is variable.
  return { name: meta.name, datatype, shape: meta.shape.map((dim) => (typeof dim === 'number' && dim >= 0 ? dim : -1)) }
}

/**
 * The request's elements as `target` needs them (FP16 as float32, like the wire). The protocols
 * usually produced the right array already; other numeric arrays are converted, refusing values the
 * target cannot hold (an INT64 input sent as JSON numbers arrives as float64, for instance).
 */
function convert(tensor: Tensor, target: DataType): TensorData {
  const source = tensor.data
  if (target === 'BOOL' || target === 'BYTES' || Array.isArray(source)) {
    // ORT's bool tensors take booleans or one byte each.
    if (Array.isArray(source) ? tensor.datatype === target : target === 'BOOL' && source instanceof Uint8Array) return source
    throw new ServingError(400, 'SERVING_BAD_DATATYPE', `input ${JSON.stringify(tensor.name)}: the model takes ${target}, the request sent ${tensor.datatype}`)
  }
  // Judged by the array, not the datatype label: an INT64 tensor may arrive holding float64s.
  if (source instanceof TYPED_ARRAYS[target]) return source
  const out = allocate(target, source.length) as unknown as { [index: number]: number | bigint }
  const range = INTEGER_RANGE[target]
  const wide = target === 'INT64' || target === 'UINT64'
  for (let i = 0; i < source.length; i++) {
    const value = source[i]
    if (range === undefined) {
      out[i] = Number(value)
      continue
    }
    if (typeof value === 'number' && !Number.isInteger(value)) {
      throw new ServingError(400, 'SERVING_BAD_VALUE', `input ${JSON.stringify(tensor.name)}: ${target} needs integers, element ${i} is ${describeValue(value)}`)
    }
    const integer = BigInt(value)
    if (integer < range[0] || integer > range[1]) {
      throw new ServingError(400, 'SERVING_BAD_VALUE', `input ${JSON.stringify(tensor.name)}: ${target} holds ${range[0]}..${range[1]}, element ${i} is ${integer}`)
    }
    out[i] = wide ? integer : Number(integer)
  }
  return out as unknown as TensorData
}

const f32 = new Float32Array(1)
const f32Bits = new Uint32Array(f32.buffer)

/** IEEE half-precision bits of a number, rounded to nearest even (Node 20 has no Float16Array). */
function toHalfBits(value: number): number {
  f32[0] = value
  const bits = f32Bits[0]
  const sign = (bits >>> 16) & 0x8000
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15
  let mantissa = bits & 0x7fffff
  if (((bits >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200)
  if (exponent >= 0x1f) return sign | 0x7c00
  let shift = 13
  let half = (exponent << 10) | (mantissa >>> 13)
  if (exponent <= 0) {
    // Subnormal half: the implicit leading 1 becomes explicit and shifts out with the rest.
    if (exponent < -10) return sign
    mantissa |= 0x800000
    shift = 14 - exponent
    half = mantissa >>> shift
  }
  const rest = mantissa & ((1 << shift) - 1)
  const halfway = 1 << (shift - 1)
  // A carry out of the mantissa bumps the exponent, which is the correct rounding (up to infinity).
  if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++
  return sign | half
}

function fromHalfBits(half: number): number {
  const sign = half & 0x8000 ? -1 : 1
  const exponent = (half >>> 10) & 0x1f
  const mantissa = half & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

function toOrt(ort: OrtModule, spec: TensorSpec, tensor: Tensor): Ort.Tensor {
  const data = convert(tensor, spec.datatype)
  if (spec.datatype === 'FP16') return new ort.Tensor('float16', Uint16Array.from(data as Float32Array, toHalfBits), tensor.shape)
  // The overloads want a literal type per array; convert() returned the array TO_ORT's type takes.
  return new ort.Tensor(TO_ORT[spec.datatype] as 'float32', data as Float32Array, tensor.shape)
}

function fromOrt(name: string, value: Ort.OnnxValue): Tensor {
  const datatype = FROM_ORT[value.type]
  if (datatype === undefined) throw new MaltError('SERVING_UNSUPPORTED_DTYPE', `output ${JSON.stringify(name)}: ONNX Runtime returned element type ${value.type}, which cannot be served`)
  let data: TensorData
  if (value.type === 'bool') data = Array.from(value.data as Uint8Array, (v) => v !== 0)
  // Half floats come as raw bits, or as a Float16Array where the platform has one.
  else if (value.type === 'float16') data = value.data instanceof Uint16Array ? Float32Array.from(value.data, fromHalfBits) : Float32Array.from(value.data as ArrayLike<number>)
  else data = value.data as TensorData
  return { name, datatype, shape: [...value.dims], data }
}

class OnnxServable implements LoadedModel {
  readonly platform = 'onnxruntime_onnx'
  readonly inputs: TensorSpec[]
  readonly outputs: TensorSpec[]
  private readonly outputNames: string[]
  private readonly running = new Set<Promise<unknown>>()
  private released = false

  constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    private readonly path: string,
  ) {
    this.inputs = session.inputMetadata.map((meta) => toSpec(meta, 'input', path))
    this.outputs = session.outputMetadata.map((meta) => toSpec(meta, 'output', path))
    this.outputNames = this.outputs.map((spec) => spec.name)
  }

  /** Concurrent calls are safe: onnxruntime-node runs one session call at a time on the main thread. */
  async predict(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    if (this.released) throw new ServingError(503, 'SERVING_MODEL_UNLOADED', `${this.path} has been unloaded; send the request again`)
    const feeds: Record<string, Ort.Tensor> = {}
    for (const spec of this.inputs) {
      const tensor = inputs.get(spec.name)
      if (tensor === undefined) throw new ServingError(400, 'SERVING_MISSING_INPUT', `the model needs input ${JSON.stringify(spec.name)}; it was not given`)
      try {
        feeds[spec.name] = toOrt(this.ort, spec, tensor)
      } catch (error) {
        if (error instanceof MaltError) throw error
        // ort.Tensor checks that the shape and the element count agree.
        throw new ServingError(400, 'SERVING_BAD_SHAPE', `input ${JSON.stringify(spec.name)}: ${(error as Error).message}`, { cause: error })
      }
    }
    const run = this.session.run(feeds, this.outputNames)
    this.running.add(run)
    let results: Ort.InferenceSession.ReturnType
    try {
      results = await run
    } catch (error) {
      // Inputs were validated against the metadata; what ORT still refuses depends on the values
      // (an index out of range, shapes an op cannot combine): the client's request, not the server.
      throw new ServingError(400, 'SERVING_INFERENCE_FAILED', `${this.path}: ONNX Runtime could not run the request: ${(error as Error).message}`, { cause: error })
    } finally {
      this.running.delete(run)
    }
    const outputs = new Map<string, Tensor>()
    for (const name of this.outputNames) outputs.set(name, fromOrt(name, results[name]))
    return outputs
  }

  async dispose(): Promise<void> {
    if (this.released) return
    this.released = true
    await Promise.allSettled([...this.running])
    await this.session.release()
  }
}

/** Loads `dir/model.onnx` with onnxruntime-node (`platform: 'onnxruntime_onnx'`). */
export const onnxRuntime: ModelRuntime = {
  name: 'onnx',

  accepts(dir) {
    return isFile(join(dir, MODEL_ONNX))
  },

  async load(dir) {
    const path = join(dir, MODEL_ONNX)
    const ort = await importOrt(path)
    let session: Ort.InferenceSession
    try {
      // By path, not bytes: ORT then finds external weight files next to the model.
      session = await ort.InferenceSession.create(path, { ...SESSION_OPTIONS, logId: path })
    } catch (error) {
      throw new MaltError('MODEL_BAD_ONNX', `${path} is not a model ONNX Runtime can load: ${(error as Error).message}`, { cause: error, location: { file: path } })
    }
    try {
      return new OnnxServable(ort, session, path)
    } catch (error) {
      await session.release()
      throw error
    }
  },
}
