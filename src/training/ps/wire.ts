// The parameter server's wire protocol: binary, length-prefixed frames over TCP (TCP_NODELAY on
// both ends), read by accumulating chunks and copying each payload once into its destination.
//
// Every frame is a 20-byte header and a payload; all integers and floats are little-endian:
//
//   offset  size  field
//   0       4     u32  payload length in bytes (the header is not counted)
//   4       1     u8   op code (Op below)
//   5       1     u8   payload encoding (Encoding below)
//   6       2     u16  reserved, 0
//   8       4     u32  worker id (0 from the server)
//   12      8     u64  update counter (low u32, then high u32; below 2^53)
//   20      n     payload
//
// Payloads by encoding: FLOAT32 = n/4 raw float32; FLOAT16 = n/2 IEEE half floats (u16);
// TOP_K = k u32 indices then k float32 values (n = 8k); BYTES = op-specific bytes (nonce, HMAC,
// parameter count, stats as float64s, error text). Weights never travel as JSON or base64.
//
// A connection: the server sends HELLO (32-byte random nonce); the client answers AUTH (its
// worker id, HMAC-SHA256(secret, nonce)); the server answers WELCOME (counter = u; u32 parameter
// count, u8 rule: 0 add, 1 staleness; 3 bytes reserved) or ERROR and closes. Then the client sends
// requests and the server answers each, in order: PULL → CENTER (counter = u, the center as
// FLOAT32); COMMIT (counter = the u the worker last pulled, Δ in any tensor encoding) → COMMITTED
// (counter = u after it); COMMIT_PULL → CENTER; STATS → STATS_REPLY (float64s, STATS_FIELDS
// order). A refused request gets ERROR (u8 code length, code, UTF-8 message) in place of its
// answer; protocol violations close the connection after the ERROR.
import { endianness } from 'node:os'
import type { Socket } from 'node:net'
import { MaltError } from '../../errors.js'

/** Bytes before every payload. */
export const HEADER_BYTES = 20

/** What a frame asks or answers. */
export const Op = {
  HELLO: 1,
  AUTH: 2,
  WELCOME: 3,
  PULL: 4,
  CENTER: 5,
  COMMIT: 6,
  COMMITTED: 7,
  COMMIT_PULL: 8,
  STATS: 9,
  STATS_REPLY: 10,
  ERROR: 255,
} as const
export type OpCode = (typeof Op)[keyof typeof Op]

/** How a frame's payload is laid out. */
export const Encoding = { BYTES: 0, FLOAT32: 1, FLOAT16: 2, TOP_K: 3 } as const
export type EncodingCode = (typeof Encoding)[keyof typeof Encoding]

/** A decoded header. */
export interface FrameHeader {
  payloadBytes: number
  op: number
  encoding: number
  workerId: number
  counter: number
}

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name]))

/** `PULL`, `COMMIT`…, or `op 42` for an unknown code: for messages. */
export function opName(op: number): string {
  return OP_NAMES.get(op) ?? `op ${op}`
}

export function encodeHeader(header: FrameHeader): Buffer {
  const bytes = Buffer.allocUnsafe(HEADER_BYTES)
  bytes.writeUInt32LE(header.payloadBytes, 0)
  bytes.writeUInt8(header.op, 4)
  bytes.writeUInt8(header.encoding, 5)
  bytes.writeUInt16LE(0, 6)
  bytes.writeUInt32LE(header.workerId >>> 0, 8)
  bytes.writeUInt32LE(header.counter % 2 ** 32, 12)
  bytes.writeUInt32LE(Math.floor(header.counter / 2 ** 32), 16)
  return bytes
}

export function decodeHeader(bytes: Uint8Array): FrameHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES)
  return {
    payloadBytes: view.getUint32(0, true),
    op: view.getUint8(4),
    encoding: view.getUint8(5),
    workerId: view.getUint32(8, true),
    counter: view.getUint32(12, true) + view.getUint32(16, true) * 2 ** 32,
  }
}

const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE'

/** The bytes of a typed array as they go on the wire: a view on little-endian hosts (no copy), a swapped copy otherwise. */
export function wireBytes(values: Float32Array | Uint32Array | Uint16Array): Buffer {
  const view = Buffer.from(values.buffer, values.byteOffset, values.byteLength)
  if (HOST_IS_LITTLE_ENDIAN) return view
  const copy = Buffer.from(view)
  return values.BYTES_PER_ELEMENT === 2 ? copy.swap16() : copy.swap32()
}

/** Turns received little-endian elements of `width` bytes into host order, in place (nothing to do on little-endian hosts). */
export function toHostOrder(bytes: Uint8Array, width: 2 | 4): void {
  if (HOST_IS_LITTLE_ENDIAN) return
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (width === 2) view.swap16()
  else view.swap32()
}

/**
 * Writes one frame: the header and each payload part as separate buffers in one writev (corked), so
 * a Float32Array's bytes go out without being copied. `onWritten` runs once the bytes left this
 * process (or the write failed): until then the parts must not change. Returns the bytes written.
 */
export function writeFrame(
  socket: Socket,
  header: Omit<FrameHeader, 'payloadBytes'>,
  parts: readonly Uint8Array[] = [],
  onWritten?: () => void,
): number {
  const payloadBytes = parts.reduce((sum, part) => sum + part.byteLength, 0)
  const chunks = [encodeHeader({ ...header, payloadBytes }), ...parts]
  socket.cork()
  // The callback of the last chunk runs when the whole writev is done (or failed).
  chunks.forEach((chunk, i) => socket.write(chunk, i === chunks.length - 1 && onWritten !== undefined ? () => onWritten() : undefined))
  socket.uncork()
  return HEADER_BYTES + payloadBytes
}

const EMPTY = Buffer.alloc(0)

/** Payload of an ERROR frame: u8 code length, code, UTF-8 message. */
export function encodeError(code: string, message: string): Buffer {
  const codeBytes = Buffer.from(code.slice(0, 255), 'utf8').subarray(0, 255)
  return Buffer.concat([Buffer.from([codeBytes.length]), codeBytes, Buffer.from(message, 'utf8')])
}

export function decodeError(payload: Uint8Array): { code: string; message: string } {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  const codeLength = bytes.length > 0 ? bytes[0] : 0
  return { code: bytes.toString('utf8', 1, 1 + codeLength) || 'PS_REMOTE_ERROR', message: bytes.toString('utf8', 1 + codeLength) }
}

/** Options of a {@link FrameReader}. */
export interface FrameReaderOptions {
  /** Largest payload accepted now (it may change as a connection authenticates). */
  maxPayloadBytes(): number
  /** Where a frame's payload should land (exactly `payloadBytes` long), or undefined for a reader-owned buffer. */
  destinationFor?(header: FrameHeader): Uint8Array | undefined
  /** A whole frame; `payload` is valid until the next frame arrives (a reader-owned buffer is reused). */
  onFrame(header: FrameHeader, payload: Uint8Array): void
  /** Names the peer in errors, e.g. `worker 3 at 127.0.0.1:5000`. */
  peer: string
}

/**
 * Cuts a TCP byte stream into frames: the header is gathered in a 20-byte buffer, the payload is
 * copied once from the chunks into its destination (or into a scratch buffer that grows to the
 * largest frame seen and is reused, 8-byte aligned so typed-array views work). A frame cut short
 * by a closed connection is never delivered. Throws a MaltError on a frame over the limit.
 */
export class FrameReader {
  private readonly headerBytes = Buffer.alloc(HEADER_BYTES)
  private headerFill = 0
  private header: FrameHeader | undefined
  private payload: Uint8Array = new Uint8Array(0)
  private payloadFill = 0
  private scratch: Uint8Array = new Uint8Array(0)

  constructor(private readonly options: FrameReaderOptions) {}

  /** Bytes of the frame now being received (0 between frames): a frame in progress when the connection drops is lost. */
  get pendingBytes(): number {
    return this.headerFill + this.payloadFill
  }

  push(chunk: Uint8Array): void {
    let offset = 0
    while (offset < chunk.length) {
      if (this.header === undefined) {
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - offset)
        this.headerBytes.set(chunk.subarray(offset, offset + take), this.headerFill)
        this.headerFill += take
        offset += take
        if (this.headerFill === HEADER_BYTES) this.startPayload(decodeHeader(this.headerBytes))
      } else {
        const take = Math.min(this.payload.length - this.payloadFill, chunk.length - offset)
        this.payload.set(chunk.subarray(offset, offset + take), this.payloadFill)
        this.payloadFill += take
        offset += take
      }
      if (this.header !== undefined && this.payloadFill === this.payload.length) this.finishFrame(this.header)
    }
  }

  private startPayload(header: FrameHeader): void {
    const limit = this.options.maxPayloadBytes()
    if (header.payloadBytes > limit) {
      throw new MaltError(
        'PS_FRAME_TOO_LARGE',
        `${opName(header.op)} frame from ${this.options.peer} announces ${header.payloadBytes} payload bytes; at most ${limit} are accepted here`,
      )
    }
    this.header = header
    this.payloadFill = 0
    const destination = this.options.destinationFor?.(header)
    if (destination !== undefined && destination.byteLength === header.payloadBytes) {
      this.payload = destination
    } else {
      if (this.scratch.byteLength < header.payloadBytes) this.scratch = new Uint8Array(new Float64Array(Math.ceil(header.payloadBytes / 8)).buffer)
      this.payload = this.scratch.subarray(0, header.payloadBytes)
    }
  }

  private finishFrame(header: FrameHeader): void {
    const payload = this.payload
    this.header = undefined
    this.headerFill = 0
    this.payloadFill = 0
    this.payload = EMPTY
    this.options.onFrame(header, payload)
  }
}
