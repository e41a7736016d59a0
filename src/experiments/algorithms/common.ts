// What the search algorithms share: option checks, per-suggestion seeds (a suggestion depends only
// on seed and history, so a resumed search suggests the same), uniform sampling, the numeric view.
import { MaltError, describeValue } from '../../errors.js'
import { SeededRandom } from '../../util/random.js'
import { paramsKey } from '../space.js'
import type { Direction, ParamSpec, ParamValue, Params, SearchSetup, SearchSpace, TrialView } from '../types.js'

/** Throws `EXPERIMENT_BAD_OPTION` naming the algorithm's option. */
export function badOption(owner: string, option: string, expected: string, received: unknown): MaltError {
  return new MaltError('EXPERIMENT_BAD_OPTION', `${owner}: expected option ${option} to be ${expected}, received ${describeValue(received)}`, {
    location: { field: option },
  })
}

/** An integer option `>= min` (or the default when undefined). */
export function integerOption(owner: string, option: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw badOption(owner, option, `an integer >= ${min}`, value)
  return value
}

/** A finite number option in `[min, max]` (or the default when undefined). */
export function numberOption(owner: string, option: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw badOption(owner, option, `a number in [${min}, ${max}]`, value)
  }
  return value
}

/** A boolean option (or the default when undefined). */
export function booleanOption(owner: string, option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw badOption(owner, option, 'true or false', value)
  return value
}

/** The setup an algorithm was given, or an error when `suggest` came first. */
export function requireSetup(owner: string, setup: SearchSetup | undefined): SearchSetup {
  if (setup === undefined) throw new MaltError('EXPERIMENT_NOT_SET_UP', `${owner}: suggest() was called before setup()`)
  return setup
}

/** A 32-bit seed from the run's seed and a few counters (FNV-1a over their bytes, then mixed). */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let hash = 0x811c9dc5
  for (const part of [seed, ...parts]) {
    let word = Math.trunc(part) >>> 0
    for (let i = 0; i < 4; i++) {
      hash = Math.imul(hash ^ (word & 0xff), 0x01000193)
      word >>>= 8
    }
  }
  return hash | 0
}

/** A random source for one decision, a pure function of the seed and counters. */
export function randomFor(seed: number, ...parts: number[]): SeededRandom {
  return new SeededRandom(deriveSeed(seed, ...parts))
}

/** A standard normal draw (Box-Muller; 1 - u keeps log away from 0). */
export function gaussian(rng: SeededRandom): number {
  const u = 1 - rng.next()
  const v = rng.next()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** A value of `spec` drawn uniformly (log-uniformly with `log`; ints over [min-0.5, max+0.5] then rounded). */
export function sampleSpec(spec: ParamSpec, rng: SeededRandom): ParamValue {
  if (spec.type === 'categorical') return spec.choices[rng.nextInt(spec.choices.length)]
  const [low, high] = internalBounds(spec)
  return fromInternal(spec, low + rng.next() * (high - low))
}

/** A whole combination drawn uniformly, in the space's key order. */
export function sampleSpace(space: SearchSpace, rng: SeededRandom): Params {
  const params: Params = {}
  for (const [key, spec] of Object.entries(space)) params[key] = sampleSpec(spec, rng)
  return params
}

/**
 * The numeric bounds a parameter lives in for DE and TPE: float as is (log: ln), int widened by
 * half a step each side so that rounding gives every integer the same share (log: ln of that),
 * categorical the index range widened the same way.
 */
export function internalBounds(spec: ParamSpec): [number, number] {
  if (spec.type === 'categorical') return [-0.5, spec.choices.length - 0.5]
  if (spec.type === 'float') return spec.log === true ? [Math.log(spec.min), Math.log(spec.max)] : [spec.min, spec.max]
  const [low, high] = [spec.min - 0.5, spec.max + 0.5]
  return spec.log === true ? [Math.log(low), Math.log(high)] : [low, high]
}

/** A parameter's value in the internal view (categorical: its index). */
export function toInternal(spec: ParamSpec, value: ParamValue): number {
  if (spec.type === 'categorical') return spec.choices.findIndex((choice) => choice === value)
  const number = value as number
  return spec.log === true ? Math.log(number) : number
}

/** Back from the internal view: clipped into the bounds, ints rounded, categorical by index. */
export function fromInternal(spec: ParamSpec, x: number): ParamValue {
  if (spec.type === 'categorical') return spec.choices[clamp(Math.round(x), 0, spec.choices.length - 1)]
  const value = spec.log === true ? Math.exp(x) : x
  if (spec.type === 'int') return clamp(Math.round(value), spec.min, spec.max)
  return clamp(value, spec.min, spec.max)
}

export function clamp(x: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, x))
}

/** Turns a metric into a loss (smaller is better) for the search's direction. */
export function toLoss(value: number, direction: Direction): number {
  return direction === 'max' ? -value : value
}

/** Number of distinct combinations of a space, or Infinity when a float range has width. */
export function discreteSize(space: SearchSpace): number {
  let size = 1
  for (const spec of Object.values(space)) {
    if (spec.type === 'categorical') size *= spec.choices.length
    else if (spec.type === 'int') size *= spec.max - spec.min + 1
    else if (spec.min !== spec.max) return Infinity
  }
  return size
}

/** The i-th combination of a discrete space (mixed radix, last key fastest). */
export function combinationAt(space: SearchSpace, index: number): Params {
  const entries = Object.entries(space)
  const params: Params = {}
  let rest = index
  for (let k = entries.length - 1; k >= 0; k--) {
    const [key, spec] = entries[k]
    const radix = spec.type === 'categorical' ? spec.choices.length : spec.type === 'int' ? spec.max - spec.min + 1 : 1
    const digit = rest % radix
    rest = Math.floor(rest / radix)
    params[key] = spec.type === 'categorical' ? spec.choices[digit] : spec.type === 'int' ? spec.min + digit : spec.min
  }
  const ordered: Params = {}
  for (const [key] of entries) ordered[key] = params[key]
  return ordered
}

/** The dedupe keys of every trial in the history, whatever its state. */
export function seenKeys(trials: readonly TrialView[]): Set<string> {
  return new Set(trials.map((trial) => paramsKey(trial.params)))
}
