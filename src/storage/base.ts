// The storage contract: every path Malt reads or writes goes through one of these, so that
// `s3://` or `hdfs://` can be added later as one file implementing this interface.
import type { Readable } from 'node:stream'

/** What `stat` tells about a stored object. */
export interface StorageStat {
  size: number
  isDirectory: boolean
  modifiedMs: number
}

/** A byte range for partial reads (Parquet footers, TFRecord offsets); `end` is exclusive. */
export interface ByteRange {
  start?: number
  end?: number
}

/** A sink that becomes visible at its path only when `commit()` succeeds (atomic write). */
export interface AtomicWriter {
  write(chunk: Uint8Array | string): Promise<void>
  /** Flushes and publishes the object at its final path. */
  commit(): Promise<void>
  /** Throws away everything written; the final path is untouched. */
  abort(): Promise<void>
}

/**
 * One storage scheme (`file`, later `s3`, `hdfs`). Paths passed in are the part after the
 * scheme (`/data/x.csv` for `file:///data/x.csv`). Implementations must make `writeFile` and
 * `createWriter` atomic: a reader never sees a half-written object.
 */
export interface Storage {
  readonly scheme: string
  stat(path: string): Promise<StorageStat>
  exists(path: string): Promise<boolean>
  readFile(path: string, range?: ByteRange): Promise<Uint8Array>
  createReadStream(path: string, range?: ByteRange): Readable
  writeFile(path: string, data: Uint8Array | string): Promise<void>
  createWriter(path: string): Promise<AtomicWriter>
  /** Names directly inside a directory, sorted. */
  list(path: string): Promise<string[]>
  mkdir(path: string): Promise<void>
  remove(path: string): Promise<void>
}
