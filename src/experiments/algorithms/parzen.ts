// TPE's Parzen estimator: a weighted mixture of one kernel per observed trial plus a prior, over one
// or more parameters; sampled and evaluated. Bandwidths as Optuna's TPESampler (arXiv:2304.11127).
import type { SeededRandom } from '../../util/random.js'
import type { CategoricalSpec, FloatSpec, IntSpec, ParamSpec, Params } from '../types.js'
import { clamp } from './common.js'
import { logGaussMass, sampleTruncNormal } from './normal.js'

/** How kernels are built (Optuna's defaults: prior weight 1, magic clip on, endpoints off). */
export interface ParzenParameters {
  /** Weight of the prior kernel (wide Gaussian / uniform categorical) relative to an observation's. */
  priorWeight: number
  /** Floor the bandwidths at (high − low) / min(100, 1 + kernels) (Bergstra's "magic clip"). */
  magicClip: boolean
  /** Let the bounds count as neighbours when sizing the outermost kernels. */
  considerEndpoints: boolean
}

const EPS = 1e-12

interface CategoricalKernels {
  kind: 'categorical'
  key: string
  spec: CategoricalSpec
  /** log probability of each choice, per kernel. */
  logProbs: number[][]
  probs: number[][]
}

interface NumericKernels {
  kind: 'numeric'
  key: string
  spec: FloatSpec | IntSpec
  mus: number[]
  sigmas: number[]
  /** Bounds in the transformed scale (ints widened by ½, then ln for log ranges). */
  low: number
  high: number
  /** log of each kernel's mass inside [low, high] (the truncation normaliser). */
  logMass: number[]
  /** log(σ·√(2π)) of each kernel, the Gaussian's own normaliser. */
  logSigmaSqrt2Pi: number[]
}

type Kernels = CategoricalKernels | NumericKernels

/** The transformed scale of a numeric parameter (ln for log ranges). */
function transform(spec: FloatSpec | IntSpec, x: number): number {
  return spec.log === true ? Math.log(x) : x
}

/**
 * Bandwidth of each observation's kernel: the larger gap to its sorted neighbours (the bounds
 * count as neighbours only with `considerEndpoints`, except for a lone observation), clipped to
 * [minSigma, high − low].
 */
export function bandwidths(mus: readonly number[], low: number, high: number, parameters: ParzenParameters): number[] {
  const order = mus.map((_, i) => i).sort((a, b) => mus[a] - mus[b])
  const sorted = [low, ...order.map((i) => mus[i]), high]
  const sortedSigmas = order.map((_, j) => Math.max(sorted[j + 1] - sorted[j], sorted[j + 2] - sorted[j + 1]))
  if (!parameters.considerEndpoints && mus.length >= 2) {
    sortedSigmas[0] = sorted[2] - sorted[1]
    sortedSigmas[mus.length - 1] = sorted[mus.length] - sorted[mus.length - 1]
  }
  const maxSigma = high - low
  const minSigma = parameters.magicClip ? (high - low) / Math.min(100, 1 + mus.length + 1) : EPS
  const sigmas = new Array<number>(mus.length)
  for (const [j, i] of order.entries()) sigmas[i] = clamp(sortedSigmas[j], minSigma, maxSigma)
  return sigmas
}

function numericKernels(key: string, spec: FloatSpec | IntSpec, values: readonly number[], parameters: ParzenParameters): NumericKernels {
  const half = spec.type === 'int' ? 0.5 : 0
  const [low, high] = [transform(spec, spec.min - half), transform(spec, spec.max + half)]
  const observed = values.map((x) => transform(spec, x))
  const mus = [...observed, 0.5 * (low + high)]
  const sigmas = [...bandwidths(observed, low, high, parameters), high - low]
  const logMass = mus.map((mu, k) => logGaussMass((low - mu) / sigmas[k], (high - mu) / sigmas[k]))
  const logSigmaSqrt2Pi = sigmas.map((sigma) => Math.log(sigma * Math.sqrt(2 * Math.PI)))
  return { kind: 'numeric', key, spec, mus, sigmas, low, high, logMass, logSigmaSqrt2Pi }
}

function categoricalKernels(key: string, spec: CategoricalSpec, values: readonly number[], parameters: ParzenParameters): CategoricalKernels {
  const n = spec.choices.length
  const kernels = values.length + 1
  // Each observation's kernel: the prior's share spread over every choice, plus 1 on its choice; the prior kernel is uniform.
  const probs = values.map((index) => {
    const row = new Array<number>(n).fill(parameters.priorWeight / kernels)
    row[index] += 1
    const sum = row.reduce((a, b) => a + b, 0)
    return row.map((p) => p / sum)
  })
  probs.push(new Array<number>(n).fill(1 / n))
  return { kind: 'categorical', key, spec, probs, logProbs: probs.map((row) => row.map(Math.log)) }
}

/**
 * A Parzen estimator over the parameters `specs` (one key for univariate TPE, all keys for
 * multivariate), built from the observed combinations with per-observation weights.
 */
export class ParzenEstimator {
  /** Normalised kernel weights; the last kernel is the prior. */
  readonly weights: number[]
  private readonly logWeights: number[]
  private readonly dimensions: Kernels[]

  constructor(specs: readonly [string, ParamSpec][], observations: readonly Params[], observationWeights: readonly number[], parameters: ParzenParameters) {
    const raw = observations.length === 0 ? [1] : [...observationWeights, parameters.priorWeight]
    const total = raw.reduce((a, b) => a + b, 0)
    this.weights = raw.map((w) => w / total)
    this.logWeights = this.weights.map(Math.log)
    this.dimensions = specs.map(([key, spec]) => {
      if (spec.type === 'categorical') {
        const indices = observations.map((params) => spec.choices.findIndex((choice) => choice === params[key]))
        return categoricalKernels(key, spec, indices, parameters)
      }
      return numericKernels(key, spec, observations.map((params) => params[key] as number), parameters)
    })
  }

  /** `count` combinations: each picks a kernel by weight, then every parameter from that kernel. */
  sample(rng: SeededRandom, count: number): Params[] {
    const samples: Params[] = []
    for (let s = 0; s < count; s++) {
      const kernel = pickIndex(this.weights, rng.next())
      const params: Params = {}
      for (const dim of this.dimensions) {
        if (dim.kind === 'categorical') {
          params[dim.key] = dim.spec.choices[pickIndex(dim.probs[kernel], rng.next())]
          continue
        }
        const t = sampleTruncNormal(rng, dim.mus[kernel], dim.sigmas[kernel], dim.low, dim.high)
        const x = dim.spec.log === true ? Math.exp(t) : t
        params[dim.key] = dim.spec.type === 'int' ? clamp(Math.round(x), dim.spec.min, dim.spec.max) : clamp(x, dim.spec.min, dim.spec.max)
      }
      samples.push(params)
    }
    return samples
  }

  /** log density of the mixture at a combination (log probability mass for ints and categoricals). */
  logPdf(params: Params): number {
    const perKernel = this.logWeights.slice()
    for (const dim of this.dimensions) {
      for (let k = 0; k < perKernel.length; k++) perKernel[k] += kernelLogPdf(dim, k, params[dim.key])
    }
    return logSumExp(perKernel)
  }
}

function kernelLogPdf(dim: Kernels, k: number, value: Params[string]): number {
  if (dim.kind === 'categorical') return dim.logProbs[k][dim.spec.choices.findIndex((choice) => choice === value)]
  const x = value as number
  const [mu, sigma] = [dim.mus[k], dim.sigmas[k]]
  if (dim.spec.type === 'float') {
    const t = transform(dim.spec, x)
    if (t < dim.low || t > dim.high) return -Infinity
    const z = (t - mu) / sigma
    return -0.5 * z * z - dim.logSigmaSqrt2Pi[k] - dim.logMass[k]
  }
  // An integer owns the interval [x − ½, x + ½] of the (transformed) scale.
  const left = (transform(dim.spec, x - 0.5) - mu) / sigma
  const right = (transform(dim.spec, x + 0.5) - mu) / sigma
  return logGaussMass(left, right) - dim.logMass[k]
}

function pickIndex(weights: readonly number[], u: number): number {
  let cumulative = 0
  for (let i = 0; i < weights.length; i++) {
    cumulative += weights[i]
    if (u < cumulative) return i
  }
  return weights.length - 1
}

function logSumExp(values: readonly number[]): number {
  const max = Math.max(...values)
  if (max === -Infinity) return -Infinity
  let sum = 0
  for (const v of values) sum += Math.exp(v - max)
  return max + Math.log(sum)
}
