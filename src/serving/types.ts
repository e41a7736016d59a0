// The contracts of model serving: tensors as they cross the wire and the runtimes, a loaded
// model (one runtime per format), model versions and their states (TF Serving's), and the
// error every serving failure is (an HTTP status and a message for the client).
import { MaltError, type MaltErrorOptions } from '../errors.js'

/**
 * Element types, named as the Open Inference Protocol (KServe v2) names them. TF Serving's
 * REST API carries the same values as JSON numbers, booleans and strings.
 */
export type DataType = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES'

/** Flat, row-major element storage of a tensor. */
export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array | BigInt64Array | BigUint64Array | boolean[] | string[]

/** A tensor: a name, an element type, a shape and its elements flat in row-major order. */
export interface Tensor {
  name: string
  datatype: DataType
  /** Dimensions; the product is `data.length`. */
  shape: number[]
  data: TensorData
}

/** A model input or output as metadata declares it: `-1` marks a variable dimension (the batch). */
export interface TensorSpec {
  name: string
  datatype: DataType
  shape: number[]
  /**
   * JSON null is accepted as a missing element (NaN for floats, '' for BYTES): inputs a served
   * pipeline's Imputer fills. Not part of either protocol's metadata.
   */
  nullable?: boolean
}

/**
 * A model loaded by a runtime. Every input's and output's first dimension is the batch:
 * `predict` takes inputs with the same first dimension n and returns outputs with first
 * dimension n, row i of each output belonging to row i of the inputs (the batcher relies on it).
 * `predict` may be called again before an earlier call settled; a runtime serialises as it must.
 */
export interface LoadedModel {
  /** The runtime, as KServe's metadata `platform`: 'tensorflowjs_layers', 'tensorflowjs_graph', 'onnxruntime_onnx'. */
  readonly platform: string
  readonly inputs: readonly TensorSpec[]
  readonly outputs: readonly TensorSpec[]
  /** Runs the model on inputs keyed by input name (all of them, validated by the caller). */
  predict(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>>
  /** Frees the model's memory; called once, after the last prediction settled. */
  dispose(): Promise<void>
}

/** A runtime: the formats it recognises in a version directory and how it loads them. */
export interface ModelRuntime {
  /** Its name in errors and logs, e.g. 'tfjs', 'onnx'. */
  readonly name: string
  /** True when `dir` holds this runtime's model files (e.g. `model.onnx`). */
  accepts(dir: string): Promise<boolean>
  load(dir: string): Promise<LoadedModel>
}

/** A version's life, as TF Serving's ModelVersionStatus.State: START → LOADING → AVAILABLE → UNLOADING → END. */
export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END'

/** One model version's state; a version that failed to load is END with its error. */
export interface VersionStatus {
  version: number
  state: VersionState
  /** Set when loading failed (state END): what went wrong, for GetModelStatus's `status`. */
  error?: { code: string; message: string }
}

/**
 * Which versions of a model are served, as TF Serving's model_version_policy:
 * the newest n (default 1), every version found, or the listed ones.
 */
export type VersionPolicy = { latest: { numVersions: number } } | { all: Record<string, never> } | { specific: { versions: number[] } }

/** Dynamic batching of one model, with TF Serving's knobs (BatchingParameters). */
export interface BatchingOptions {
  /** Largest batch one model call gets (rows). @defaultValue 32 */
  maxBatchSize: number
  /** How long the first request of a batch waits for others, in microseconds. @defaultValue 1000 */
  batchTimeoutMicros: number
  /** Batches that may wait for the model; a request beyond them gets 503. @defaultValue 100 */
  maxEnqueuedBatches: number
}

/** A canary: `percent` of the requests that name no version go to `version`. */
export interface CanaryOptions {
  version: number
  /** 0–100. */
  percent: number
}

/** One model's serving configuration (the config file's per-model entry). */
export interface ModelConfig {
  versionPolicy?: VersionPolicy
  /** Off unless given. */
  batching?: Partial<BatchingOptions>
  canary?: CanaryOptions
  /** Version labels, as TF Serving's `version_labels`: `/v1/models/m/labels/stable`. */
  labels?: Record<string, number>
}

/** HTTP statuses serving errors use. */
export type ServingStatus = 400 | 401 | 403 | 404 | 405 | 408 | 413 | 415 | 429 | 500 | 501 | 503

/**
 * A request that cannot be served: `status` is the HTTP status, the message goes to the client
 * as `{"error": message}`. 4xx for what the client sent, 503 for overload or a version not yet
 * available, 500 only for a failure inside the server.
 */
export class ServingError extends MaltError {
  readonly status: ServingStatus

  constructor(status: ServingStatus, code: string, message: string, options: MaltErrorOptions = {}) {
    super(code, message, options)
    this.name = 'ServingError'
    this.status = status
  }
}
