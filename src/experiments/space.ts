// Search spaces: typed range builders, validation that rejects a bad space before any trial runs,
// grid (cartesian) and launch (zip) expansion, and canonical keys and file-safe names of combinations.
import { createHash } from 'node:crypto'
import { MaltError, describeValue } from '../errors.js'
import type { CategoricalSpec, FloatSpec, IntSpec, ParamSpec, ParamValue, Params, SearchSpace, SpaceInput } from './types.js'

/** Options of the numeric range builders. */
export interface RangeOptions {
  /** Sample on a log scale (float: both bounds > 0; int: both bounds >= 1). @defaultValue false */
  log?: boolean
}

/** A float range `min <= x <= max`, e.g. `float(1e-4, 1e-1, { log: true })` for a learning rate. */
export function float(min: number, max: number, options: RangeOptions = {}): FloatSpec {
  return options.log === true ? { type: 'float', min, max, log: true } : { type: 'float', min, max }
}

/** An integer range, both bounds included, e.g. `int(1, 5)` for a number of layers. */
export function int(min: number, max: number, options: RangeOptions = {}): IntSpec {
  return options.log === true ? { type: 'int', min, max, log: true } : { type: 'int', min, max }
}

/** A choice among values, e.g. `categorical(['adam', 'sgd'])`. */
export function categorical(choices: readonly ParamValue[]): CategoricalSpec {
  return { type: 'categorical', choices: [...choices] }
}

/** The most combinations a grid or a zip may expand to (a guard against a typo that means 10^9 trials). */
export const MAX_COMBINATIONS = 100_000

function badSpace(key: string, message: string): MaltError {
  return new MaltError('EXPERIMENT_BAD_SPACE', `Search space key ${JSON.stringify(key)}: ${message}`, { location: { field: key } })
}

function isParamValue(value: unknown): value is ParamValue {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
}

function checkValue(key: string, value: unknown, where: string): ParamValue {
  if (!isParamValue(value)) {
    throw badSpace(key, `expected ${where} to be a finite number, a string or a boolean, received ${describeValue(value)}`)
  }
  return value
}

function checkDistinct(key: string, values: readonly ParamValue[], what: string): void {
  const seen = new Set<string>()
  for (const value of values) {
    const id = valueKey(value)
    if (seen.has(id)) throw badSpace(key, `expected distinct ${what}, received ${describeValue(value)} twice in ${describeValue(values)}`)
    seen.add(id)
  }
}

function checkKeys(input: unknown, fn: string): [string, unknown][] {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new MaltError('EXPERIMENT_BAD_SPACE', `${fn}: expected the search space to be an object of hyperparameters, received ${describeValue(input)}`)
  }
  const entries = Object.entries(input)
  if (entries.length === 0) {
    throw new MaltError('EXPERIMENT_BAD_SPACE', `${fn}: expected at least one hyperparameter in the search space, received {}`)
  }
  return entries
}

function checkBounds(key: string, spec: { min: unknown; max: unknown }, type: string): { min: number; max: number } {
  const { min, max } = spec
  for (const [name, bound] of [['min', min], ['max', max]] as const) {
    if (typeof bound !== 'number' || !Number.isFinite(bound)) {
      throw badSpace(key, `expected ${type} bound ${name} to be a finite number, received ${describeValue(bound)}`)
    }
  }
  const [lo, hi] = [min as number, max as number]
  if (lo > hi) throw badSpace(key, `expected min <= max, received min ${lo} > max ${hi}`)
  return { min: lo, max: hi }
}

/** Validates one typed spec and returns a clean copy (no extra fields, `log` only when true). */
export function validateSpec(key: string, spec: unknown): ParamSpec {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw badSpace(key, `expected a list of values or a typed spec (float, int, categorical), received ${describeValue(spec)}`)
  }
  const typed = spec as { type?: unknown; min?: unknown; max?: unknown; log?: unknown; choices?: unknown }
  switch (typed.type) {
    case 'float':
    case 'int': {
      const { min, max } = checkBounds(key, { min: typed.min, max: typed.max }, typed.type)
      if (typed.log !== undefined && typeof typed.log !== 'boolean') {
        throw badSpace(key, `expected log to be true or false, received ${describeValue(typed.log)}`)
      }
      const log = typed.log === true
      if (typed.type === 'int') {
        if (!Number.isInteger(min) || !Number.isInteger(max)) {
          throw badSpace(key, `expected integer bounds for an int range, received min ${min}, max ${max}`)
        }
        if (log && min < 1) throw badSpace(key, `expected min >= 1 for a log-scale int range, received min ${min}`)
        return int(min, max, { log })
      }
      if (log && min <= 0) throw badSpace(key, `expected min > 0 for a log-scale float range, received min ${min}`)
      return float(min, max, { log })
    }
    case 'categorical': {
      if (!Array.isArray(typed.choices) || typed.choices.length === 0) {
        throw badSpace(key, `expected choices to be a non-empty list, received ${describeValue(typed.choices)}`)
      }
      const choices = typed.choices.map((choice) => checkValue(key, choice, 'every choice'))
      checkDistinct(key, choices, 'choices')
      return categorical(choices)
    }
    default:
      throw badSpace(key, `expected type "float", "int" or "categorical", received ${describeValue(typed.type)}`)
  }
}

/**
 * The space of the range-based algorithms (random, evolutionary, TPE). A list of two numbers is
 * a range (int when both are integers, as HopsML's `boundary_dict`), any other list is a choice,
 * typed specs pass after validation. Throws `EXPERIMENT_BAD_SPACE` naming the key.
 */
export function normalizeRangeSpace(input: SpaceInput): SearchSpace {
  const space: SearchSpace = {}
  for (const [key, entry] of checkKeys(input, 'search space')) {
    if (!Array.isArray(entry)) {
      space[key] = validateSpec(key, entry)
      continue
    }
    if (entry.length === 0) throw badSpace(key, 'expected a [min, max] range or a non-empty list of choices, received []')
    const values = entry.map((value) => checkValue(key, value, 'every value'))
    if (values.length === 2 && typeof values[0] === 'number' && typeof values[1] === 'number') {
      const [min, max] = values as [number, number]
      const type = Number.isInteger(min) && Number.isInteger(max) ? 'int' : 'float'
      space[key] = validateSpec(key, { type, min, max })
    } else {
      space[key] = validateSpec(key, { type: 'categorical', choices: values })
    }
  }
  return space
}

/** Options of {@link validateValueLists}. */
export interface ValueListOptions {
  /** Accept a single value for a key (launch broadcasts it). @defaultValue false */
  scalars?: boolean
  /** Accept the same value twice in one list (a zip may repeat a value; a grid may not). @defaultValue false */
  duplicates?: boolean
}

/**
 * The value lists of `gridSearch` and `launch`: every key a non-empty list of finite numbers,
 * strings or booleans. A categorical spec gives its choices and an int range its integers (a
 * float range cannot be listed). `fn` names the caller in messages.
 */
export function validateValueLists(
  input: Record<string, unknown>,
  fn: string,
  options: ValueListOptions = {},
): Record<string, readonly ParamValue[]> {
  const lists: Record<string, readonly ParamValue[]> = {}
  for (const [key, entry] of checkKeys(input, fn)) {
    let values: ParamValue[]
    if (Array.isArray(entry)) {
      if (entry.length === 0) throw badSpace(key, `${fn} expected a non-empty list of values, received []`)
      values = entry.map((value) => checkValue(key, value, 'every value'))
    } else if (options.scalars === true && isParamValue(entry)) {
      values = [entry]
    } else if (entry !== null && typeof entry === 'object' && 'type' in entry) {
      values = listSpec(key, validateSpec(key, entry), fn)
    } else {
      const wanted = options.scalars === true ? 'a value or a non-empty list of values' : 'a non-empty list of values'
      throw badSpace(key, `${fn} expected ${wanted}, received ${describeValue(entry)}`)
    }
    if (options.duplicates !== true) checkDistinct(key, values, 'values')
    lists[key] = values
  }
  return lists
}

/** The values of a typed spec, for a grid: choices, or every integer of an int range. */
export function listSpec(key: string, spec: ParamSpec, fn = 'gridSearch'): ParamValue[] {
  if (spec.type === 'categorical') return [...spec.choices]
  if (spec.type === 'int') {
    const count = spec.max - spec.min + 1
    if (count > MAX_COMBINATIONS) throw badSpace(key, `${fn} cannot list an int range of ${count} values (at most ${MAX_COMBINATIONS})`)
    return Array.from({ length: count }, (_, i) => spec.min + i)
  }
  throw badSpace(key, `${fn} needs a list of values; a float range [${spec.min}, ${spec.max}] cannot be listed (give the values, or use another search)`)
}

/**
 * Every combination of the value lists, first key slowest: `{a: [1, 2], b: ['x', 'y']}` →
 * (1,x), (1,y), (2,x), (2,y). Rejects more than {@link MAX_COMBINATIONS}.
 */
export function gridCombinations(input: Record<string, unknown>): Params[] {
  const lists = Object.entries(validateValueLists(input, 'gridSearch'))
  const total = lists.reduce((product, [, values]) => product * values.length, 1)
  if (total > MAX_COMBINATIONS) {
    throw new MaltError('EXPERIMENT_BAD_SPACE', `gridSearch: the grid has ${total} combinations, more than the limit of ${MAX_COMBINATIONS}`)
  }
  const combinations: Params[] = []
  for (let index = 0; index < total; index++) {
    const params: Params = {}
    let rest = index
    // Mixed-radix digits with the last key fastest.
    for (let k = lists.length - 1; k >= 0; k--) {
      const [key, values] = lists[k]
      params[key] = values[rest % values.length]
      rest = Math.floor(rest / values.length)
    }
    combinations.push(orderLike(params, lists))
  }
  return combinations
}

function orderLike(params: Params, lists: [string, readonly ParamValue[]][]): Params {
  const ordered: Params = {}
  for (const [key] of lists) ordered[key] = params[key]
  return ordered
}

/**
 * HopsML's `launch` semantics: the i-th run takes the i-th value of every list, so
 * `{a: [1, 2], b: [5, 3]}` is (1,5), (2,3). Lists must have equal lengths; a single value
 * (not a list) is used by every run.
 */
export function zipCombinations(input: Record<string, ParamValue | readonly ParamValue[]>): Params[] {
  const lists = validateValueLists(input, 'launch', { scalars: true, duplicates: true })
  let length: number | undefined
  let lengthKey = ''
  for (const [key, entry] of Object.entries(input)) {
    if (!Array.isArray(entry)) continue
    if (length === undefined) {
      length = entry.length
      lengthKey = key
    } else if (entry.length !== length) {
      throw badSpace(key, `launch expected every list to have the length of ${JSON.stringify(lengthKey)} (${length}), received ${entry.length} values`)
    }
  }
  const runs = length ?? 1
  if (runs > MAX_COMBINATIONS) throw new MaltError('EXPERIMENT_BAD_SPACE', `launch: ${runs} runs is more than the limit of ${MAX_COMBINATIONS}`)
  return Array.from({ length: runs }, (_, i) => {
    const params: Params = {}
    for (const [key, values] of Object.entries(lists)) params[key] = values.length === 1 && !Array.isArray(input[key]) ? values[0] : values[i]
    return params
  })
}

/** One value in canonical form: JSON, with -0 as 0 (numbers already print in shortest form). */
function valueKey(value: ParamValue): string {
  return JSON.stringify(typeof value === 'number' && Object.is(value, -0) ? 0 : value)
}

/**
 * A canonical string of a combination, for dedupe: keys sorted, values as JSON (so `1` and
 * `"1"` differ, `0.1` and `1e-1` do not). Two combinations are the same run iff their keys match.
 */
export function paramsKey(params: Params): string {
  const keys = Object.keys(params).sort()
  return `{${keys.map((key) => `${JSON.stringify(key)}:${valueKey(params[key])}`).join(',')}}`
}

/** Longest trial name; longer names are cut and end in `~` and 8 hex digits of a hash. */
export const MAX_TRIAL_NAME = 120

// Kept as they are; everything else (separators `=` `&`, `/`, `%`, spaces, non-ASCII) is %XX-escaped.
const SAFE = /[A-Za-z0-9._+-]/

function escapeName(text: string): string {
  let out = ''
  for (const char of text) {
    if (SAFE.test(char)) {
      out += char
    } else {
      for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
    }
  }
  return out
}

/**
 * A readable, file-system safe name of a trial: `lr=0.01&dropout=0.5` in the space's key order.
 * Characters outside `[A-Za-z0-9._+-]` are %XX-escaped (UTF-8), so combinations whose values
 * print differently get different names (`1` and `"1"` print alike: the driver must still
 * make names unique within a run); names longer than {@link MAX_TRIAL_NAME} are cut and suffixed `~<hash>`.
 * A combination with no parameters is named `default`.
 */
export function trialName(params: Params): string {
  const keys = Object.keys(params)
  if (keys.length === 0) return 'default'
  const name = keys.map((key) => `${escapeName(key)}=${escapeName(String(params[key]))}`).join('&')
  if (name.length <= MAX_TRIAL_NAME) return name
  const hash = createHash('sha256').update(paramsKey(params)).digest('hex').slice(0, 8)
  // Do not cut an escape (`%4` of `%41`) in half.
  const cut = name.slice(0, MAX_TRIAL_NAME - 9).replace(/%[0-9A-F]?$/, '')
  return `${cut}~${hash}`
}
