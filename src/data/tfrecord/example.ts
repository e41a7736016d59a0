// tf.train.Example encode (protobufjs, from the schema below) and decode (a hand-written
// wire-format walk, several times faster than protobufjs; tests cross-check the two).
import protobuf from 'protobufjs'
import { RowLayouts } from './layout.js'
import { FIXED32, LEN, NameTable, VARINT, WireReader, decodeName, walkEntries, wireError } from './wire.js'

/** The tf.train.Example schema (tensorflow/core/example/{example,feature}.proto), as facts. */
export const EXAMPLE_PROTO = `
syntax = "proto3";
package tensorflow;
message BytesList { repeated bytes value = 1; }
message FloatList { repeated float value = 1 [packed = true]; }
message Int64List { repeated int64 value = 1 [packed = true]; }
message Feature {
  oneof kind {
    BytesList bytes_list = 1;
    FloatList float_list = 2;
    Int64List int64_list = 3;
  }
}
message Features { map<string, Feature> feature = 1; }
message Example { Features features = 1; }
`

let exampleType: protobuf.Type | undefined

/** The protobufjs type of `tensorflow.Example` (field names as in the .proto: `float_list`). */
export function exampleMessageType(): protobuf.Type {
  exampleType ??= protobuf.parse(EXAMPLE_PROTO, { keepCase: true }).root.lookupType('tensorflow.Example')
  return exampleType
}

/** A decoded feature: one of the three list kinds of tf.train.Feature. */
export type Feature =
  | { kind: 'bytes'; values: Uint8Array[] }
  | { kind: 'float'; values: Float32Array }
  | { kind: 'int64'; values: Array<number | bigint> }

/** A feature to encode; int64 values may be numbers (integers) or bigints. */
export type FeatureInput =
  | { kind: 'bytes'; values: readonly Uint8Array[] }
  | { kind: 'float'; values: ArrayLike<number> }
  | { kind: 'int64'; values: ArrayLike<number | bigint> }

/** The features of one tf.train.Example, by name. */
export type ExampleFeatures = Record<string, Feature>

/** int64 → the `{low, high}` pair protobufjs writes (it does not take bigints). */
function int64Bits(value: number | bigint): number | { low: number; high: number } {
  if (typeof value === 'number') return value
  return { low: Number(BigInt.asIntN(32, value)), high: Number(BigInt.asIntN(32, value >> 32n)) }
}

/** Serializes a tf.train.Example. Features are written in the order of `features`' keys. */
export function encodeExample(features: Record<string, FeatureInput>): Uint8Array {
  const feature: Record<string, unknown> = {}
  for (const [name, input] of Object.entries(features)) {
    if (input.kind === 'bytes') setOwn(feature, name, { bytes_list: { value: input.values } })
    else if (input.kind === 'float') setOwn(feature, name, { float_list: { value: Array.from(input.values) } })
    else setOwn(feature, name, { int64_list: { value: Array.from(input.values, int64Bits) } })
  }
  return exampleMessageType().encode({ features: { feature } }).finish()
}

/** `out[key] = value`, also for the key `__proto__` (which would otherwise set the prototype). */
export function setOwn<T>(out: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  else out[key] = value
}

const KIND_NONE = 0
const KIND_BYTES = 1
const KIND_FLOAT = 2
const KIND_INT64 = 3
const KIND_NAMES = ['none', 'bytes', 'float', 'int64'] as const

/** How bytes values come out: copied bytes, or UTF-8 strings. */
type BytesMode = 'bytes' | 'string'

const utf8 = new TextDecoder()

/** What {@link readFeature} found: the list kind and its values. */
interface FeatureSlot {
  kind: number
  list: unknown[]
}

/**
 * Reads the Feature in `buf[start, end)` into `out` (a fresh list) and returns its kind. As
 * protobuf merges messages, lists of one kind concatenate and a later kind replaces them.
 */
function readFeature(r: WireReader, start: number, end: number, out: FeatureSlot, bytes: BytesMode): number {
  const outerEnd = r.end
  r.pos = start
  r.end = end
  let kind = KIND_NONE
  let list: unknown[] = []
  while (r.pos < end) {
    const tag = r.uint32()
    const field = tag >>> 3
    if ((tag & 7) !== LEN || field < KIND_BYTES || field > KIND_INT64) {
      r.skip(tag & 7)
      continue
    }
    const listEnd = r.lengthEnd()
    if (field !== kind && list.length > 0) list = []
    kind = field
    r.end = listEnd
    while (r.pos < listEnd) {
      const valueTag = r.uint32()
      if (valueTag === ((1 << 3) | LEN) && field === KIND_BYTES) {
        const valueEnd = r.lengthEnd()
        const value = r.buf.subarray(r.pos, valueEnd)
        list.push(bytes === 'string' ? utf8.decode(value) : new Uint8Array(value))
        r.pos = valueEnd
      } else if (valueTag === ((1 << 3) | LEN) && field === KIND_FLOAT) {
        const packedEnd = r.lengthEnd()
        if ((packedEnd - r.pos) % 4 !== 0) throw wireError(`packed float list of ${packedEnd - r.pos} bytes is not a multiple of 4`, r.pos - r.base)
        for (let p = r.pos; p < packedEnd; p += 4) list.push(r.view.getFloat32(p, true))
        r.pos = packedEnd
      } else if (valueTag === ((1 << 3) | FIXED32) && field === KIND_FLOAT) {
        list.push(r.float())
      } else if (valueTag === ((1 << 3) | LEN) && field === KIND_INT64) {
        const packedEnd = r.lengthEnd()
        r.end = packedEnd
        while (r.pos < packedEnd) list.push(r.int64())
        r.end = listEnd
      } else if (valueTag === ((1 << 3) | VARINT) && field === KIND_INT64) {
        list.push(r.int64())
      } else {
        r.skip(valueTag & 7)
      }
    }
    r.end = end
  }
  r.end = outerEnd
  out.kind = kind
  out.list = list
  return kind
}

/**
 * Parses a serialized tf.train.Example from `bytes[start, end)`. Packed and unpacked lists
 * are both accepted (protobuf requires it); unknown fields are skipped; of two occurrences
 * of a feature name the last wins; a Feature with no kind set is left out. Bytes values are
 * copies, so they do not keep the input buffer alive.
 *
 * @throws MaltError `TFRECORD_BAD_EXAMPLE` with the byte offset inside the record.
 */
export function decodeExample(bytes: Uint8Array, start = 0, end = bytes.length): ExampleFeatures {
  const r = new WireReader().reset(bytes, start, end)
  const features: ExampleFeatures = {}
  walkEntries(r, (keyStart, keyEnd, valueStart, valueEnd) => {
    const name = decodeName(bytes, keyStart, keyEnd)
    const found: FeatureSlot = { kind: KIND_NONE, list: [] }
    const kind = valueStart < 0 ? KIND_NONE : readFeature(r, valueStart, valueEnd, found, 'bytes')
    const list = found.list
    if (kind === KIND_NONE) delete features[name]
    else if (kind === KIND_FLOAT) setOwn<Feature>(features, name, { kind: 'float', values: Float32Array.from(list as number[]) })
    else setOwn<Feature>(features, name, { kind: KIND_NAMES[kind], values: list } as Feature)
  })
  return features
}

/** Options of {@link ExampleRowDecoder}. */
export interface RowDecodeOptions {
  /**
   * Keep one-value lists as lists (by default they become the value).
   * @defaultValue false
   */
  keepLists?: boolean
  /**
   * bytes_list values as UTF-8 strings instead of `Uint8Array` copies.
   * @defaultValue false
   */
  bytesAsString?: boolean
}

type RowFactory = (values: unknown[]) => Record<string, unknown>
const MAX_SHAPES = 256

/**
 * Decodes Examples straight to rows `{ name: value }` (float → `number[]`, int64 →
 * `number[]` with bigints beyond ±2^53, bytes → `Uint8Array[]`/`string[]`; one-value lists
 * become scalars unless `keepLists`). Rows of one set of names are built by one compiled
 * object-literal function: objects with many keys are ~10x faster to build that way than key by key.
 */
export class ExampleRowDecoder {
  private readonly reader = new WireReader()
  private readonly names = new NameTable()
  private readonly keepLists: boolean
  private readonly bytes: BytesMode
  private ids: number[] = []
  private readonly found: FeatureSlot = { kind: KIND_NONE, list: [] }
  private values: unknown[] = []
  /** Names of entries whose id is -1 (the name table was full). */
  private extraNames: string[] = []
  private count = 0
  private complete = true
  private lastIds: number[] = []
  private lastFactory: RowFactory | undefined
  private readonly shapes = new Map<string, RowFactory | undefined>()
  private readonly visit = (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void => this.entry(keyStart, keyEnd, valueStart, valueEnd)
  /** Layouts of earlier records of float and int64 lists, with their row builders. */
  private readonly layouts: RowLayouts<RowFactory>

  constructor(options: RowDecodeOptions = {}) {
    this.keepLists = options.keepLists ?? false
    this.bytes = options.bytesAsString ? 'string' : 'bytes'
    this.layouts = new RowLayouts(this.keepLists)
  }

  /** One record → one row. @throws MaltError `TFRECORD_BAD_EXAMPLE` (offset inside the record). */
  decode(buf: Uint8Array, start = 0, end = buf.length): Record<string, unknown> {
    this.reader.reset(buf, start, end)
    const known = this.layouts.apply(this.reader, start, end, this.values)
    if (known) return known(this.values)
    this.reader.reset(buf, start, end)
    this.count = 0
    this.complete = true
    walkEntries(this.reader, this.visit)
    const factory = this.complete ? this.factory() : undefined
    if (factory && this.layouts.learning) {
      const row = factory(this.values) // before learning, which reuses the reader
      this.layouts.learn(this.reader, start, end, factory)
      return row
    }
    if (factory) return factory(this.values)
    const row: Record<string, unknown> = {}
    for (let i = 0; i < this.count; i++) {
      const name = this.ids[i] < 0 ? this.extraNames[i] : this.names.names[this.ids[i]]
      if (this.values[i] === undefined) delete row[name]
      else setOwn(row, name, this.values[i])
    }
    return row
  }

  private entry(keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void {
    const r = this.reader
    const i = this.count++
    const id = this.names.id(r.buf, keyStart, keyEnd, i)
    this.ids[i] = id
    if (id < 0) {
      this.complete = false
      this.extraNames[i] = this.names.lastName
    }
    const buf = r.buf
    // Fast path: a float_list of one packed list, lengths of one byte (what writers produce).
    const packed = buf[valueStart + 3]
    if (buf[valueStart] === 0x12 && buf[valueStart + 2] === 0x0a && buf[valueStart + 1] === packed + 2 && valueStart + 4 + packed === valueEnd && packed < 0x80 && packed % 4 === 0) {
      const view = r.view
      if (packed === 4 && !this.keepLists) {
        this.values[i] = view.getFloat32(valueStart + 4, true)
        return
      }
      const list: number[] = []
      for (let p = valueStart + 4; p < valueEnd; p += 4) list.push(view.getFloat32(p, true))
      this.values[i] = list
      return
    }
    const kind = valueStart < 0 ? KIND_NONE : readFeature(r, valueStart, valueEnd, this.found, this.bytes)
    const list = this.found.list
    if (kind === KIND_NONE) this.complete = false
    this.values[i] = kind === KIND_NONE ? undefined : !this.keepLists && list.length === 1 ? list[0] : list
  }

  /** The compiled row builder for this record's names, if it has one (cached by name ids). */
  private factory(): RowFactory | undefined {
    const n = this.count
    const ids = this.ids
    if (this.lastIds.length === n) {
      let i = 0
      while (i < n && this.lastIds[i] === ids[i]) i++
      if (i === n) return this.lastFactory
    }
    const shape = ids.slice(0, n)
    const key = shape.join(',')
    if (!this.shapes.has(key)) {
      if (this.shapes.size >= MAX_SHAPES) return undefined
      this.shapes.set(key, compileRowFactory(shape.map((id) => this.names.names[id])))
    }
    this.lastIds = shape
    this.lastFactory = this.shapes.get(key)
    return this.lastFactory
  }
}

/**
 * `(v) => ({ "name0": v[0], "name1": v[1], ... })`, compiled once per set of names. Names are
 * embedded as JSON string literals (always valid, inert JS); `__proto__` as a computed key so
 * that it stays an own property. Undefined where code generation is disabled.
 */
function compileRowFactory(names: string[]): RowFactory | undefined {
  const fields = names.map((name, i) => `${name === '__proto__' ? '["__proto__"]' : JSON.stringify(name)}: v[${i}]`)
  try {
    return new Function('v', `return {${fields.join(', ')}}`) as RowFactory
  } catch {
    return undefined
  }
}
