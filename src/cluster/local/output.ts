// Where an executor process's stdout/stderr go: split at the end-of-task marker, appended to the
// task's output file, and the tail of stderr kept for crash messages (heap out of memory, aborts).
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs'
import { dirname } from 'node:path'

/** Length of the longest suffix of `data` that is a prefix of `marker` (a marker split across chunks). */
function partialMarkerLength(data: Buffer, marker: Buffer): number {
  for (let length = Math.min(marker.length - 1, data.length); length > 0; length--) {
    if (data[data.length - length] !== marker[0]) continue
    if (data.subarray(data.length - length).equals(marker.subarray(0, length))) return length
  }
  return 0
}

/**
 * Splits one pipe of a child process: while a task's marker is expected, bytes go to the task
 * (`toTask` true); the marker itself is dropped; what follows it belongs to no task. A tail that
 * could be the start of the marker is held back until the next chunk decides.
 */
export class MarkerSplitter {
  private held: Buffer = Buffer.alloc(0)
  private marker: Buffer | undefined

  constructor(
    private readonly emit: (chunk: Buffer, toTask: boolean) => void,
    private readonly onMarker: () => void,
  ) {}

  /** Output from now on belongs to a task until `marker` shows up. */
  expect(marker: string): void {
    this.marker = Buffer.from(marker, 'utf8')
  }

  get expecting(): boolean {
    return this.marker !== undefined
  }

  push(chunk: Buffer): void {
    let data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk
    this.held = Buffer.alloc(0)
    if (this.marker !== undefined) {
      const at = data.indexOf(this.marker)
      if (at < 0) {
        const keep = partialMarkerLength(data, this.marker)
        if (data.length > keep) this.emit(data.subarray(0, data.length - keep), true)
        this.held = Buffer.from(data.subarray(data.length - keep))
        return
      }
      if (at > 0) this.emit(data.subarray(0, at), true)
      data = data.subarray(at + this.marker.length)
      this.marker = undefined
      this.onMarker()
    }
    if (data.length > 0) this.emit(data, false)
  }

  /** The task ended without its marker (the process died or was killed): hand over what is held. */
  stop(): void {
    if (this.held.length > 0) this.emit(this.held, this.marker !== undefined)
    this.held = Buffer.alloc(0)
    this.marker = undefined
  }
}

/** The last `limit` bytes written to a stream (stderr), for error messages. */
export class TailBuffer {
  private data: Buffer = Buffer.alloc(0)

  constructor(private readonly limit: number) {}

  append(chunk: Buffer): void {
    const joined = this.data.length > 0 ? Buffer.concat([this.data, chunk]) : chunk
    this.data = joined.length > this.limit ? Buffer.from(joined.subarray(joined.length - this.limit)) : joined
  }

  clear(): void {
    this.data = Buffer.alloc(0)
  }

  text(): string {
    return this.data.toString('utf8')
  }
}

/**
 * A task's output file, opened for appending. Write errors (disk full, directory removed) are
 * remembered, not thrown: losing a log must not crash the driver or change the task's outcome.
 */
export class TaskOutputFile {
  private readonly stream: WriteStream
  private failure: Error | undefined

  constructor(readonly path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true })
    } catch {
      // createWriteStream reports the problem through its error event.
    }
    this.stream = createWriteStream(path, { flags: 'a' })
    this.stream.on('error', (error) => {
      this.failure = error
    })
  }

  write(chunk: Buffer): void {
    if (this.failure === undefined && !this.stream.destroyed) this.stream.write(chunk)
  }

  /** Flushes and closes; resolves once every byte written so far is in the file (or the stream failed). */
  close(): Promise<Error | undefined> {
    return new Promise((resolve) => {
      if (this.stream.closed || this.stream.destroyed) {
        resolve(this.failure)
        return
      }
      this.stream.once('close', () => resolve(this.failure))
      this.stream.end()
    })
  }
}
