// Inference logging for monitoring and retraining (Hopsworks sends every inference to Kafka):
// sampled request/response records go to JSON Lines files (default) or a Redis Stream.
// Logging must never hurt serving: records are serialised when logged, buffered in memory up to
// a bound and written in the background; when the sink fails they are dropped and counted.
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { MaltError, describeValue } from '../errors.js'
import { SeededRandom } from '../util/random.js'

/** One inference, as logged. */
export interface InferenceRecord {
  /** When the request arrived, ISO 8601. */
  timestamp: string
  requestId: string
  model: string
  version: number
  api: 'tfserving' | 'kserve'
  /** The HTTP status answered. */
  status: number
  latencyMs: number
  /** The request body (typed arrays are written as arrays, bigints as numbers or, beyond 2^53, strings). */
  request: unknown
  response: unknown
}

/** Options of {@link createInferenceLogger}. */
export interface InferenceLogOptions {
  /**
   * A directory for JSON Lines files (a path or a `file://` URL), or
   * `redis://[user:password@]host:port[/db][?stream=name]` (or `rediss://`) for a Redis Stream.
   */
  target: string
  /** Share of requests logged, 0–1, drawn at random per request. @defaultValue 1 */
  sampleRate?: number
  /** Seed of the sampler, for a reproducible selection. @defaultValue the time and the process id */
  seed?: number
  /** Redis: the stream, unless the target's `?stream=` names one. @defaultValue 'malt:inference' */
  stream?: string
  /** Redis: the stream is trimmed to about this many entries (`XADD MAXLEN ~`). @defaultValue 1_000_000 */
  maxStreamLength?: number
  /** Files: a new file is started before one would grow past this size. @defaultValue 64 MiB */
  maxFileBytes?: number
  /** Serialised records waiting for the sink, in UTF-16 units (≈ bytes of JSON); beyond it records are dropped. @defaultValue 16 MiB */
  maxBufferedBytes?: number
  /** Where the warnings go (a sink down, the buffer full). @defaultValue a line on stderr */
  warn?: (message: string) => void
}

/** Writes sampled inference records to a sink in the background. */
export interface InferenceLogger {
  /**
   * Logs a request when sampled; `record` is only called for sampled ones (no cost otherwise).
   * Never throws, never delays the response: writes are buffered and flushed asynchronously;
   * when the sink is down, records are dropped (counted) with one warning, not queued without bound.
   * The record is serialised here, synchronously (a 32×784 body takes ~5 ms): call it once the
   * response is sent (Fastify's onResponse hook), not before.
   */
  log(record: () => InferenceRecord): void
  /** Records dropped so far (sink errors, full buffer, records that could not be serialised, logged after close). */
  readonly dropped: number
  /** Resolves once every record logged before the call was written (or dropped). */
  flush(): Promise<void>
  /** Flushes, then closes the file or the connection; later records are dropped. */
  close(): Promise<void>
}

const MiB = 1024 * 1024
const DEFAULTS = { sampleRate: 1, stream: 'malt:inference', maxStreamLength: 1_000_000, maxFileBytes: 64 * MiB, maxBufferedBytes: 16 * MiB }
/** XADDs per pipeline: large enough to amortise round trips, small enough to keep replies small. */
const PIPELINE_SIZE = 1000

/** Where records go: `write` returns how many of `lines` were not written (and why), or throws when none were. */
interface Sink {
  readonly description: string
  /** Why the sink cannot take records yet (Redis unreachable at start): warned as an outage. */
  readonly startupProblem?: string
  write(lines: string[]): Promise<{ failed: number; error?: unknown }>
  close(): Promise<void>
}

/**
 * Opens the sink `options.target` names and returns a logger writing to it. A bad target or
 * option is a MaltError here, before serving starts; a Redis that is down is not (the server
 * runs without its log, with a warning, and logging resumes when Redis is back).
 *
 * @example
 * ```ts
 * const log = await createInferenceLogger({ target: 'redis://127.0.0.1:6379?stream=malt:inference', sampleRate: 0.1 })
 * log.log(() => ({ timestamp, requestId, model: 'mnist', version: 2, api: 'kserve', status: 200, latencyMs, request: body, response }))
 * ```
 */
export async function createInferenceLogger(options: InferenceLogOptions): Promise<InferenceLogger> {
  const sampleRate = checkNumber('sampleRate', options.sampleRate ?? DEFAULTS.sampleRate, 0, 1, false)
  const maxBufferedBytes = checkNumber('maxBufferedBytes', options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes, 1, Infinity, true)
  const warn = options.warn ?? ((message: string) => process.stderr.write(`${message}\n`))
  if (typeof options.target !== 'string' || options.target === '') throw badTarget(options.target, 'expected a directory or a redis:// URL')
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(options.target)?.[1].toLowerCase()
  let sink: Sink
  if (scheme === 'redis' || scheme === 'rediss') {
    sink = await openRedisSink(options)
  } else if (scheme === undefined || scheme === 'file') {
    const dir = scheme === 'file' ? fileURLToPath(options.target) : resolve(options.target)
    sink = await FileSink.open(options.target, dir, checkNumber('maxFileBytes', options.maxFileBytes ?? DEFAULTS.maxFileBytes, 1, Infinity, true))
  } else {
    throw badTarget(options.target, `unknown scheme "${scheme}://" (expected a directory, file:// or redis://)`)
  }
  const random = new SeededRandom(options.seed ?? (Date.now() ^ (process.pid << 16)))
  return new BufferedLogger(sink, () => sampleRate === 1 || (sampleRate > 0 && random.next() < sampleRate), maxBufferedBytes, warn)
}

/** Buffers serialised records and hands them to the sink one batch at a time, in order. */
class BufferedLogger implements InferenceLogger {
  private buffer: string[] = []
  private bufferedChars = 0
  /** Records ever buffered, and ever handed to the sink: flush() waits for the second to reach the first. */
  private buffered = 0
  private handled = 0
  private writing: Promise<void> | undefined
  private scheduled = false
  private droppedCount = 0
  /** Reasons already warned about, so a sink outage warns once, not once per record. */
  private readonly warned = new Set<string>()
  private closing: Promise<void> | undefined

  constructor(
    private readonly sink: Sink,
    private readonly sampled: () => boolean,
    private readonly maxBufferedBytes: number,
    private readonly warn: (message: string) => void,
  ) {
    if (sink.startupProblem) this.drop(0, 'sink', sink.startupProblem)
  }

  get dropped(): number {
    return this.droppedCount
  }

  log(record: () => InferenceRecord): void {
    try {
      if (this.closing) return this.drop(1, 'closed', 'records logged after close() are dropped')
      if (!this.sampled()) return
      let line: string | undefined
      try {
        line = JSON.stringify(record(), jsonSafe)
      } catch (error) {
        return this.drop(1, 'record', `an inference record could not be made or serialised (${errorText(error)}); it is dropped`)
      }
      if (line === undefined) return this.drop(1, 'record', 'an inference record was undefined; it is dropped')
      if (this.bufferedChars + line.length > this.maxBufferedBytes) {
        return this.drop(1, 'buffer', `${this.maxBufferedBytes} bytes of records are waiting for ${this.sink.description}; new records are dropped until it catches up`)
      }
      this.buffer.push(line)
      this.bufferedChars += line.length
      this.buffered++
      this.schedule()
    } catch {
      // Nothing above should throw; this is the guarantee that logging never fails a request.
      this.droppedCount++
    }
  }

  async flush(): Promise<void> {
    const target = this.buffered
    while (this.handled < target) await this.writeNext()
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.flush()
      await this.sink.close()
    })()
    return this.closing
  }

  /** Writes on the next turn of the event loop: records logged meanwhile join the batch. */
  private schedule(): void {
    if (this.scheduled || this.writing) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      void this.writeNext()
    })
  }

  /** The write in flight, or a new one of everything buffered; one at a time keeps the order. */
  private writeNext(): Promise<void> {
    this.writing ??= this.writeBuffer().finally(() => {
      this.writing = undefined
      if (this.buffer.length > 0) this.schedule()
    })
    return this.writing
  }

  private async writeBuffer(): Promise<void> {
    const lines = this.buffer
    this.buffer = []
    this.bufferedChars = 0
    if (lines.length === 0) return
    try {
      const { failed, error } = await this.sink.write(lines)
      if (failed > 0) {
        this.drop(failed, 'sink', `${this.sink.description} failed to take ${failed} records (${errorText(error)}); failing records are dropped`)
      } else {
        // Written again: the next outage deserves its own warning.
        this.warned.delete('sink')
        this.warned.delete('buffer')
      }
    } catch (error) {
      this.drop(lines.length, 'sink', `${this.sink.description} is unavailable (${errorText(error)}); records are dropped until it is back`)
    } finally {
      this.handled += lines.length
    }
  }

  private drop(count: number, reason: string, message: string): void {
    this.droppedCount += count
    if (this.warned.has(reason)) return
    this.warned.add(reason)
    try {
      this.warn(`malt serve: inference log: ${message}`)
    } catch {
      // A failing warning must not fail the request nor the writer.
    }
  }
}

/** JSON.stringify replacer: typed arrays (tensors) as arrays, bigints (INT64) as numbers or, when inexact, strings. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return bigintJson(value)
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? bigintJson(v) : v))
  }
  return value
}

function bigintJson(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString()
}

/**
 * JSON Lines files `inference-<pid>-<start>.jsonl`: one writer per file (the pid), so workers
 * never interleave; a file is started when the current one would grow past `maxFileBytes`.
 */
class FileSink implements Sink {
  readonly description: string
  private size = 0

  private constructor(
    private readonly dir: string,
    private readonly maxFileBytes: number,
    private handle: FileHandle,
    private start: number,
  ) {
    this.description = `the inference log directory ${dir}`
  }

  static async open(target: string, dir: string, maxFileBytes: number): Promise<FileSink> {
    try {
      await mkdir(dir, { recursive: true })
    } catch (error) {
      throw badTarget(target, `cannot create the directory ${dir} (${errorText(error)})`, error)
    }
    try {
      const first = await openLogFile(dir, 0)
      return new FileSink(dir, maxFileBytes, first.handle, first.start)
    } catch (error) {
      throw badTarget(target, `cannot create a file in ${dir} (${errorText(error)})`, error)
    }
  }

  async write(lines: string[]): Promise<{ failed: number; error?: unknown }> {
    let written = 0
    let chunk: string[] = []
    let chunkBytes = 0
    try {
      for (const line of lines) {
        const bytes = Buffer.byteLength(line) + 1
        // A file always takes at least one line, so a record larger than the limit still lands.
        if (this.size + chunkBytes > 0 && this.size + chunkBytes + bytes > this.maxFileBytes) {
          if (chunk.length > 0) written += await this.append(chunk)
          chunk = []
          chunkBytes = 0
          await this.rotate()
        }
        chunk.push(line)
        chunkBytes += bytes
      }
      if (chunk.length > 0) written += await this.append(chunk)
      return { failed: 0 }
    } catch (error) {
      return { failed: lines.length - written, error }
    }
  }

  async close(): Promise<void> {
    await this.handle.datasync().catch(() => undefined) // best effort: the data is in the page cache anyway
    await this.handle.close()
  }

  /** Appends whole lines; on a failed write (disk full) the file is cut back to its last whole line. */
  private async append(lines: string[]): Promise<number> {
    const data = Buffer.from(`${lines.join('\n')}\n`)
    let offset = 0
    try {
      while (offset < data.length) offset += (await this.handle.write(data, offset)).bytesWritten
    } catch (error) {
      if (offset > 0) await this.handle.truncate(this.size).catch(() => undefined)
      throw error
    }
    this.size += data.length
    return lines.length
  }

  private async rotate(): Promise<void> {
    const next = await openLogFile(this.dir, this.start)
    const previous = this.handle
    this.handle = next.handle
    this.start = next.start
    this.size = 0
    await previous.close()
  }
}

/**
 * Opens a new file named after the process and its start time, strictly later than `after`
 * (the previous file's) so that names never repeat and sort in order.
 */
async function openLogFile(dir: string, after: number): Promise<{ handle: FileHandle; start: number }> {
  const start = Math.max(Date.now(), after + 1)
  const stamp = new Date(start).toISOString().replace(/[-:]/g, '')
  return { handle: await open(join(dir, `inference-${process.pid}-${stamp}.jsonl`), 'a'), start }
}

/**
 * A Redis Stream written with `XADD stream MAXLEN ~ cap * record <json>`, pipelined. The whole
 * record is one field holding its JSON: the request and response are nested values that stream
 * fields (flat strings) could not hold anyway, and one field keeps a stream entry byte for byte
 * the JSON Lines record, so one parser reads both sinks. Readers use XREAD / XREADGROUP.
 */
class RedisStreamSink implements Sink {
  readonly description: string

  constructor(
    private readonly client: Redis,
    private readonly stream: string,
    private readonly maxLength: number,
    address: string,
    readonly startupProblem?: string,
  ) {
    this.description = `the Redis stream "${stream}" at ${address}`
  }

  async write(lines: string[]): Promise<{ failed: number; error?: unknown }> {
    // The offline queue is off: while disconnected a write fails at once rather than piling up.
    if (this.client.status !== 'ready') throw new Error(`not connected, ${this.client.status}`)
    let failed = 0
    let firstError: unknown
    for (let start = 0; start < lines.length; start += PIPELINE_SIZE) {
      const pipeline = this.client.pipeline()
      for (const line of lines.slice(start, start + PIPELINE_SIZE)) pipeline.xadd(this.stream, 'MAXLEN', '~', this.maxLength, '*', 'record', line)
      try {
        for (const [error] of (await pipeline.exec()) ?? []) {
          if (error) {
            failed++
            firstError ??= error
          }
        }
      } catch (error) {
        return { failed: lines.length - start + failed, error }
      }
    }
    return { failed, error: firstError }
  }

  async close(): Promise<void> {
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect())
    else this.client.disconnect()
  }
}

async function openRedisSink(options: InferenceLogOptions): Promise<Sink> {
  const target = options.target
  let url: URL
  try {
    url = new URL(target)
  } catch (error) {
    throw badTarget(target, 'not a valid URL (expected redis://host:port[/db]?stream=name)', error)
  }
  const db = url.pathname === '' || url.pathname === '/' ? 0 : Number(url.pathname.slice(1))
  if (!Number.isInteger(db) || db < 0) throw badTarget(target, `the database must be a number, got "${url.pathname.slice(1)}"`)
  for (const key of url.searchParams.keys()) if (key !== 'stream') throw badTarget(target, `unknown parameter "${key}" (only "stream" is read)`)
  const stream = url.searchParams.get('stream') ?? options.stream ?? DEFAULTS.stream
  if (stream === '') throw badTarget(target, 'the stream name is empty')
  const maxLength = checkNumber('maxStreamLength', options.maxStreamLength ?? DEFAULTS.maxStreamLength, 1, Infinity, true)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1'
  const port = url.port === '' ? 6379 : Number(url.port)
  const client = new Redis({
    host,
    port,
    db,
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    tls: url.protocol === 'rediss:' ? {} : undefined,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: 5000,
    retryStrategy: (times) => Math.min(200 * times, 5000),
  })
  // Connection errors surface as dropped records (one warning per outage), not as events.
  client.on('error', () => undefined)
  const address = `${host}:${port}`
  let startupProblem: string | undefined
  try {
    await client.connect()
  } catch (error) {
    // A Redis that answers "no" (password, database) is a wrong target; one that does not answer may come back.
    if ((error as Error).name === 'ReplyError') {
      client.disconnect()
      throw badTarget(target, `Redis at ${address} refused the connection (${errorText(error)})`, error)
    }
    startupProblem = `Redis at ${address} is unreachable (${errorText(error)}); records are dropped until it answers`
  }
  return new RedisStreamSink(client, stream, maxLength, address, startupProblem)
}

function checkNumber(field: string, value: unknown, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    const range = max === Infinity ? `${integer ? 'an integer' : 'a number'} of at least ${min}` : `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`
    throw new MaltError('INFERENCE_LOG_BAD_OPTION', `inference log option ${field}: expected ${range}, received ${describeValue(value)}`, { location: { field } })
  }
  return value
}

function badTarget(target: unknown, why: string, cause?: unknown): MaltError {
  return new MaltError('INFERENCE_LOG_BAD_TARGET', `inference log target ${describeValue(target)}: ${why}`, { cause, location: { field: 'target' } })
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
