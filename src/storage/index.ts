// Resolves a URI or plain path to the storage that serves it. A new scheme is one file
// implementing `Storage` plus one line in `schemes` below.
import { MaltError } from '../errors.js'
import type { Storage } from './base.js'
import { LocalStorage } from './local.js'

export type { AtomicWriter, ByteRange, Storage, StorageStat } from './base.js'
export { LocalStorage } from './local.js'

const schemes = new Map<string, Storage>([['file', new LocalStorage()]])

/** Adds (or replaces) the storage for a URI scheme, e.g. `registerStorage(new S3Storage())`. */
export function registerStorage(storage: Storage): void {
  schemes.set(storage.scheme, storage)
}

/** A storage and the path inside it. */
export interface ResolvedPath {
  storage: Storage
  path: string
  /** The string the user gave, for error messages. */
  uri: string
}

const schemePattern = /^([a-z][a-z0-9+.-]*):\/\//i

/** `file:///x`, `s3://bucket/key` or a plain local path → its storage and path. */
export function resolvePath(uri: string): ResolvedPath {
  const match = schemePattern.exec(uri)
  if (!match) return { storage: schemes.get('file')!, path: uri, uri }
  const scheme = match[1].toLowerCase()
  const storage = schemes.get(scheme)
  if (!storage) {
    throw new MaltError(
      'STORAGE_UNKNOWN_SCHEME',
      `Unknown storage scheme "${scheme}://" in ${uri}; known schemes: ${[...schemes.keys()].map((s) => `${s}://`).join(', ')}`,
    )
  }
  // As tfjs-node does: `file:///abs/dir` is absolute, `file://rel/dir` is relative to the cwd.
  const path = uri.slice(match[0].length)
  return { storage, path, uri }
}
