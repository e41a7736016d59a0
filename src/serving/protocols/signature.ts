// What the REST protocols share: the signature a request is decoded against, and the reader that
// turns nested JSON lists into a tensor's flat storage — shape, element type, integer range and
// finiteness checked on the way — with messages that say where in the body a bad value sits.
import { describeValue } from '../../errors.js'
import { allocate } from '../tensor.js'
import { ServingError, type DataType, type Tensor, type TensorData, type TensorSpec } from '../types.js'

/** A model's inputs and outputs as the protocols see them (a LoadedModel is one). */
export interface ModelSignature {
  inputs: readonly TensorSpec[]
  outputs: readonly TensorSpec[]
}

/** How request tensors are checked. */
export interface DecodeOptions {
  /** Let NaN/±Infinity reach the model. @defaultValue false: 400 naming input and element index */
  allowNonFinite?: boolean
}

/** Stable codes of the 400s the protocols raise. */
export const ERROR_CODES = {
  /** The request's structure: missing or conflicting fields, unknown names, a bad signature. */
  request: 'SERVING_BAD_REQUEST',
  /** A tensor's shape: ragged or too deep lists, sizes that differ from the model's, empty batches. */
  shape: 'SERVING_BAD_SHAPE',
  /** An element: wrong JSON type, a fraction or out-of-range value for an integer type, NaN/Infinity. */
  value: 'SERVING_BAD_VALUE',
  /** A KServe datatype that is not the protocol's or not the model's. */
  datatype: 'SERVING_BAD_DATATYPE',
} as const

/** A 400 for what the client sent. */
export function badRequest(code: string, message: string): ServingError {
  return new ServingError(400, code, message)
}

/** Names for messages: `"a", "b"`. */
export function nameList(specs: readonly TensorSpec[]): string {
  return specs.map((spec) => JSON.stringify(spec.name)).join(', ')
}

/** True for a plain JSON object (not a list, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `[-1, 28, 28]` as messages write shapes. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`
}

/** A place in the request body, e.g. `instances[3].pixels[2]`; text is built only for a message. */
export class JsonPath {
  private readonly parts: (string | number)[] = []

  constructor(private readonly root: string) {}

  push(part: string | number): void {
    this.parts.push(part)
  }

  pop(): void {
    this.parts.pop()
  }

  /** The path, with `index` appended when given. */
  text(index?: number): string {
    let text = this.root
    for (const part of this.parts) text += typeof part === 'number' ? `[${part}]` : /^[A-Za-z_$][\w$]*$/.test(part) ? `.${part}` : `[${JSON.stringify(part)}]`
    return index === undefined ? text : `${text}[${index}]`
  }
}

/** What the two protocols accept as elements beyond plain JSON numbers, booleans and strings. */
export interface ElementRules {
  /** NaN and ±Infinity reach the model. */
  allowNonFinite: boolean
  /** TF Serving: `{"b64": "..."}` is a BYTES element (base64 of its bytes). */
  b64Objects: boolean
  /** KServe: the strings "NaN", "Infinity", "-Infinity" are float elements (when allowNonFinite). */
  nonFiniteStrings: boolean
}

type ElementKind = 'float' | 'int' | 'bigint' | 'bool' | 'bytes'

/** Integer types: smallest value and the first value past the largest (exact as doubles). */
const INTEGER_RANGES: Readonly<Partial<Record<DataType, readonly [number, number]>>> = {
  UINT8: [0, 2 ** 8],
  UINT16: [0, 2 ** 16],
  UINT32: [0, 2 ** 32],
  UINT64: [0, 2 ** 64],
  INT8: [-(2 ** 7), 2 ** 7],
  INT16: [-(2 ** 15), 2 ** 15],
  INT32: [-(2 ** 31), 2 ** 31],
  INT64: [-(2 ** 63), 2 ** 63],
}

const NON_FINITE_STRINGS: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity }
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

function kindOf(datatype: DataType): ElementKind {
  if (datatype === 'FP16' || datatype === 'FP32' || datatype === 'FP64') return 'float'
  if (datatype === 'INT64' || datatype === 'UINT64') return 'bigint'
  if (datatype === 'BOOL') return 'bool'
  if (datatype === 'BYTES') return 'bytes'
  return 'int'
}

/**
 * The sizes of a nested list along each dimension: fixed sizes from the spec, `-1` ones from the
 * first list at that depth. A `-1` left where the first lists stop (a scalar too early) is caught by
 * {@link checkNesting}; one below an empty list is 0 (there are no elements either way).
 */
export function resolveDims(value: unknown, specDims: readonly number[]): number[] {
  const dims = specDims.slice()
  let node = value
  for (let level = 0; level < dims.length; level++) {
    if (!Array.isArray(node)) return dims
    if (dims[level] === -1) dims[level] = node.length
    if (node.length === 0) return dims.map((dim) => (dim === -1 ? 0 : dim))
    node = node[0]
  }
  return dims
}

/**
 * Fills one input's flat storage from JSON lists, checking every element. The typed array is the
 * only allocation: paths are a reused stack and become text only in an error.
 */
export class TensorReader {
  readonly data: TensorData
  private pos = 0
  private readonly kind: ElementKind
  private readonly min: number
  private readonly end: number

  /**
   * @param spec - the model input being read
   * @param length - its element count (the caller knows the shape)
   * @param label - how messages name it, e.g. `input "pixels"`
   */
  constructor(
    readonly spec: TensorSpec,
    length: number,
    private readonly rules: ElementRules,
    private readonly label: string,
  ) {
    this.data = allocate(spec.datatype, length)
    this.kind = kindOf(spec.datatype)
    ;[this.min, this.end] = INTEGER_RANGES[spec.datatype] ?? [0, 0]
  }

  /** The tensor read so far, with `shape` (the caller's count of elements). */
  tensor(shape: number[]): Tensor {
    return { name: this.spec.name, datatype: this.spec.datatype, shape, data: this.data }
  }

  /**
   * Reads `value`, lists nested as `dims` (checked beforehand by {@link checkNesting}), into the
   * next elements; an element that is itself a list is refused as nested too deep.
   */
  readNested(value: unknown, dims: readonly number[], path: JsonPath, level = 0): void {
    if (level === dims.length) {
      this.readScalar(value, path)
      return
    }
    const list = value as unknown[]
    if (level === dims.length - 1) {
      this.readList(list, path)
      return
    }
    for (let i = 0; i < list.length; i++) {
      path.push(i)
      this.readNested(list[i], dims, path, level + 1)
      path.pop()
    }
  }

  /** Reads a flat list of elements (the caller checked its length). */
  readList(list: readonly unknown[], path: JsonPath): void {
    const n = list.length
    let pos = this.pos
    switch (this.kind) {
      case 'float': {
        const out = this.data as Float32Array
        for (let i = 0; i < n; i++) {
          const v = list[i]
          // v - v is 0 for finite numbers only: NaN and ±Infinity take the slow path.
          out[pos++] = typeof v === 'number' && v - v === 0 ? v : this.floatElement(v, path, i)
        }
        break
      }
      case 'int': {
        const out = this.data as Int32Array
        for (let i = 0; i < n; i++) {
          const v = list[i]
          if (typeof v !== 'number' || !Number.isInteger(v) || v < this.min || v >= this.end) throw this.elementError(v, path, i)
          out[pos++] = v
        }
        break
      }
      case 'bigint': {
        const out = this.data as BigInt64Array
        for (let i = 0; i < n; i++) {
          const v = list[i]
          if (typeof v !== 'number' || !Number.isInteger(v) || v < this.min || v >= this.end) throw this.elementError(v, path, i)
          out[pos++] = BigInt(v)
        }
        break
      }
      case 'bool': {
        const out = this.data as boolean[]
        for (let i = 0; i < n; i++) {
          const v = list[i]
          if (typeof v !== 'boolean') throw this.elementError(v, path, i)
          out[pos++] = v
        }
        break
      }
      case 'bytes': {
        const out = this.data as string[]
        for (let i = 0; i < n; i++) {
          const v = list[i]
          out[pos++] = typeof v === 'string' ? v : this.bytesElement(v, path, i)
        }
        break
      }
    }
    this.pos = pos
  }

  /** Reads one element standing alone (an input whose instances are scalars). */
  private readScalar(value: unknown, path: JsonPath): void {
    // Typed arrays and plain arrays alike take an indexed store; convert() gives the right JS type.
    ;(this.data as unknown as unknown[])[this.pos++] = this.convert(value, path)
  }

  /** One element checked and converted; `index` is its place in the list at `path`, if any. */
  private convert(v: unknown, path: JsonPath, index?: number): number | bigint | boolean | string {
    switch (this.kind) {
      case 'float':
        return typeof v === 'number' && v - v === 0 ? v : this.floatElement(v, path, index)
      case 'int':
      case 'bigint':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < this.min || v >= this.end) throw this.elementError(v, path, index)
        return this.kind === 'int' ? v : BigInt(v)
      case 'bool':
        if (typeof v !== 'boolean') throw this.elementError(v, path, index)
        return v
      case 'bytes':
        return typeof v === 'string' ? v : this.bytesElement(v, path, index)
    }
  }

  private floatElement(value: unknown, path: JsonPath, index?: number): number {
    // A served pipeline's Imputer fills missing values: null reaches it as NaN, which it treats as missing.
    if (value === null && this.spec.nullable === true) return NaN
    const nonFinite = typeof value === 'number' ? value : this.rules.nonFiniteStrings && typeof value === 'string' ? NON_FINITE_STRINGS[value] : undefined
    if (nonFinite === undefined) throw this.elementError(value, path, index)
    if (!this.rules.allowNonFinite) {
      throw badRequest(ERROR_CODES.value, `${this.label}: ${path.text(index)}: expected a finite number (${this.spec.datatype}), got ${String(nonFinite)}: NaN and Infinity are refused for this model`)
    }
    return nonFinite
  }

  private bytesElement(value: unknown, path: JsonPath, index?: number): string {
    if (value === null && this.spec.nullable === true) return ''
    if (this.rules.b64Objects && isObject(value) && typeof value.b64 === 'string' && Object.keys(value).length === 1) {
      const text = value.b64
      if (!BASE64.test(text) || text.replace(/=+$/, '').length % 4 === 1) {
        throw badRequest(ERROR_CODES.value, `${this.label}: ${path.text(index)}: "b64" is not base64: ${describeValue(text)}`)
      }
      // BYTES elements are strings; a decoded one holds its bytes as latin1 characters.
      return Buffer.from(text, 'base64').toString('latin1')
    }
    throw this.elementError(value, path, index)
  }

  private elementError(value: unknown, path: JsonPath, index?: number): ServingError {
    const datatype = this.spec.datatype
    let expected: string
    switch (this.kind) {
      case 'float':
        expected = `a number (${datatype})`
        break
      case 'int':
      case 'bigint':
        expected = `an integer from ${this.min} to ${this.kind === 'bigint' ? BigInt(this.end) - 1n : this.end - 1} (${datatype})`
        break
      case 'bool':
        expected = 'true or false (BOOL)'
        break
      case 'bytes':
        expected = this.rules.b64Objects ? 'a string or {"b64": "<base64>"} (BYTES)' : 'a string (BYTES)'
        break
    }
    let got = describeValue(value)
    if (Array.isArray(value)) got = `a list ${got}, nested deeper than the input's shape ${formatShape(this.spec.shape)}`
    else if (isObject(value) && 'b64' in value && this.kind !== 'bytes') got += ' (b64 values are for BYTES inputs only)'
    return badRequest(ERROR_CODES.value, `${this.label}: ${path.text(index)}: expected ${expected}, got ${got}`)
  }
}

/**
 * A 400 unless `value` is lists nested as `dims` all the way down (the elements themselves are
 * {@link TensorReader}'s to check). Run before allocating: a shape must be real before it costs
 * memory. `specDims` (`-1` for variable) and `specShape` only shape the messages.
 */
export function checkNesting(value: unknown, dims: readonly number[], specDims: readonly number[], specShape: readonly number[], label: string, path: JsonPath, level = 0): void {
  if (level === dims.length) return
  const size = dims[level]
  if (!Array.isArray(value)) {
    const wanted = size >= 0 ? `a list of ${size} values` : 'a list'
    throw badRequest(ERROR_CODES.shape, `${label}: ${path.text()}: expected ${wanted} (the input's shape is ${formatShape(specShape)}), got ${describeValue(value)}`)
  }
  if (value.length !== size) {
    const why = specDims[level] === -1 ? ' (a variable dimension: every list at this depth must have the length of the first one)' : ''
    throw badRequest(ERROR_CODES.shape, `${label}: ${path.text()}: expected ${size} values${why}, got ${value.length}`)
  }
  if (level === dims.length - 1) return
  for (let i = 0; i < size; i++) {
    path.push(i)
    checkNesting(value[i], dims, specDims, specShape, label, path, level + 1)
    path.pop()
  }
}

/** Elements in `dims`, 0 while a dimension is still unknown (-1): nothing is allocated for a shape an error will refuse. */
export function knownCount(dims: readonly number[]): number {
  let count = 1
  for (const dim of dims) count *= dim < 0 ? 0 : dim
  return count
}

/** A 400 unless `rows` fits the spec's batch dimension (a fixed first dimension takes that many rows only). */
export function checkBatch(spec: TensorSpec, rows: number, label: string): void {
  const batch = spec.shape[0]
  if (batch !== undefined && batch !== -1 && batch !== rows) {
    throw badRequest(ERROR_CODES.shape, `${label}: the model takes exactly ${batch} rows (its shape is ${formatShape(spec.shape)}), got ${rows}`)
  }
}

/**
 * How a response writes NaN and ±Infinity: `tokens` as TF Serving's JSON conformance section does
 * (`NaN`, `Infinity`, `-Infinity`), `strings` as `"NaN"`… — strict JSON, and the Open Inference
 * Protocol lets tensor elements be strings.
 */
export type NonFiniteStyle = 'tokens' | 'strings'

/** How a response writes BYTES elements: as strings, or TF Serving's `{"b64": "<base64>"}` (outputs named `*_bytes`). */
export type BytesStyle = 'string' | 'b64'

/** JSON text of one element. */
export function elementText(data: TensorData, index: number, nonFinite: NonFiniteStyle, bytes: BytesStyle): string {
  const v = data[index]
  if (typeof v === 'number') return v - v === 0 ? String(v) : nonFinite === 'tokens' ? String(v) : `"${String(v)}"`
  if (typeof v === 'string') return bytes === 'b64' ? `{"b64":"${Buffer.from(v, 'latin1').toString('base64')}"}` : JSON.stringify(v)
  return String(v) // booleans, and bigints as exact decimal digits
}

/** True when `data[start..end)` can go through JSON.stringify as plain numbers: no NaN, no ±Infinity, no bigints. */
function plainNumbers(data: TensorData, start: number, end: number): data is Exclude<TensorData, BigInt64Array | BigUint64Array | boolean[] | string[]> {
  if (data instanceof Float32Array || data instanceof Float64Array) {
    for (let i = start; i < end; i++) {
      const v = data[i]
      if (v - v !== 0) return false
    }
    return true
  }
  return ArrayBuffer.isView(data) && !(data instanceof BigInt64Array) && !(data instanceof BigUint64Array)
}

/** Plain (nested) arrays of numbers for JSON.stringify. */
function plainNested(data: Exclude<TensorData, BigInt64Array | BigUint64Array | boolean[] | string[]>, shape: readonly number[], offset: number, level: number): unknown {
  if (level === shape.length) return data[offset]
  if (level === shape.length - 1) return Array.from(data.subarray(offset, offset + shape[level]))
  let stride = 1
  for (let d = level + 1; d < shape.length; d++) stride *= shape[d]
  const list = new Array<unknown>(shape[level])
  for (let i = 0; i < list.length; i++) list[i] = plainNested(data, shape, offset + i * stride, level + 1)
  return list
}

/**
 * JSON text of `data` from `offset` as lists nested by `shape` (a scalar for `[]`). Measured (see
 * the report): one JSON.stringify over plain nested arrays beats joining typed-array text and
 * string concatenation once the numbers are new to V8's number-string cache, so plain numbers go
 * through it; NaN, bigints, booleans and strings take the element loop.
 */
export function nestedText(data: TensorData, shape: readonly number[], offset: number, nonFinite: NonFiniteStyle, bytes: BytesStyle, level = 0): string {
  let size = 1
  for (let d = level; d < shape.length; d++) size *= shape[d]
  if (plainNumbers(data, offset, offset + size)) return JSON.stringify(plainNested(data, shape, offset, level))
  if (level === shape.length) return elementText(data, offset, nonFinite, bytes)
  if (level === shape.length - 1) return listText(data, offset, offset + shape[level], nonFinite, bytes)
  const stride = size / shape[level]
  let text = '['
  for (let i = 0; i < shape[level]; i++) text += (i === 0 ? '' : ',') + nestedText(data, shape, offset + i * stride, nonFinite, bytes, level + 1)
  return text + ']'
}

/** JSON text of `data[start..end)` as a flat list. */
export function listText(data: TensorData, start: number, end: number, nonFinite: NonFiniteStyle, bytes: BytesStyle): string {
  if (plainNumbers(data, start, end)) return JSON.stringify(Array.from(data.subarray(start, end)))
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return `[${data.subarray(start, end).join(',')}]`
  if (Array.isArray(data) && (bytes === 'string' || typeof data[start] === 'boolean')) return JSON.stringify(data.slice(start, end))
  let text = '['
  for (let i = start; i < end; i++) text += (i === start ? '' : ',') + elementText(data, i, nonFinite, bytes)
  return text + ']'
}
