// The protobuf messages TensorBoard reads from event files (Event, Summary, the hparams plugin's
// data), encoded by hand from a schema in code. Every trial's executor writes events as it
// starts, and protobufjs cost each executor ~55 ms there (import plus building the schema: bench
// search-parallel); these few messages need only the wire format's varints and length prefixes.
// Field numbers are TensorFlow's (tensorflow/core/util/event.proto, core/framework/{summary,
// tensor,tensor_shape}.proto), TensorBoard's (plugins/hparams/{api,plugin_data}.proto) and
// google/protobuf/struct.proto's. Tests decode the output with protobufjs and an independent
// copy of the schema (test/helpers/tensorboard-protos.ts), and with TensorBoard itself.

type ScalarKind = 'double' | 'float' | 'int64' | 'int32' | 'bool' | 'string' | 'bytes'

/** One field: its number, what it holds, and whether it is repeated (floats packed) or in a oneof. */
interface Field {
  readonly no: number
  readonly kind: ScalarKind | 'enum' | 'message' | 'map'
  /** Message fields (and map values): the message's schema. */
  readonly message?: () => MessageSchema
  /** Enum fields: value names to numbers. */
  readonly values?: Readonly<Record<string, number>>
  readonly repeated?: boolean
  /** A oneof member is written even when it holds its type's default (proto3 presence). */
  readonly oneof?: boolean
}

/** A message type: its fields by their .proto names (snake_case). */
export type MessageSchema = Readonly<Record<string, Field>>

const WIRE_VARINT = 0
const WIRE_FIXED64 = 1
const WIRE_LENGTH_DELIMITED = 2
const WIRE_FIXED32 = 5

/** Appends protobuf wire-format pieces to a list of chunks. */
class WireWriter {
  private readonly chunks: Uint8Array[] = []
  private readonly scratch = Buffer.alloc(8)

  varint(value: number | bigint): void {
    // int64/int32/enum: negatives are ten-byte two's complement varints, as protobuf writes them.
    let rest = BigInt.asUintN(64, BigInt(value))
    const bytes: number[] = []
    do {
      const low = Number(rest & 0x7fn)
      rest >>= 7n
      bytes.push(rest > 0n ? low | 0x80 : low)
    } while (rest > 0n)
    this.chunks.push(Uint8Array.from(bytes))
  }

  tag(no: number, wireType: number): void {
    this.varint(no * 8 + wireType)
  }

  double(value: number): void {
    this.scratch.writeDoubleLE(value, 0)
    this.chunks.push(Uint8Array.from(this.scratch))
  }

  float(value: number): void {
    this.scratch.writeFloatLE(value, 0)
    this.chunks.push(Uint8Array.from(this.scratch.subarray(0, 4)))
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length)
    this.chunks.push(value)
  }

  finish(): Uint8Array {
    return Buffer.concat(this.chunks)
  }
}

function isDefault(value: unknown): boolean {
  if (typeof value === 'number') return value === 0 && !Object.is(value, -0)
  if (typeof value === 'string') return value === ''
  if (typeof value === 'boolean') return !value
  if (value instanceof Uint8Array) return value.length === 0
  return false
}

function writeScalar(writer: WireWriter, field: Field, name: string, value: unknown): void {
  const expect = (type: string): never => {
    throw new TypeError(`protobuf field ${name}: expected ${type}, received ${typeof value}`)
  }
  switch (field.kind) {
    case 'double':
      if (typeof value !== 'number') expect('a number')
      writer.tag(field.no, WIRE_FIXED64)
      writer.double(value as number)
      return
    case 'float':
      if (typeof value !== 'number') expect('a number')
      writer.tag(field.no, WIRE_FIXED32)
      writer.float(value as number)
      return
    case 'int64':
    case 'int32':
      if (!Number.isSafeInteger(value)) expect('an integer')
      writer.tag(field.no, WIRE_VARINT)
      writer.varint(value as number)
      return
    case 'bool':
      if (typeof value !== 'boolean') expect('a boolean')
      writer.tag(field.no, WIRE_VARINT)
      writer.varint(value ? 1 : 0)
      return
    case 'string':
      if (typeof value !== 'string') expect('a string')
      writer.tag(field.no, WIRE_LENGTH_DELIMITED)
      writer.bytes(Buffer.from(value as string, 'utf8'))
      return
    case 'bytes':
      if (!(value instanceof Uint8Array)) expect('a Uint8Array')
      writer.tag(field.no, WIRE_LENGTH_DELIMITED)
      writer.bytes(value as Uint8Array)
      return
    case 'enum': {
      const number = typeof value === 'string' ? field.values?.[value] : undefined
      if (number === undefined) expect(`one of ${Object.keys(field.values ?? {}).join(', ')}`)
      writer.tag(field.no, WIRE_VARINT)
      writer.varint(number as number)
      return
    }
    default:
      throw new TypeError(`protobuf field ${name}: ${field.kind} is not a scalar`)
  }
}

function writeField(writer: WireWriter, field: Field, name: string, value: unknown): void {
  if (field.kind === 'map') {
    // A map is a repeated entry message { key = 1; value = 2 }.
    const entry: MessageSchema = { key: { no: 1, kind: 'string' }, value: { no: 2, kind: 'message', message: field.message } }
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      writeField(writer, { no: field.no, kind: 'message', message: () => entry }, name, { key, value: item })
    }
    return
  }
  if (field.repeated === true) {
    if (!Array.isArray(value)) throw new TypeError(`protobuf field ${name}: expected a list`)
    if (field.kind === 'float') {
      if (value.length === 0) return
      const packed = new WireWriter()
      for (const item of value) packed.float(item as number)
      writer.tag(field.no, WIRE_LENGTH_DELIMITED)
      writer.bytes(packed.finish())
      return
    }
    for (const item of value) writeField(writer, { ...field, repeated: false, oneof: true }, name, item)
    return
  }
  if (field.kind === 'message') {
    const schema = field.message?.()
    if (schema === undefined) throw new TypeError(`protobuf field ${name}: no message schema`)
    writer.tag(field.no, WIRE_LENGTH_DELIMITED)
    writer.bytes(encodeMessage(schema, value as Record<string, unknown>))
    return
  }
  if (field.oneof !== true && (isDefault(value) || (field.kind === 'enum' && typeof value === 'string' && field.values?.[value] === 0))) return
  writeScalar(writer, field, name, value)
}

/**
 * Encodes a plain object (snake_case field names as in the .proto files, enum values by name)
 * as `schema`'s wire bytes. Fields are written in field-number order; unknown names throw.
 */
export function encodeMessage(schema: MessageSchema, value: Record<string, unknown>): Uint8Array {
  const writer = new WireWriter()
  const present = Object.entries(value).filter(([, item]) => item !== undefined && item !== null)
  const fields = present.map(([name, item]) => {
    const field = schema[name]
    if (field === undefined) throw new TypeError(`protobuf: no field ${name} in this message (fields: ${Object.keys(schema).join(', ')})`)
    return { name, field, item }
  })
  fields.sort((a, b) => a.field.no - b.field.no)
  for (const { name, field, item } of fields) writeField(writer, field, name, item)
  return writer.finish()
}

// google/protobuf/struct.proto (hparam values; the struct kind is never written).
const LIST_VALUE: MessageSchema = { values: { no: 1, kind: 'message', repeated: true, message: () => VALUE } }
const VALUE: MessageSchema = {
  null_value: { no: 1, kind: 'enum', values: { NULL_VALUE: 0 }, oneof: true },
  number_value: { no: 2, kind: 'double', oneof: true },
  string_value: { no: 3, kind: 'string', oneof: true },
  bool_value: { no: 4, kind: 'bool', oneof: true },
  list_value: { no: 6, kind: 'message', message: () => LIST_VALUE },
}

// tensorflow: event.proto, summary.proto, tensor.proto, tensor_shape.proto (the fields Malt writes).
const TENSOR_SHAPE: MessageSchema = { dim: { no: 2, kind: 'message', repeated: true, message: () => ({ size: { no: 1, kind: 'int64' } }) } }
const TENSOR: MessageSchema = {
  dtype: { no: 1, kind: 'enum', values: { DT_INVALID: 0, DT_FLOAT: 1 } },
  tensor_shape: { no: 2, kind: 'message', message: () => TENSOR_SHAPE },
  float_val: { no: 5, kind: 'float', repeated: true },
}
const SUMMARY_METADATA: MessageSchema = {
  plugin_data: { no: 1, kind: 'message', message: () => ({ plugin_name: { no: 1, kind: 'string' }, content: { no: 2, kind: 'bytes' } }) },
  display_name: { no: 2, kind: 'string' },
  summary_description: { no: 3, kind: 'string' },
}
const SUMMARY_VALUE: MessageSchema = {
  tag: { no: 1, kind: 'string' },
  simple_value: { no: 2, kind: 'float', oneof: true },
  tensor: { no: 8, kind: 'message', message: () => TENSOR },
  metadata: { no: 9, kind: 'message', message: () => SUMMARY_METADATA },
}
const SUMMARY: MessageSchema = { value: { no: 1, kind: 'message', repeated: true, message: () => SUMMARY_VALUE } }
const EVENT: MessageSchema = {
  wall_time: { no: 1, kind: 'double' },
  step: { no: 2, kind: 'int64' },
  file_version: { no: 3, kind: 'string', oneof: true },
  summary: { no: 5, kind: 'message', message: () => SUMMARY },
}

// tensorboard/plugins/hparams: api.proto and plugin_data.proto.
const HPARAM_INFO: MessageSchema = {
  name: { no: 1, kind: 'string' },
  display_name: { no: 2, kind: 'string' },
  description: { no: 3, kind: 'string' },
  type: { no: 4, kind: 'enum', values: { DATA_TYPE_UNSET: 0, DATA_TYPE_STRING: 1, DATA_TYPE_BOOL: 2, DATA_TYPE_FLOAT64: 3 } },
  domain_discrete: { no: 5, kind: 'message', message: () => LIST_VALUE },
  domain_interval: { no: 6, kind: 'message', message: () => ({ min_value: { no: 1, kind: 'double' }, max_value: { no: 2, kind: 'double' } }) },
}
const METRIC_INFO: MessageSchema = {
  name: { no: 1, kind: 'message', message: () => ({ group: { no: 1, kind: 'string' }, tag: { no: 2, kind: 'string' } }) },
  display_name: { no: 3, kind: 'string' },
  description: { no: 4, kind: 'string' },
  dataset_type: { no: 5, kind: 'enum', values: { DATASET_UNKNOWN: 0, DATASET_TRAINING: 1, DATASET_VALIDATION: 2 } },
}
const EXPERIMENT: MessageSchema = {
  description: { no: 1, kind: 'string' },
  user: { no: 2, kind: 'string' },
  time_created_secs: { no: 3, kind: 'double' },
  hparam_infos: { no: 4, kind: 'message', repeated: true, message: () => HPARAM_INFO },
  metric_infos: { no: 5, kind: 'message', repeated: true, message: () => METRIC_INFO },
  name: { no: 6, kind: 'string' },
}
const SESSION_START_INFO: MessageSchema = {
  hparams: { no: 1, kind: 'map', message: () => VALUE },
  group_name: { no: 4, kind: 'string' },
  start_time_secs: { no: 5, kind: 'double' },
}
const SESSION_END_INFO: MessageSchema = {
  status: { no: 1, kind: 'enum', values: { STATUS_UNKNOWN: 0, STATUS_SUCCESS: 1, STATUS_FAILURE: 2, STATUS_RUNNING: 3 } },
  end_time_secs: { no: 2, kind: 'double' },
}
const HPARAMS_PLUGIN_DATA: MessageSchema = {
  version: { no: 1, kind: 'int32' },
  experiment: { no: 2, kind: 'message', message: () => EXPERIMENT },
  session_start_info: { no: 3, kind: 'message', message: () => SESSION_START_INFO },
  session_end_info: { no: 4, kind: 'message', message: () => SESSION_END_INFO },
}

/** The message types Malt writes. */
export const tensorBoardSchemas = {
  event: EVENT,
  summary: SUMMARY,
  hparamsPluginData: HPARAMS_PLUGIN_DATA,
} as const
