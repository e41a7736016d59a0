// Local file system storage (`file://` and plain paths), with atomic writes by temp file + rename.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { MaltError } from '../errors.js'
import type { AtomicWriter, ByteRange, Storage, StorageStat } from './base.js'

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
}

function notFound(path: string, cause: unknown): MaltError {
  return new MaltError('STORAGE_NOT_FOUND', `No such file or directory: ${path}`, {
    cause,
    location: { file: path },
  })
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code
}

/** Reads and writes the local file system. */
export class LocalStorage implements Storage {
  readonly scheme = 'file'

  async stat(path: string): Promise<StorageStat> {
    try {
      const info = await stat(path)
      return { size: info.size, isDirectory: info.isDirectory(), modifiedMs: info.mtimeMs }
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw notFound(path, error)
      throw error
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await stat(path)
      return true
    } catch {
      return false
    }
  }

  async readFile(path: string, range: ByteRange = {}): Promise<Uint8Array> {
    let handle
    try {
      handle = await open(path, 'r')
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw notFound(path, error)
      throw error
    }
    try {
      const size = (await handle.stat()).size
      const start = Math.max(0, range.start ?? 0)
      const end = Math.min(size, range.end ?? size)
      const buffer = Buffer.alloc(Math.max(0, end - start))
      let filled = 0
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, start + filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      return buffer.subarray(0, filled)
    } finally {
      await handle.close()
    }
  }

  createReadStream(path: string, range: ByteRange = {}): Readable {
    const stream = createReadStream(path, {
      start: range.start,
      end: range.end === undefined ? undefined : range.end - 1,
      highWaterMark: 1 << 20,
    })
    // Turn ENOENT into a MaltError so callers and the CLI print a clear message.
    const original = stream.emit.bind(stream)
    stream.emit = ((event: string, ...args: unknown[]) => {
      if (event === 'error' && isErrno(args[0], 'ENOENT')) return original('error', notFound(path, args[0]))
      return original(event, ...args)
    }) as typeof stream.emit
    return stream
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    await mkdir(dirname(path), { recursive: true })
    const temp = tempPathFor(path)
    try {
      await writeFile(temp, data)
      await rename(temp, path)
    } catch (error) {
      await rm(temp, { force: true })
      throw error
    }
  }

  async createWriter(path: string): Promise<AtomicWriter> {
    await mkdir(dirname(path), { recursive: true })
    const temp = tempPathFor(path)
    const stream: WriteStream = createWriteStream(temp)
    let failure: unknown
    stream.on('error', (error) => {
      failure = error
    })
    const ended = (): Promise<void> =>
      new Promise((resolve, reject) => {
        stream.end((error?: Error | null) => (error ? reject(error) : resolve()))
      })
    return {
      write: async (chunk) => {
        if (failure) throw failure
        if (!stream.write(chunk)) {
          await new Promise<void>((resolve) => stream.once('drain', () => resolve()))
        }
      },
      commit: async () => {
        await ended()
        if (failure) throw failure
        await rename(temp, path)
      },
      abort: async () => {
        stream.destroy()
        await rm(temp, { force: true })
      },
    }
  }

  async list(path: string): Promise<string[]> {
    try {
      return (await readdir(path)).sort()
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw notFound(path, error)
      throw error
    }
  }

  async mkdir(path: string): Promise<void> {
    await mkdir(path, { recursive: true })
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true })
  }
}
