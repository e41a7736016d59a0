// Direct execution of served TF.js Layers models: a plan compiled at load time that runs a chain of
// layers over Float32Arrays by calling the malt-native addon's kernels itself, with the weights read
// once, bypassing the TF.js engine. At batch 1 a predict through TF.js is mostly engine overhead
// (tensor bookkeeping, kernel dispatch, tidy scopes: ~100 µs for a 3-layer MLP), not arithmetic.
// The plan calls the very kernels the malt-native backend runs for these layers (fused matmul and
// conv with bias and activation, the pooling loops, softmax, batch norm, the element-wise ops), with
// the geometry computed as the backend computes it, so answers match the TF.js path.
// Covered: a single-input, single-output chain of Dense, Conv2D (channelsLast, valid/same, strides,
// no dilation), MaxPooling2D, AveragePooling2D, BatchNormalization (last axis, moving statistics),
// Activation, Flatten, Reshape and the dropout/noise layers (identities at inference); activations
// linear, relu, relu6, elu, sigmoid, tanh, softmax; float32 only. Anything else, or no native
// backend, leaves the model to TF.js. MALT_SERVING_DIRECT=0 turns direct execution off.
import { backend_util } from '@tensorflow/tfjs'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../backend/index.js'
import { nativeFunction } from '../../backend/native/addon.js'
import { nativeState, NATIVE_BACKEND_NAME } from '../../backend/native/backend.js'
import { FUSED_ACTIVATION_CODES } from '../../backend/native/kernels/types.js'
import { SeededRandom } from '../../util/random.js'
import type { Tensor } from '../types.js'

type MatMulFn = (a: Float32Array, b: Float32Array, out: Float32Array, dims: number[], transposeA: boolean, transposeB: boolean,
  bias: Float32Array | null, biasDims: number[], activation: number, alpha: number, prelu: null, preluDims: number[]) => void
type ConvForwardFn = (x: Float32Array, filter: Float32Array, bias: Float32Array | null, y: Float32Array, geometry: number[], activation: number, alpha: number, prelu: null) => void
type PoolFn = (x: Float32Array, out: Float32Array, geometry: number[]) => void
type BatchNormFn = (x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array, scale: Float32Array, out: Float32Array, channels: number, epsilon: number) => void

/** The addon's kernels the plans call (see native/src and their callers in src/backend/native/kernels). */
interface Kernels {
  matMul: MatMulFn
  convForward: ConvForwardFn
  maxPool: PoolFn
  avgPool: PoolFn
  batchNorm: BatchNormFn
  softmax: (logits: Float32Array, out: Float32Array, columns: number) => void
  unary: (op: number, x: Float32Array, out: Float32Array, alpha: number, beta: number) => void
  /** Op codes of elementwiseUnary, by TF.js kernel name. */
  unaryOps: ReadonlyMap<string, number>
}

/** One layer's computation: `rows` batch items of input in, `rows` items of output written. */
interface Step {
  /** Elements of one batch item of the output. */
  readonly outputItemSize: number
  /** `input` and `output` hold exactly `rows` items each (the addon checks lengths). */
  run(input: Float32Array, output: Float32Array, rows: number): void
}

/** The activations tfjs-layers fuses into Dense and Conv2D (mapActivationToFusedKernel), as the addon codes them. */
const FUSED_ACTIVATIONS = new Map<unknown, number>(['linear', 'relu', 'elu'].map((name) => [name, FUSED_ACTIVATION_CODES[name]]))
const LINEAR = FUSED_ACTIVATION_CODES.linear
/** Activations that are one element-wise TF.js kernel (relu6 is minimum(6, relu(x)), the same values). */
const UNARY_ACTIVATIONS = new Map<unknown, string>([['relu', 'Relu'], ['relu6', 'Relu6'], ['elu', 'Elu'], ['sigmoid', 'Sigmoid'], ['tanh', 'Tanh']])
/** Layers that return their input at inference. */
const IDENTITY_LAYERS = new Set(['Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'Reshape'])
/** The stand-ins FusedBatchNorm uses for a missing offset or scale (as the CPU kernel). */
const NO_OFFSET = new Float32Array([0])
const NO_SCALE = new Float32Array([1])
/** Batch sizes whose intermediate views are kept; the batcher sends 1 to its maxBatchSize. */
const MAX_CACHED_BATCH_SIZES = 128
/** How far the load-time self-check may be from TF.js (normwise relative); a semantic slip is O(1). */
const SELF_CHECK_TOLERANCE = 1e-4

/** The addon's kernels when TF.js runs on the malt-native backend, else undefined. */
function nativeKernels(): Kernels | undefined {
  const state = nativeState()
  if (state === undefined || tf.getBackend() !== NATIVE_BACKEND_NAME) return undefined
  const { addon } = state
  try {
    const ops = nativeFunction<() => { unary: string[] }>(addon, 'elementwiseOps')()
    return {
      matMul: nativeFunction<MatMulFn>(addon, 'matMul'),
      convForward: nativeFunction<ConvForwardFn>(addon, 'convForward'),
      maxPool: nativeFunction<PoolFn>(addon, 'maxPool'),
      avgPool: nativeFunction<PoolFn>(addon, 'avgPool'),
      batchNorm: nativeFunction<BatchNormFn>(addon, 'batchNorm'),
      softmax: nativeFunction<Kernels['softmax']>(addon, 'softmax'),
      unary: nativeFunction<Kernels['unary']>(addon, 'elementwiseUnary'),
      unaryOps: new Map(ops.unary.map((name, code) => [name, code])),
    }
  } catch {
    // An addon older than this Malt lacks a function: the TF.js path still works.
    return undefined
  }
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((size, dim) => size * dim, 1)
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i])
}

/** A layer config value as a [height, width] pair (tfjs-layers stores a number or a list). */
function pair(value: unknown): [number, number] | null {
  const list = typeof value === 'number' ? [value, value] : value
  if (!Array.isArray(list) || list.length !== 2 || !list.every((v) => Number.isInteger(v) && v > 0)) return null
  return [list[0] as number, list[1] as number]
}

/** A layer's weight by its own name ('kernel', 'bias', 'moving_mean', …) as an owned Float32Array, checked against `shape`. */
function weight(layer: tfjs.layers.Layer, name: string, shape: readonly number[]): Float32Array | null {
  const found = layer.weights.filter((variable) => variable.originalName.split('/').pop() === name)
  if (found.length !== 1 || found[0].dtype !== 'float32' || !sameShape(found[0].shape as number[], shape)) return null
  return new Float32Array(found[0].read().dataSync())
}

/** Steps computing `activation` over items of `shape`; [] for linear, null when not covered. */
function activationSteps(activation: unknown, shape: readonly number[], kernels: Kernels): Step[] | null {
  const outputItemSize = sizeOf(shape)
  if (activation === 'linear') return []
  if (activation === 'softmax') {
    // Over the last axis, as tfjs-layers' softmax activation; a rank-1 tensor would be the batch axis.
    if (shape.length === 0) return null
    const columns = shape[shape.length - 1]
    return [{ outputItemSize, run: (x, y) => kernels.softmax(x, y, columns) }]
  }
  const op = kernels.unaryOps.get(UNARY_ACTIVATIONS.get(activation) ?? '')
  if (op === undefined) return null
  return [{ outputItemSize, run: (x, y) => kernels.unary(op, x, y, 0, 0) }]
}

/** A matmul or conv step with the activation fused where tfjs-layers fuses it, else applied after (bias added either way). */
function withActivation(activation: unknown, shape: readonly number[], kernels: Kernels, step: (code: number) => Step): Step[] | null {
  const fused = FUSED_ACTIVATIONS.get(activation)
  if (fused !== undefined) return [step(fused)]
  const after = activationSteps(activation, shape, kernels)
  return after === null ? null : [step(LINEAR), ...after]
}

/** Dense over the last axis (tfjs-layers flattens the leading axes into rows). */
function denseSteps(layer: tfjs.layers.Layer, config: tfjs.serialization.ConfigDict, inShape: number[], outShape: number[], kernels: Kernels): Step[] | null {
  const inner = inShape[inShape.length - 1]
  const units = config.units
  if (inShape.length === 0 || typeof units !== 'number' || outShape[outShape.length - 1] !== units) return null
  const kernel = weight(layer, 'kernel', [inner, units])
  const bias = config.useBias === true ? weight(layer, 'bias', [units]) : null
  if (kernel === null || (config.useBias === true && bias === null)) return null
  const matricesPerItem = sizeOf(inShape) / inner
  const biasDims = [1, 1, units]
  const noPrelu = [1, 1, 1]
  return withActivation(config.activation, outShape, kernels, (code) => ({
    outputItemSize: matricesPerItem * units,
    run: (x, y, rows) => kernels.matMul(x, kernel, y, [1, 1, 1, 1, 1, 1, rows * matricesPerItem, inner, units], false, false, bias, biasDims, code, 0, null, noPrelu),
  }))
}

/**
 * How much of one spatial axis oneDNN sees and its trailing padding, exactly as
 * src/backend/native/kernels/conv.ts derives them (axisExtent there explains the why).
 */
function axisExtent(inSize: number, outSize: number, stride: number, effectiveFilter: number, lead: number): { used: number; trail: number } | null {
  const end = (outSize - 1) * stride + effectiveFilter - lead
  if (end <= 0) return null
  return end <= inSize ? { used: end, trail: 0 } : { used: inSize, trail: end - inSize }
}

/** convForward's geometry for a batch of 1 (entry 0 is the batch), or null where the backend would fall back too. */
function convGeometry(info: backend_util.Conv2DInfo): number[] | null {
  const { padInfo } = info
  if (padInfo.top < 0 || padInfo.left < 0) return null
  const rows = axisExtent(info.inHeight, info.outHeight, info.strideHeight, info.effectiveFilterHeight, padInfo.top)
  const columns = axisExtent(info.inWidth, info.outWidth, info.strideWidth, info.effectiveFilterWidth, padInfo.left)
  if (rows === null || columns === null) return null
  const geometry = [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    padInfo.top, padInfo.left, rows.trail, columns.trail, 1, rows.used, columns.used]
  if (!geometry.every((value) => Number.isInteger(value)) || !geometry.slice(0, 13).every((value) => value > 0)) return null
  return geometry
}

function conv2dSteps(layer: tfjs.layers.Layer, config: tfjs.serialization.ConfigDict, inShape: number[], outShape: number[], kernels: Kernels): Step[] | null {
  const kernelSize = pair(config.kernelSize)
  const strides = pair(config.strides)
  const dilations = pair(config.dilationRate ?? 1)
  const { filters, padding } = config
  if (config.dataFormat !== 'channelsLast' || (padding !== 'valid' && padding !== 'same') || inShape.length !== 3) return null
  if (kernelSize === null || strides === null || dilations === null || dilations[0] !== 1 || dilations[1] !== 1 || typeof filters !== 'number') return null
  const filterShape: [number, number, number, number] = [kernelSize[0], kernelSize[1], inShape[2], filters]
  const filter = weight(layer, 'kernel', filterShape)
  const bias = config.useBias === true ? weight(layer, 'bias', [filters]) : null
  if (filter === null || (config.useBias === true && bias === null)) return null
  const info = backend_util.computeConv2DInfo([1, inShape[0], inShape[1], inShape[2]], filterShape, strides, 1, padding, undefined, false, 'channelsLast')
  const geometry = convGeometry(info)
  if (geometry === null || !sameShape(info.outShape.slice(1), outShape)) return null
  return withActivation(config.activation, outShape, kernels, (code) => ({
    outputItemSize: sizeOf(outShape),
    run: (x, y, rows) => {
      geometry[0] = rows
      kernels.convForward(x, filter, bias, y, geometry, code, 0, null)
    },
  }))
}

/** MaxPooling2D / AveragePooling2D with the geometry src/backend/native/kernels/pool.ts computes. */
function pool2dSteps(config: tfjs.serialization.ConfigDict, inShape: number[], outShape: number[], pool: PoolFn): Step[] | null {
  const poolSize = pair(config.poolSize)
  const strides = pair(config.strides ?? config.poolSize)
  const { padding } = config
  if (config.dataFormat !== 'channelsLast' || (padding !== 'valid' && padding !== 'same') || inShape.length !== 3 || poolSize === null || strides === null) return null
  const info = backend_util.computePool2DInfo([1, inShape[0], inShape[1], inShape[2]], poolSize, strides, 1, padding)
  const geometry = [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left]
  if (!sameShape(info.outShape.slice(1), outShape) || !geometry.every((value) => Number.isSafeInteger(value))) return null
  if (geometry.slice(0, 10).some((value) => value < 1) || info.padInfo.top < 0 || info.padInfo.left < 0) return null
  const outputItemSize = sizeOf(outShape)
  // A 1×1 window keeping the shape: TF.js returns the input as it is.
  if (info.filterHeight === 1 && info.filterWidth === 1 && sameShape(inShape, outShape)) return [{ outputItemSize, run: (x, y) => y.set(x) }]
  return [{
    outputItemSize,
    run: (x, y, rows) => {
      geometry[0] = rows
      pool(x, y, geometry)
    },
  }]
}

/** BatchNormalization over the last axis at inference: the moving mean and variance, as FusedBatchNorm. */
function batchNormSteps(layer: tfjs.layers.Layer, config: tfjs.serialization.ConfigDict, inShape: number[], kernels: Kernels): Step[] | null {
  // tfjs-layers normalises ranks 2–4 (with the batch) and broadcasts through reshapes unless the axis is the last.
  if (inShape.length < 1 || inShape.length > 3 || (config.axis !== -1 && config.axis !== inShape.length)) return null
  const epsilon = config.epsilon
  const channels = inShape[inShape.length - 1]
  const mean = weight(layer, 'moving_mean', [channels])
  const variance = weight(layer, 'moving_variance', [channels])
  const scale = config.scale === true ? weight(layer, 'gamma', [channels]) : NO_SCALE
  const offset = config.center === true ? weight(layer, 'beta', [channels]) : NO_OFFSET
  if (typeof epsilon !== 'number' || mean === null || variance === null || scale === null || offset === null) return null
  return [{ outputItemSize: sizeOf(inShape), run: (x, y) => kernels.batchNorm(x, mean, variance, offset, scale, y, channels, epsilon) }]
}

/** The steps of one layer applied to items of `inShape` giving `outShape`: [] for an identity, null when not covered. */
function layerSteps(layer: tfjs.layers.Layer, inShape: number[], outShape: number[], kernels: Kernels): Step[] | null {
  const config = layer.getConfig()
  const kind = layer.getClassName()
  if (IDENTITY_LAYERS.has(kind)) return sizeOf(inShape) === sizeOf(outShape) ? [] : null
  switch (kind) {
    case 'Flatten': return config.dataFormat === 'channelsFirst' ? null : [] // channelsFirst transposes first
    case 'Activation': return activationSteps(config.activation, outShape, kernels)
    case 'Dense': return denseSteps(layer, config, inShape, outShape, kernels)
    case 'Conv2D': return conv2dSteps(layer, config, inShape, outShape, kernels)
    case 'MaxPooling2D': return pool2dSteps(config, inShape, outShape, kernels.maxPool)
    case 'AveragePooling2D': return pool2dSteps(config, inShape, outShape, kernels.avgPool)
    case 'BatchNormalization': return batchNormSteps(layer, config, inShape, kernels)
    default: return null
  }
}

/** A symbolic tensor's shape without the batch dim, when float32 and fully known after it. */
function itemShape(tensor: tfjs.SymbolicTensor): number[] | null {
  const [batch, ...rest] = tensor.shape
  if (tensor.dtype !== 'float32' || batch !== null || !rest.every((dim): dim is number => Number.isInteger(dim) && (dim as number) > 0)) return null
  return rest as number[]
}

/** The model compiled to steps, or null when it is not a chain of covered layers from one input to one output. */
function compile(model: tfjs.LayersModel, kernels: Kernels): DirectPlan | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null
  const [input] = model.inputs
  const [output] = model.outputs
  const inputShape = itemShape(input)
  const outputShape = itemShape(output)
  if (inputShape === null || outputShape === null) return null
  const stepsByLayer: Step[][] = []
  // Walk back from the output: every layer on the way must have exactly one input and one output.
  let tensor = output
  for (let hops = 0; tensor !== input; hops++) {
    const layer = tensor.sourceLayer
    const node = layer.inboundNodes[tensor.nodeIndex]
    if (hops > model.layers.length || node === undefined || node.inputTensors.length !== 1 || node.outputTensors.length !== 1) return null
    const inShape = itemShape(node.inputTensors[0])
    const outShape = itemShape(tensor)
    if (inShape === null || outShape === null) return null
    const steps = layerSteps(layer, inShape, outShape, kernels)
    if (steps === null) return null
    stepsByLayer.unshift(steps)
    tensor = node.inputTensors[0]
  }
  return new DirectPlan(input.sourceLayer.name, inputShape, output.sourceLayer.name, outputShape, stepsByLayer.flat())
}

/** A compiled model: one input, one output, steps over Float32Arrays; intermediates reuse two arenas. */
export class DirectPlan {
  private readonly inputItemSize: number
  private readonly outputItemSize: number
  private arenas = [new Float32Array(0), new Float32Array(0)]
  /** Per batch size, the views of the arenas each step but the last writes. */
  private intermediates = new Map<number, Float32Array[]>()

  constructor(
    readonly inputName: string,
    readonly inputShape: readonly number[],
    readonly outputName: string,
    private readonly outputShape: readonly number[],
    private readonly steps: readonly Step[],
  ) {
    this.inputItemSize = sizeOf(inputShape)
    this.outputItemSize = sizeOf(outputShape)
  }

  /**
   * Runs the model when the input is what the plan covers (FP32 values of the model's item shape,
   * at least one row); undefined otherwise, for the TF.js path to serve or reject.
   */
  predict(inputs: ReadonlyMap<string, Tensor>): Map<string, Tensor> | undefined {
    const input = inputs.get(this.inputName)
    if (input === undefined || input.datatype !== 'FP32' || !(input.data instanceof Float32Array)) return undefined
    const [rows, ...rest] = input.shape
    if (!Number.isInteger(rows) || rows < 1 || !sameShape(rest, this.inputShape) || input.data.length !== rows * this.inputItemSize) return undefined
    const data = this.run(input.data, rows)
    return new Map([[this.outputName, { name: this.outputName, datatype: 'FP32', shape: [rows, ...this.outputShape], data }]])
  }

  /** `rows` items of input in; a fresh array of `rows` items of output out (the caller keeps it). */
  run(input: Float32Array, rows: number): Float32Array {
    const output = new Float32Array(rows * this.outputItemSize)
    const last = this.steps.length - 1
    if (last < 0) {
      output.set(input)
      return output
    }
    const views = this.viewsFor(rows)
    let current = input
    for (let i = 0; i <= last; i++) {
      const target = i === last ? output : views[i]
      this.steps[i].run(current, target, rows)
      current = target
    }
    return output
  }

  /** Frees the arenas (the plan may still run later; they grow again). */
  release(): void {
    this.arenas = [new Float32Array(0), new Float32Array(0)]
    this.intermediates.clear()
  }

  /** Step i writes arena i mod 2 and the next step reads it: a step never reads and writes one array. */
  private viewsFor(rows: number): Float32Array[] {
    const cached = this.intermediates.get(rows)
    if (cached !== undefined) return cached
    const inner = this.steps.slice(0, -1)
    const needed = Math.max(0, ...inner.map((step) => step.outputItemSize * rows))
    if (this.arenas[0].length < needed) {
      this.arenas = [new Float32Array(needed), new Float32Array(needed)]
      this.intermediates.clear()
    }
    if (this.intermediates.size >= MAX_CACHED_BATCH_SIZES) this.intermediates.clear()
    const views = inner.map((step, i) => this.arenas[i % 2].subarray(0, step.outputItemSize * rows))
    this.intermediates.set(rows, views)
    return views
  }
}

/** max|a − e| / max|e|; Infinity when NaNs or infinities differ in place. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let difference = actual.length === expected.length ? 0 : Infinity
  let magnitude = 0
  for (let i = 0; i < expected.length; i++) {
    if (Number.isFinite(expected[i]) && Number.isFinite(actual[i])) {
      difference = Math.max(difference, Math.abs(actual[i] - expected[i]))
      magnitude = Math.max(magnitude, Math.abs(expected[i]))
    } else if (!Object.is(actual[i], expected[i])) return Infinity
  }
  return magnitude === 0 ? difference : difference / magnitude
}

/** The plan's relative difference from TF.js on a seeded batch of 2 (which also warms the batch-2 caches). */
function differenceFromTfjs(model: tfjs.LayersModel, plan: DirectPlan): number {
  const random = new SeededRandom(7)
  const values = Float32Array.from({ length: 2 * sizeOf(plan.inputShape) }, () => random.next() * 2 - 1)
  const expected = tf.tidy(() => (model.predict(tf.tensor(values, [2, ...plan.inputShape])) as tfjs.Tensor).dataSync() as Float32Array)
  return relativeError(plan.run(values, 2), expected)
}

/**
 * The direct plan of `model`, or undefined when TF.js must run it: MALT_SERVING_DIRECT=0 (for
 * comparison and as an escape hatch), no malt-native backend, a layer, option or topology the plan
 * does not cover, or a plan that disagrees with TF.js on a seeded input at load. The last is said on
 * stderr: it would be a bug here, and TF.js answering is the safe way out.
 */
export function planDirectExecution(model: tfjs.LayersModel, env: NodeJS.ProcessEnv = process.env, warn = (message: string) => process.stderr.write(`${message}\n`)): DirectPlan | undefined {
  if (env.MALT_SERVING_DIRECT === '0') return undefined
  const kernels = nativeKernels()
  let plan: DirectPlan | null
  try {
    plan = kernels === undefined ? null : compile(model, kernels)
  } catch {
    // TF.js's geometry helpers reject a configuration: TF.js will say so itself at predict time.
    return undefined
  }
  if (plan === null) return undefined
  let why: string
  try {
    const difference = differenceFromTfjs(model, plan)
    if (difference <= SELF_CHECK_TOLERANCE) return plan
    why = `it differs from TF.js by ${difference.toExponential(2)} (relative)`
  } catch (error) {
    why = `its check failed: ${(error as Error).message}`
  }
  warn(`malt serve: direct execution of model ${model.name} is off (${why}); TF.js runs it`)
  return undefined
}
