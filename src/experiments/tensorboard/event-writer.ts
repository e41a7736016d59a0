// Writes TensorBoard event files (`events.out.tfevents.*`): Event protobufs framed as TFRecords,
// appended whole so that a TensorBoard tailing the file never sees a half-written batch.
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { MaltError, describeValue } from '../../errors.js'
import { encodeRecord } from '../../data/tfrecord/framing.js'
import { storageError } from '../../storage/local.js'
import { encodeMessage, tensorBoardSchemas } from './protos.js'

/** Options of {@link EventWriter.create}. */
export interface EventWriterOptions {
  /**
   * Appended to the file name, e.g. `.hparams` (TensorFlow's `filename_suffix`).
   * @defaultValue ''
   */
  filenameSuffix?: string
  /**
   * Queued records are appended at the latest this long after the first of them was queued.
   * @defaultValue 1000
   */
  flushIntervalMs?: number
  /**
   * Queued records are appended as soon as this many are waiting.
   * @defaultValue 100
   */
  maxQueuedRecords?: number
}

const DEFAULTS = { filenameSuffix: '', flushIntervalMs: 1000, maxQueuedRecords: 100 } as const

/** TensorBoard reads the format version from the first Event of every file. */
export const FILE_VERSION = 'brain.Event:2'

/** A float tensor in a summary value (the hparams plugin stores an empty one: shape `[0]`). */
export interface TensorInput {
  dtype: 'float32'
  shape: readonly number[]
  values: readonly number[]
}

/** The plugin a summary belongs to and its own bytes (`SummaryMetadata`). */
export interface SummaryMetadataInput {
  pluginName: string
  /** The plugin's serialized data. @defaultValue empty */
  content?: Uint8Array
  displayName?: string
  description?: string
}

/** One `Summary.Value`: a tag with a scalar (`simpleValue`) or a tensor, and optional metadata. */
export interface SummaryValueInput {
  tag: string
  simpleValue?: number
  tensor?: TensorInput
  metadata?: SummaryMetadataInput
}

/** Distinguishes files that one process opens in the same second (TensorFlow's global uid). */
let fileCounter = 0

/**
 * An open event file in `logdir`. Calls queue records; they reach the file on `flush()`,
 * `close()`, every `flushIntervalMs` and every `maxQueuedRecords`. Close it when done: an
 * unflushed queue keeps the process alive until its timer fires, then it is written.
 *
 * @example
 * const writer = await EventWriter.create('runs/lr=0.01')
 * writer.scalars(1, { loss: 0.7, accuracy: 0.61 })
 * await writer.close()
 */
export class EventWriter {
  private queue: Uint8Array[] = []
  private timer: NodeJS.Timeout | undefined
  /** Appends run one after another, in queue order. */
  private writing: Promise<void> = Promise.resolve()
  private failure: unknown
  private closed = false

  private constructor(
    /** The event file's absolute or relative path. */
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly options: Required<EventWriterOptions>,
  ) {}

  /** Creates `logdir` (and parents) and a new event file in it, starting with the version Event. */
  static async create(logdir: string, options: EventWriterOptions = {}): Promise<EventWriter> {
    const settings = { ...DEFAULTS, ...options }
    checkOptions(settings)
    try {
      await mkdir(logdir, { recursive: true })
    } catch (error) {
      throw storageError(error, logdir, 'write')
    }
    const seconds = Math.floor(Date.now() / 1000)
    for (;;) {
      const path = join(logdir, `events.out.tfevents.${seconds}.${hostname()}.${process.pid}.${fileCounter++}${settings.filenameSuffix}`)
      let handle: FileHandle
      try {
        handle = await open(path, 'ax') // `x`: never append to a file another writer owns.
      } catch (error) {
        if ((error as { code?: unknown }).code === 'EEXIST') continue
        throw storageError(error, path, 'write')
      }
      const writer = new EventWriter(path, handle, settings)
      writer.queueEvent({ wall_time: Date.now() / 1000, file_version: FILE_VERSION })
      await writer.flush()
      return writer
    }
  }

  /** Queues one scalar. `value` is written as it is: NaN and ±Infinity show as such in TensorBoard. */
  scalar(tag: string, value: number, step: number, wallTimeMs?: number): void {
    this.writeSummary([{ tag, simpleValue: value }], step, wallTimeMs)
  }

  /** Queues several scalars of one step in one Event, e.g. `scalars(3, { loss: 0.4, acc: 0.8 })`. */
  scalars(step: number, record: Record<string, number>, wallTimeMs?: number): void {
    this.writeSummary(Object.entries(record).map(([tag, simpleValue]) => ({ tag, simpleValue })), step, wallTimeMs)
  }

  /** Queues one Event holding `values` (any plugin's summaries, e.g. the hparams plugin's). */
  writeSummary(values: readonly SummaryValueInput[], step: number, wallTimeMs?: number): void {
    this.checkOpen()
    if (!Number.isSafeInteger(step)) badArgument('step', 'an integer', step)
    if (wallTimeMs !== undefined && !Number.isFinite(wallTimeMs)) badArgument('wallTimeMs', 'a finite number of milliseconds', wallTimeMs)
    const value = values.map(summaryValue)
    this.queueEvent({ wall_time: (wallTimeMs ?? Date.now()) / 1000, step, summary: { value } })
  }

  /** Appends every queued record; resolves when they are in the file (not fsynced). */
  async flush(): Promise<void> {
    this.startAppend()
    await this.writing
    this.throwFailure()
  }

  /** Flushes and closes the file. Calling it again does nothing. */
  async close(): Promise<void> {
    if (this.closed) return
    try {
      await this.flush()
    } finally {
      this.closed = true
      await this.handle.close()
    }
  }

  private queueEvent(event: Record<string, unknown>): void {
    this.queue.push(encodeRecord(encodeMessage(tensorBoardSchemas.event, event)))
    if (this.queue.length >= this.options.maxQueuedRecords) this.startAppend()
    else this.timer ??= setTimeout(() => this.startAppend(), this.options.flushIntervalMs)
  }

  /** Moves the queue into one append, chained after the appends before it. */
  private startAppend(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.queue.length === 0) return
    const batch = Buffer.concat(this.queue)
    this.queue = []
    this.writing = this.writing.then(async () => {
      if (this.failure !== undefined) return
      try {
        // One write call with O_APPEND; loop only if the kernel took part of it.
        for (let done = 0; done < batch.length; ) done += (await this.handle.write(batch, done)).bytesWritten
      } catch (error) {
        this.failure = storageError(error, this.path, 'write')
      }
    })
  }

  private checkOpen(): void {
    this.throwFailure()
    if (this.closed) throw new MaltError('TENSORBOARD_WRITER_CLOSED', `${this.path}: the event writer is closed; expected writes before close()`)
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure
  }
}

function checkOptions(options: Required<EventWriterOptions>): void {
  if (typeof options.filenameSuffix !== 'string' || options.filenameSuffix.includes('/')) {
    badArgument('filenameSuffix', 'a string without "/"', options.filenameSuffix)
  }
  if (!(options.flushIntervalMs > 0) || !Number.isFinite(options.flushIntervalMs)) {
    badArgument('flushIntervalMs', 'a positive number of milliseconds', options.flushIntervalMs)
  }
  if (!Number.isSafeInteger(options.maxQueuedRecords) || options.maxQueuedRecords < 1) {
    badArgument('maxQueuedRecords', 'a positive integer', options.maxQueuedRecords)
  }
}

/** A `Summary.Value` as the protobuf schema names its fields. */
function summaryValue(input: SummaryValueInput, index: number): Record<string, unknown> {
  const at = `values[${index}]`
  if (typeof input.tag !== 'string' || input.tag === '') badArgument(`${at}.tag`, 'a non-empty string', input.tag)
  const out: Record<string, unknown> = { tag: input.tag }
  if (input.simpleValue !== undefined) {
    if (typeof input.simpleValue !== 'number') badArgument(`${at}.simpleValue (tag ${input.tag})`, 'a number', input.simpleValue)
    if (input.tensor !== undefined) badArgument(`${at} (tag ${input.tag})`, 'either simpleValue or tensor', 'both')
    out.simple_value = input.simpleValue
  }
  if (input.tensor !== undefined) {
    const { shape, values } = input.tensor
    const size = shape.reduce((a, b) => a * b, 1)
    if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0) || size !== values.length) {
      badArgument(`${at}.tensor (tag ${input.tag})`, `a shape of non-negative integers whose product is values.length (${values.length})`, shape)
    }
    out.tensor = { dtype: 'DT_FLOAT', tensor_shape: { dim: shape.map((n) => ({ size: n })) }, float_val: values }
  }
  if (input.metadata !== undefined) {
    const { pluginName, content, displayName, description } = input.metadata
    out.metadata = {
      plugin_data: { plugin_name: pluginName, content: content ?? new Uint8Array(0) },
      display_name: displayName ?? '',
      summary_description: description ?? '',
    }
  }
  return out
}

function badArgument(field: string, expected: string, received: unknown): never {
  throw new MaltError('TENSORBOARD_BAD_ARGUMENT', `EventWriter: expected ${field} to be ${expected}, received ${describeValue(received)}`, { location: { field } })
}
