// A parameter server's checkpoint (its center and update counter, written atomically so a restarted
// server resumes from the last whole one) and the raw weight files servers start from.
//
// Checkpoint layout, little-endian: bytes 0-7 magic "MALTPSCK", 8-11 u32 format version (1),
// 12-15 u32 parameter count n, 16-23 u64 update counter (low u32, high u32), then n float32.
import { open, readFile } from 'node:fs/promises'
import { MaltError } from '../../errors.js'
import { writeFileAtomic } from '../../storage/durable.js'
import type { ParameterRange } from './slices.js'
import { toHostOrder, wireBytes } from './wire.js'

const MAGIC = 'MALTPSCK'
const VERSION = 1
const HEADER_BYTES = 24

/** What a checkpoint holds. */
export interface CheckpointState {
  center: Float32Array
  updates: number
}

/** The checkpoint file's bytes: header and a copy of `center` (taken now, so the caller may go on changing it). */
export function encodeCheckpoint(center: Float32Array, updates: number): Buffer {
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + center.byteLength)
  bytes.write(MAGIC, 0, 'latin1')
  bytes.writeUInt32LE(VERSION, 8)
  bytes.writeUInt32LE(center.length, 12)
  bytes.writeUInt32LE(updates % 2 ** 32, 16)
  bytes.writeUInt32LE(Math.floor(updates / 2 ** 32), 20)
  bytes.set(wireBytes(center), HEADER_BYTES)
  return bytes
}

/** Writes a checkpoint atomically: temp file, fsync, rename, fsync of the directory. */
export async function writeCheckpoint(path: string, center: Float32Array, updates: number): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(center, updates))
}

function corrupt(path: string, message: string, offset?: number): MaltError {
  return new MaltError('PS_CHECKPOINT_CORRUPT', `Parameter server checkpoint ${path}: ${message}`, { location: { file: path, offset } })
}

/** Reads a checkpoint; undefined when there is no file at `path`. Throws PS_CHECKPOINT_CORRUPT on a bad magic, version or length. */
export async function readCheckpoint(path: string): Promise<CheckpointState | undefined> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new MaltError('PS_CHECKPOINT_UNREADABLE', `Cannot read parameter server checkpoint ${path}: ${(error as Error).message}`, { cause: error, location: { file: path } })
  }
  if (bytes.length < HEADER_BYTES) throw corrupt(path, `the file has ${bytes.length} bytes; a checkpoint has a ${HEADER_BYTES}-byte header`)
  const magic = bytes.toString('latin1', 0, 8)
  if (magic !== MAGIC) throw corrupt(path, `expected the magic "${MAGIC}" at byte 0, found ${JSON.stringify(magic)}; not a parameter server checkpoint`, 0)
  const version = bytes.readUInt32LE(8)
  if (version !== VERSION) throw corrupt(path, `format version ${version} is not supported (expected ${VERSION})`, 8)
  const count = bytes.readUInt32LE(12)
  const expected = HEADER_BYTES + count * 4
  if (bytes.length !== expected) {
    throw corrupt(path, `the header says ${count} parameters, so ${expected} bytes; the file has ${bytes.length} (truncated or overwritten?)`, 12)
  }
  // Copied into a buffer of its own: readFile's may be shared and start at any byte offset.
  const center = new Float32Array(count)
  const centerBytes = new Uint8Array(center.buffer)
  centerBytes.set(bytes.subarray(HEADER_BYTES))
  toHostOrder(centerBytes, 4)
  return { center, updates: bytes.readUInt32LE(16) + bytes.readUInt32LE(20) * 2 ** 32 }
}

/**
 * Reads `range` (all of it by default) of a raw little-endian float32 weights file — the flat
 * vector the trainers write — reading only those bytes. Throws PS_BAD_WEIGHTS when the file is
 * not whole float32s or the range is outside it.
 */
export async function readWeightsSlice(path: string, range?: ParameterRange): Promise<Float32Array> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    throw new MaltError('PS_BAD_WEIGHTS', `Cannot open the initial weights ${path}: ${(error as Error).message}`, { cause: error, location: { file: path } })
  }
  try {
    const { size } = await handle.stat()
    if (size % 4 !== 0) throw new MaltError('PS_BAD_WEIGHTS', `${path}: a weights file is raw float32, a multiple of 4 bytes; this one has ${size}`, { location: { file: path } })
    const total = size / 4
    const { start, end } = range ?? { start: 0, end: total }
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end <= total)) {
      throw new MaltError('PS_BAD_WEIGHTS', `${path} holds ${total} float32 values; the range [${start}, ${end}) is not inside it`, { location: { file: path } })
    }
    const values = new Float32Array(end - start)
    const bytes = new Uint8Array(values.buffer)
    let filled = 0
    while (filled < bytes.length) {
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, start * 4 + filled)
      if (bytesRead === 0) throw new MaltError('PS_BAD_WEIGHTS', `${path} ended at byte ${start * 4 + filled} while reading [${start}, ${end})`, { location: { file: path } })
      filled += bytesRead
    }
    toHostOrder(bytes, 4)
    return values
  } finally {
    await handle.close()
  }
}
