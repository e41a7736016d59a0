// Counts this process's open file descriptors (Linux /proc), to check that a source closes
// its file when the consumer stops early.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'

/** The number of open file descriptors of this process. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length
}

/**
 * The descriptor count once `warmUp` (a first read of the same kind) has run and its streams
 * have closed: what Node opens once (and keeps) is open before counting.
 */
export async function baselineFdCount(warmUp: () => Promise<unknown>): Promise<number> {
  await warmUp()
  await new Promise((resolve) => setTimeout(resolve, 100))
  return openFdCount()
}

/**
 * Waits (up to `timeoutMs`) until at most `expected` descriptors are open, as streams close
 * asynchronously; returns the last count seen.
 */
export async function settledFdCount(expected: number, timeoutMs = 1000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let count = openFdCount()
  while (count > expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    count = openFdCount()
  }
  return count
}

/**
 * Iterates `data` until its first row (checked by `checkFirst`), breaks, and asserts that the
 * file the source had open is closed again. Use a file larger than the stream reads ahead
 * (a few MB), so that only closing on `break` can release it.
 */
export async function assertClosesOnBreak<T>(data: AsyncIterable<T> & { take(count: number): { toArray(): Promise<T[]> } }, checkFirst: (row: T) => void): Promise<void> {
  const before = await baselineFdCount(() => data.take(1).toArray())
  for await (const row of data) {
    checkFirst(row)
    assert.ok(openFdCount() > before, 'the file is open while reading')
    break
  }
  assert.equal(await settledFdCount(before), before)
}
