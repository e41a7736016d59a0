// What a source (CSV, JSON Lines, TFRecord, image folder) does with a bad record: throw it, or
// skip it and count it in the caller's ReadStats. One policy object per pass keeps them alike.
import { MaltError, type ErrorLocation } from '../../errors.js'
import type { OnError, ReadStats } from '../types.js'

/** How many skip reasons a {@link ReadStats} keeps; the count goes on past it. */
export const MAX_SKIP_REASONS = 20

/** Throws or records bad records for one pass over a source. */
export class RowErrorPolicy {
  constructor(
    private readonly onError: OnError,
    private readonly stats: ReadStats | undefined,
  ) {
    // A new pass starts new counts: the stats describe the latest read, not the sum of all.
    if (stats) {
      stats.rowsRead = 0
      stats.rowsSkipped = 0
      stats.skipped.length = 0
    }
  }

  /** True when bad records are skipped rather than thrown. */
  get skips(): boolean {
    return this.onError === 'skip'
  }

  /** Counts `count` good rows (one by default). */
  read(count = 1): void {
    if (this.stats) this.stats.rowsRead += count
  }

  /**
   * Reports a bad record: throws a MaltError with `code`, or (onError 'skip') counts it.
   * `message` already names the file and line.
   */
  bad(code: string, message: string, location: ErrorLocation, cause?: unknown): void {
    if (this.onError === 'throw') throw new MaltError(code, message, { location, cause })
    if (!this.stats) return
    this.stats.rowsSkipped++
    if (this.stats.skipped.length < MAX_SKIP_REASONS) this.stats.skipped.push(message)
  }
}

/** Checks an `onError` option, so a typo fails before any work. */
export function checkOnError(source: string, value: unknown): OnError {
  if (value === undefined) return 'throw'
  if (value === 'throw' || value === 'skip') return value
  throw new MaltError('DATA_BAD_OPTION', `${source}: expected onError to be "throw" or "skip", received ${JSON.stringify(value)}`)
}
