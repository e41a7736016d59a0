// TFRecord framing: `uint64 length, uint32 masked_crc(length), data, uint32 masked_crc(data)`,
// read as a stream with bounded memory (about one chunk plus one record) and written atomically.
import { createDeflate, createGunzip, createGzip, createInflate, type Deflate, type Gzip } from 'node:zlib'
import { once } from 'node:events'
import { pipeline, type Readable } from 'node:stream'
import { MaltError, describeValue } from '../../errors.js'
import { resolvePath, type AtomicWriter, type ResolvedPath } from '../../storage/index.js'
import type { OnError, ReadStats } from '../types.js'
import { formatCrc, maskedCrc32c, maskedCrc32c8 } from './crc32c.js'
import { MAX_SKIP_REASONS } from '../sources/row-errors.js'

/** Compression of a whole TFRecord file, as TF's `TFRecordOptions` (`''`, `'GZIP'`, `'ZLIB'`). */
export type TfRecordCompression = 'none' | 'gzip' | 'zlib'

/** Options for reading TFRecord files. */
export interface RecordReadOptions {
  /**
   * Check both CRCs of every record. Off saves ~1 ms per MB but reads garbage silently.
   * @defaultValue true
   */
  verify?: boolean
  /**
   * `'gzip'` (or `'zlib'`) for files written with TF's `TFRecordOptions(compression_type=
   * 'GZIP')` (`'ZLIB'`). Byte offsets in errors then count decompressed bytes.
   * @defaultValue 'none'
   */
  compression?: TfRecordCompression
  /**
   * `'skip'` drops records whose data CRC fails (counted in `stats`). A bad length CRC or a
   * truncated record always throws: after it, where the next record starts is unknown.
   * @defaultValue 'throw'
   */
  onError?: OnError
  /** Filled while reading: rows read, records skipped and why. */
  stats?: ReadStats
}

const COMPRESSIONS: readonly string[] = ['none', 'gzip', 'zlib']

/** Throws `TFRECORD_BAD_ARGUMENT` for an unknown `compression` or `onError`; `fn` names the caller. */
export function checkRecordReadOptions(fn: string, options: RecordReadOptions): void {
  if (options.compression !== undefined && !COMPRESSIONS.includes(options.compression)) {
    throw new MaltError('TFRECORD_BAD_ARGUMENT', `${fn}: expected compression to be 'none', 'gzip' or 'zlib', received ${describeValue(options.compression)}`)
  }
  const onError: OnError | undefined = options.onError
  if (onError !== undefined && onError !== 'throw' && onError !== 'skip') {
    throw new MaltError('TFRECORD_BAD_ARGUMENT', `${fn}: expected onError to be 'throw' or 'skip', received ${describeValue(onError)}`)
  }
}

/** Receives one record: its bytes are `buf[start, end)`; `offset` is its byte offset in the file. */
export type RecordVisitor = (buf: Uint8Array, start: number, end: number, index: number, offset: number) => void

const HEADER = 12
const FOOTER = 4
/** Larger records are refused: Node buffers and our concatenation stay below 2 GiB. */
const MAX_RECORD = 0x7fff0000


function readU32(buf: Uint8Array, pos: number): number {
  return (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0
}

function writeU32(buf: Uint8Array, pos: number, value: number): void {
  buf[pos] = value & 0xff
  buf[pos + 1] = (value >>> 8) & 0xff
  buf[pos + 2] = (value >>> 16) & 0xff
  buf[pos + 3] = (value >>> 24) & 0xff
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  // A Buffer like the stream's chunks, so that decoders see one array type (faster).
  const out = Buffer.allocUnsafe(total)
  let pos = 0
  for (const part of parts) {
    out.set(part, pos)
    pos += part.length
  }
  return out
}

/**
 * Splits a byte stream into records, fed chunk by chunk. Records that fit in one chunk are
 * passed as views of it (no copy); only a record that spans chunks is assembled.
 */
export class RecordParser {
  private pending: Uint8Array[] = []
  private pendingBytes = 0
  private need = HEADER
  /** File offset of the first byte not yet visited (the first pending byte). */
  private offset = 0
  private index = 0

  constructor(
    private readonly file: string,
    private readonly verify = true,
    private readonly onError: OnError = 'throw',
    private readonly stats?: ReadStats,
  ) {}

  /** Parses what `chunk` completes and calls `visit` for each good record. */
  push(chunk: Uint8Array, visit: RecordVisitor): void {
    let from = 0
    // First complete a record begun in earlier chunks, copying only its own bytes.
    while (this.pendingBytes > 0 && from < chunk.length) {
      const take = Math.min(this.need - this.pendingBytes, chunk.length - from)
      this.pending.push(chunk.subarray(from, from + take))
      this.pendingBytes += take
      from += take
      if (this.pendingBytes < this.need) return
      const joined = concat(this.pending, this.pendingBytes)
      this.pending = []
      this.pendingBytes = 0
      this.parse(joined, 0, visit)
    }
    if (from < chunk.length) this.parse(chunk, from, visit)
  }

  /** Visits the whole records in `buf[pos...]`; keeps the rest as pending. */
  private parse(buf: Uint8Array, pos: number, visit: RecordVisitor): void {
    const end = buf.length
    this.need = HEADER
    while (end - pos >= HEADER) {
      const length = this.readLength(buf, pos)
      const total = HEADER + length + FOOTER
      if (end - pos < total) {
        this.need = total
        break
      }
      const dataStart = pos + HEADER
      const dataEnd = dataStart + length
      if (this.verify && readU32(buf, dataEnd) !== maskedCrc32c(buf, dataStart, dataEnd)) {
        const stored = readU32(buf, dataEnd)
        const message = `data CRC mismatch (stored ${formatCrc(stored)}, computed ${formatCrc(maskedCrc32c(buf, dataStart, dataEnd))})`
        if (this.onError === 'throw') throw this.corrupt(this.offset, message)
        this.skipped(this.offset, message)
      } else {
        visit(buf, dataStart, dataEnd, this.index, this.offset)
      }
      this.index++
      this.offset += total
      pos += total
    }
    if (pos < end) {
      this.pending = [buf.subarray(pos)]
      this.pendingBytes = end - pos
    }
  }

  /** Call at the end of the stream: throws if it stopped inside a record. */
  finish(): void {
    if (this.pendingBytes === 0) return
    const what =
      this.pendingBytes < HEADER
        ? `a record header needs ${HEADER} bytes, found ${this.pendingBytes}`
        : `the record needs ${this.need} bytes (${this.need - HEADER - FOOTER} of data), found ${this.pendingBytes}`
    throw this.corrupt(this.offset, `truncated record: the file ends early: ${what}`)
  }

  /** Records seen so far, skipped ones included. */
  get records(): number {
    return this.index
  }

  private readLength(buf: Uint8Array, pos: number): number {
    const lo = readU32(buf, pos)
    const hi = readU32(buf, pos + 4)
    if (this.verify) {
      const stored = readU32(buf, pos + 8)
      const computed = maskedCrc32c8(buf, pos)
      if (stored !== computed) {
        let message = `length CRC mismatch (stored ${formatCrc(stored)}, computed ${formatCrc(computed)})`
        if (this.offset === 0 && buf[pos] === 0x1f && buf[pos + 1] === 0x8b) {
          message += `; the file starts like gzip data: read it with { compression: 'gzip' }`
        }
        throw this.corrupt(this.offset, message)
      }
    }
    const length = hi * 4294967296 + lo
    if (length > MAX_RECORD) {
      throw new MaltError(
        this.verify ? 'TFRECORD_RECORD_TOO_LARGE' : 'TFRECORD_CORRUPT',
        `${this.where(this.offset)}: record length ${length} is over the ${MAX_RECORD} bytes this reader supports`,
        { location: { file: this.file, offset: this.offset } },
      )
    }
    return length
  }

  private where(offset: number): string {
    return `${this.file}: record ${this.index} at byte offset ${offset}`
  }

  private corrupt(offset: number, message: string): MaltError {
    return recordError('TFRECORD_CORRUPT', this.file, this.index, offset, message)
  }

  private skipped(offset: number, message: string): void {
    if (!this.stats) return
    this.stats.rowsSkipped++
    if (this.stats.skipped.length < MAX_SKIP_REASONS) this.stats.skipped.push(`${this.where(offset)}: ${message}`)
  }
}

/** An error about one record: `file: record N at byte offset M: message`. */
export function recordError(code: string, file: string, index: number, offset: number, message: string, cause?: unknown): MaltError {
  return new MaltError(code, `${file}: record ${index} at byte offset ${offset}: ${message}`, { cause, location: { file, offset } })
}

/**
 * The files behind `uris`: each one a file, or a directory whose visible files (names not
 * starting with `.` or `_`, as Hadoop/Spark outputs) are read in sorted order.
 */
export async function expandRecordFiles(uris: string | readonly string[]): Promise<string[]> {
  const files: string[] = []
  for (const uri of typeof uris === 'string' ? [uris] : uris) {
    const { storage, path } = resolvePath(uri)
    if (!(await storage.stat(path)).isDirectory) {
      files.push(uri)
      continue
    }
    const base = uri.endsWith('/') ? uri.slice(0, -1) : uri
    for (const name of await storage.list(path)) {
      if (name.startsWith('.') || name.startsWith('_')) continue
      if (!(await storage.stat(`${path.replace(/\/$/, '')}/${name}`)).isDirectory) files.push(`${base}/${name}`)
    }
  }
  return files
}

/** The byte stream of a TFRecord file, decompressed when asked. */
export function openRecordStream(resolved: ResolvedPath, compression: TfRecordCompression = 'none'): Readable {
  const raw = resolved.storage.createReadStream(resolved.path)
  if (compression === 'none') return raw
  const inflate = compression === 'gzip' ? createGunzip({ chunkSize: 1 << 18 }) : createInflate({ chunkSize: 1 << 18 })
  return pipeline(raw, inflate, () => {})
}

function isZlibError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('Z_')
}

/** The records completed by one chunk of a file, with their indexes and byte offsets. */
export interface RecordBatch {
  /** Views into the chunk read: copy one to keep it without keeping the chunk. */
  records: Uint8Array[]
  indexes: number[]
  offsets: number[]
}

/** Yields the records of one file, one batch per chunk read (keeps the per-record cost low). */
export async function* readRecordBatches(uri: string, options: RecordReadOptions = {}): AsyncGenerator<RecordBatch> {
  const resolved = resolvePath(uri)
  const parser = new RecordParser(uri, options.verify ?? true, options.onError ?? 'throw', options.stats)
  const stream = openRecordStream(resolved, options.compression)
  let batch: RecordBatch = { records: [], indexes: [], offsets: [] }
  const collect: RecordVisitor = (buf, start, end, index, offset) => {
    batch.records.push(buf.subarray(start, end))
    batch.indexes.push(index)
    batch.offsets.push(offset)
  }
  try {
    for await (const chunk of stream) {
      parser.push(chunk as Uint8Array, collect)
      if (batch.records.length > 0) {
        yield batch
        batch = { records: [], indexes: [], offsets: [] }
      }
    }
  } catch (error) {
    throw isZlibError(error) ? badCompressed(uri, options.compression, error) : error
  } finally {
    stream.destroy()
  }
  parser.finish()
}

/** Calls `visit` for every record of one file (fastest path: no allocation per record). */
export async function scanRecords(uri: string, visit: RecordVisitor, options: RecordReadOptions = {}): Promise<number> {
  const resolved = resolvePath(uri)
  const parser = new RecordParser(uri, options.verify ?? true, options.onError ?? 'throw', options.stats)
  const stream = openRecordStream(resolved, options.compression)
  try {
    for await (const chunk of stream) parser.push(chunk as Uint8Array, visit)
  } catch (error) {
    throw isZlibError(error) ? badCompressed(uri, options.compression, error) : error
  } finally {
    stream.destroy()
  }
  parser.finish()
  return parser.records
}

function badCompressed(uri: string, compression: TfRecordCompression | undefined, cause: unknown): MaltError {
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new MaltError('TFRECORD_CORRUPT', `${uri}: expected ${compression}-compressed TFRecord data (compression: '${compression}'), zlib says: ${reason}`, {
    cause,
    location: { file: uri },
  })
}

/** Frames one record: header, data, footer. */
export function encodeRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + data.length + FOOTER)
  frameInto(out, 0, data)
  return out
}

function frameInto(out: Uint8Array, pos: number, data: Uint8Array): number {
  writeU32(out, pos, data.length >>> 0)
  writeU32(out, pos + 4, Math.floor(data.length / 4294967296))
  writeU32(out, pos + 8, maskedCrc32c(out, pos, pos + 8))
  out.set(data, pos + HEADER)
  writeU32(out, pos + HEADER + data.length, maskedCrc32c(data))
  return pos + HEADER + data.length + FOOTER
}

/** Writes records to one file; nothing is visible at the path until `commit()`. */
export interface RecordWriter {
  /** Records written so far. */
  readonly count: number
  write(data: Uint8Array): Promise<void>
  /** Flushes and publishes the file; returns the number of records. */
  commit(): Promise<number>
  /** Discards everything; the path is left as it was. */
  abort(): Promise<void>
}

const WRITE_BUFFER = 1 << 20

/** Opens an atomic TFRecord writer (through the storage's `createWriter`). */
export async function createRecordWriter(uri: string, options: { compression?: TfRecordCompression } = {}): Promise<RecordWriter> {
  const resolved = resolvePath(uri)
  const target = await resolved.storage.createWriter(resolved.path)
  const sink = options.compression === 'gzip' || options.compression === 'zlib' ? compressSink(target, options.compression) : { write: (b: Uint8Array) => target.write(b), end: async () => {}, destroy: async () => {} }
  // A fresh buffer after each flush: the storage may still hold the previous one.
  let buffer = new Uint8Array(WRITE_BUFFER)
  let used = 0
  let count = 0
  const flush = async (): Promise<void> => {
    if (used === 0) return
    const full = buffer.subarray(0, used)
    buffer = new Uint8Array(WRITE_BUFFER)
    used = 0
    await sink.write(full)
  }
  return {
    get count() {
      return count
    },
    async write(data) {
      const size = HEADER + data.length + FOOTER
      if (used + size > buffer.length) await flush()
      if (size > buffer.length) await sink.write(encodeRecord(data))
      else used = frameInto(buffer, used, data)
      count++
    },
    async commit() {
      await flush()
      await sink.end()
      await target.commit()
      return count
    },
    async abort() {
      await sink.destroy()
      await target.abort()
    },
  }
}

/** Pipes writes through gzip or zlib into `target`, honouring backpressure both ways. */
function compressSink(target: AtomicWriter, compression: 'gzip' | 'zlib'): { write(b: Uint8Array): Promise<void>; end(): Promise<void>; destroy(): Promise<void> } {
  const stream: Gzip | Deflate = compression === 'gzip' ? createGzip({ chunkSize: 1 << 18 }) : createDeflate({ chunkSize: 1 << 18 })
  const pump = (async () => {
    for await (const chunk of stream) await target.write(chunk as Uint8Array)
  })()
  pump.catch(() => {}) // Observed through `write` and `end`; never left unhandled.
  return {
    async write(bytes) {
      if (!stream.write(bytes)) await Promise.race([once(stream, 'drain'), pump])
    },
    async end() {
      stream.end()
      await pump
    },
    async destroy() {
      stream.destroy()
      await pump.catch(() => {})
    },
  }
}
