// Local file system storage (`file://` and plain paths), with atomic writes by temp file + rename.
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, basename, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { MaltError } from '../errors.js'
import type { AtomicWriter, ByteRange, Storage, StorageStat } from './base.js'

const READ_CHUNK_BYTES = 1 << 20

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? ((error as { code?: unknown }).code as string | undefined) : undefined
}

/** Turns a file system error into a MaltError that says what was wrong and what to do. */
export function storageError(error: unknown, path: string, action: 'read' | 'write' | 'list'): unknown {
  const location = { location: { file: path }, cause: error }
  switch (errnoOf(error)) {
    case 'ENOENT':
      return new MaltError('STORAGE_NOT_FOUND', `No such file or directory: ${path}`, location)
    case 'EISDIR':
      return new MaltError('STORAGE_IS_DIRECTORY', `${path} is a directory; expected a file path to ${action}`, location)
    case 'ENOTDIR':
      return action === 'list'
        ? new MaltError('STORAGE_NOT_DIRECTORY', `${path} is not a directory`, location)
        : new MaltError('STORAGE_NOT_DIRECTORY', `Cannot ${action} ${path}: a part of the path is a file, not a directory`, location)
    case 'EEXIST':
      return new MaltError('STORAGE_EXISTS', `Cannot ${action} ${path}: a file stands where a directory of the path must be`, location)
    case 'EACCES':
    case 'EPERM':
      return new MaltError('STORAGE_PERMISSION', `Permission denied: cannot ${action} ${path}`, location)
    case 'ENOSPC':
      return new MaltError('STORAGE_FULL', `No space left on the device while writing ${path}; nothing was written there`, location)
    default:
      return error
  }
}

/** Reads and writes the local file system. */
export class LocalStorage implements Storage {
  readonly scheme = 'file'

  async stat(path: string): Promise<StorageStat> {
    try {
      const info = await stat(path)
      return { size: info.size, isDirectory: info.isDirectory(), modifiedMs: info.mtimeMs }
    } catch (error) {
      throw storageError(error, path, 'read')
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
    try {
      const handle = await open(path, 'r')
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
    } catch (error) {
      throw storageError(error, path, 'read')
    }
  }

  createReadStream(path: string, range: ByteRange = {}): Readable {
    // A generator rather than fs.createReadStream: one place turns errors into MaltErrors, and
    // destroying the stream (a consumer that stops early) closes the file in `finally`.
    async function* chunks(): AsyncGenerator<Buffer> {
      let handle
      try {
        handle = await open(path, 'r')
      } catch (error) {
        throw storageError(error, path, 'read')
      }
      try {
        let position = Math.max(0, range.start ?? 0)
        const end = range.end ?? Number.POSITIVE_INFINITY
        while (position < end) {
          const length = Math.min(READ_CHUNK_BYTES, end - position)
          const buffer = Buffer.allocUnsafe(length)
          let bytesRead: number
          try {
            ;({ bytesRead } = await handle.read(buffer, 0, length, position))
          } catch (error) {
            throw storageError(error, path, 'read')
          }
          if (bytesRead === 0) return
          position += bytesRead
          yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead)
        }
      } finally {
        await handle.close()
      }
    }
    return Readable.from(chunks(), { objectMode: false, highWaterMark: READ_CHUNK_BYTES })
  }

  async writeFile(path: string, data: Uint8Array | string): Promise<void> {
    const temp = tempPathFor(path)
    try {
      await mkdir(dirname(path), { recursive: true })
      await writeFile(temp, data)
      await rename(temp, path)
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined)
      throw storageError(error, path, 'write')
    }
  }

  async createWriter(path: string): Promise<AtomicWriter> {
    try {
      await mkdir(dirname(path), { recursive: true })
    } catch (error) {
      throw storageError(error, path, 'write')
    }
    const temp = tempPathFor(path)
    const stream: WriteStream = createWriteStream(temp)
    let failure: unknown
    stream.on('error', (error) => {
      failure = storageError(error, path, 'write')
    })
    // Waits for room in the stream, or for its failure (a full disk never drains).
    const writable = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const onDrain = (): void => {
          stream.off('error', onError)
          resolve()
        }
        const onError = (error: Error): void => {
          stream.off('drain', onDrain)
          reject(storageError(error, path, 'write'))
        }
        stream.once('drain', onDrain)
        stream.once('error', onError)
      })
    const ended = (): Promise<void> =>
      new Promise((resolve, reject) => {
        stream.end((error?: Error | null) => (error ? reject(storageError(error, path, 'write')) : resolve()))
      })
    return {
      write: async (chunk) => {
        if (failure) throw failure
        if (!stream.write(chunk)) await writable()
      },
      commit: async () => {
        await ended()
        if (failure) throw failure
        try {
          await rename(temp, path)
        } catch (error) {
          await rm(temp, { force: true }).catch(() => undefined)
          throw storageError(error, path, 'write')
        }
      },
      abort: async () => {
        stream.destroy()
        await rm(temp, { force: true }).catch(() => undefined)
      },
    }
  }

  async list(path: string): Promise<string[]> {
    try {
      return (await readdir(path)).sort()
    } catch (error) {
      throw storageError(error, path, 'list')
    }
  }

  async mkdir(path: string): Promise<void> {
    try {
      await mkdir(path, { recursive: true })
    } catch (error) {
      throw storageError(error, path, 'write')
    }
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true })
  }
}
