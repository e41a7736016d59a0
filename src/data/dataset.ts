// Dataset: an async, lazy, re-iterable pipeline of rows. Every operation returns a new
// Dataset; nothing is read until iteration, and iterating twice reads the source twice.
import { MaltError, describeValue } from '../errors.js'
import { SeededRandom } from '../util/random.js'

/** A function that starts one pass over the data. */
export type IteratorFactory<T> = () => AsyncIterator<T>

/** Options of {@link Dataset.batch}. */
export interface BatchOptions {
  /**
   * Drop the last batch when it has fewer than `size` rows.
   * @defaultValue false
   */
  dropRemainder?: boolean
}

/**
 * An async, composable, typed pipeline of rows.
 *
 * @example
 * const batches = data.csv('train.csv').shuffle(10_000, 42).batch(64).prefetch(2)
 * for await (const batch of batches) { ... }
 */
export class Dataset<T> implements AsyncIterable<T> {
  /** Wraps an iterator factory; sources use this. Each call of `factory` starts a new pass. */
  constructor(private readonly factory: IteratorFactory<T>) {}

  /** A dataset over values already in memory. */
  static fromArray<T>(items: readonly T[]): Dataset<T> {
    return new Dataset(async function* () {
      yield* items
    })
  }

  /** A dataset over an async generator function (called once per pass). */
  static fromGenerator<T>(generator: () => AsyncIterable<T> | Iterable<T>): Dataset<T> {
    return new Dataset(() => {
      const iterable = generator()
      if (Symbol.asyncIterator in iterable) return (iterable as AsyncIterable<T>)[Symbol.asyncIterator]()
      const iterator = (iterable as Iterable<T>)[Symbol.iterator]()
      return {
        next: async () => iterator.next(),
        return: async (value?: unknown) => iterator.return?.(value) ?? { done: true, value: undefined },
      } as AsyncIterator<T>
    })
  }

  /** Joins datasets one after the other. */
  static concat<T>(...datasets: Dataset<T>[]): Dataset<T> {
    return Dataset.fromGenerator(async function* () {
      for (const dataset of datasets) yield* dataset
    })
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.factory()
  }

  private derive<U>(generator: (source: AsyncIterable<T>) => AsyncGenerator<U>): Dataset<U> {
    return new Dataset(() => generator(this)[Symbol.asyncIterator]())
  }

  /** Applies `fn` to every row (it may be async). */
  map<U>(fn: (row: T, index: number) => U | Promise<U>): Dataset<U> {
    return this.derive(async function* (source) {
      let index = 0
      for await (const row of source) yield await fn(row, index++)
    })
  }

  /** Keeps the rows for which `predicate` is true. */
  filter(predicate: (row: T, index: number) => boolean | Promise<boolean>): Dataset<T> {
    return this.derive(async function* (source) {
      let index = 0
      for await (const row of source) if (await predicate(row, index++)) yield row
    })
  }

  /** Groups consecutive rows into arrays of `size`. */
  batch(size: number, options: BatchOptions = {}): Dataset<T[]> {
    requirePositiveInteger('batch', 'size', size)
    const dropRemainder = options.dropRemainder ?? false
    return this.derive(async function* (source) {
      let current: T[] = []
      for await (const row of source) {
        current.push(row)
        if (current.length === size) {
          yield current
          current = []
        }
      }
      if (current.length > 0 && !dropRemainder) yield current
    })
  }

  /**
   * Shuffles with a buffer of `bufferSize` rows (as tf.data does): each output is drawn at
   * random from the buffer. A buffer at least as large as the data gives a full shuffle.
   * With a `seed`, every pass gives the same order; without one, each pass differs.
   */
  shuffle(bufferSize: number, seed?: number): Dataset<T> {
    requirePositiveInteger('shuffle', 'bufferSize', bufferSize)
    return this.derive(async function* (source) {
      const random = new SeededRandom(seed ?? Math.floor(Math.random() * 2 ** 31))
      const buffer: T[] = []
      for await (const row of source) {
        if (buffer.length < bufferSize) {
          buffer.push(row)
          continue
        }
        const pick = random.nextInt(bufferSize)
        const out = buffer[pick]
        buffer[pick] = row
        yield out
      }
      // Drain the rest with a Fisher–Yates shuffle.
      for (let i = buffer.length - 1; i >= 0; i--) {
        const j = random.nextInt(i + 1)
        yield buffer[j]
        buffer[j] = buffer[i]
      }
    })
  }

  /**
   * Shard `index` of `count`: every `count`-th row starting at row `index`. The shards are
   * disjoint and together hold every row exactly once (data-parallel workers rely on this).
   * Shard before shuffling so that all workers agree on the assignment.
   */
  shard(index: number, count: number): Dataset<T> {
    requirePositiveInteger('shard', 'count', count)
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new MaltError('DATASET_BAD_ARGUMENT', `shard: expected index to be an integer in [0, ${count}), received ${describeValue(index)}`)
    }
    return this.filter((_row, rowIndex) => rowIndex % count === index)
  }

  /** Repeats the data `count` times, or forever when `count` is omitted. */
  repeat(count?: number): Dataset<T> {
    if (count !== undefined && (!Number.isInteger(count) || count < 0)) {
      throw new MaltError('DATASET_BAD_ARGUMENT', `repeat: expected count to be a non-negative integer, received ${describeValue(count)}`)
    }
    return Dataset.fromGenerator(() => this.passes(count))
  }

  private async *passes(count: number | undefined): AsyncGenerator<T> {
    for (let pass = 0; count === undefined || pass < count; pass++) {
      let rows = 0
      for await (const row of this) {
        rows++
        yield row
      }
      if (rows === 0) return // An empty dataset repeated forever is still empty.
    }
  }

  /** The first `count` rows; stops reading the source after them. */
  take(count: number): Dataset<T> {
    requireNonNegativeInteger('take', 'count', count)
    return this.derive(async function* (source) {
      if (count === 0) return
      let taken = 0
      for await (const row of source) {
        yield row
        if (++taken >= count) return
      }
    })
  }

  /** Everything after the first `count` rows. */
  skip(count: number): Dataset<T> {
    requireNonNegativeInteger('skip', 'count', count)
    return this.filter((_row, index) => index >= count)
  }

  /**
   * Reads ahead up to `bufferSize` rows in the background while the consumer works on the
   * current one. Memory stays bounded by the buffer; errors reach the consumer in order.
   */
  prefetch(bufferSize: number): Dataset<T> {
    requirePositiveInteger('prefetch', 'bufferSize', bufferSize)
    return new Dataset(() => prefetchIterator(this[Symbol.asyncIterator](), bufferSize))
  }

  /** Calls `fn` for every row. */
  async forEach(fn: (row: T, index: number) => void | Promise<void>): Promise<void> {
    let index = 0
    for await (const row of this) await fn(row, index++)
  }

  /** Reads every row into memory. */
  async toArray(): Promise<T[]> {
    const rows: T[] = []
    for await (const row of this) rows.push(row)
    return rows
  }

  /** Counts the rows (reads the whole data set). */
  async count(): Promise<number> {
    let rows = 0
    for await (const _row of this) rows++
    return rows
  }
}

function requirePositiveInteger(method: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new MaltError('DATASET_BAD_ARGUMENT', `${method}: expected ${name} to be a positive integer, received ${describeValue(value)}`)
  }
}

function requireNonNegativeInteger(method: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new MaltError('DATASET_BAD_ARGUMENT', `${method}: expected ${name} to be a non-negative integer, received ${describeValue(value)}`)
  }
}

type Settled<T> = { ok: true; result: IteratorResult<T> } | { ok: false; error: unknown }

/** Keeps up to `bufferSize` `next()` results in flight or ready, in order. */
function prefetchIterator<T>(source: AsyncIterator<T>, bufferSize: number): AsyncIterator<T> {
  const ready: Settled<T>[] = []
  let waiting: ((value: Settled<T>) => void) | undefined
  let pulling = false
  let finished = false
  let cancelled = false

  const deliver = (item: Settled<T>): void => {
    if (waiting) {
      const resolve = waiting
      waiting = undefined
      resolve(item)
    } else {
      ready.push(item)
    }
  }

  // One pull loop at a time: the source is read sequentially, ahead of the consumer.
  const pump = async (): Promise<void> => {
    if (pulling) return
    pulling = true
    try {
      while (!finished && !cancelled && ready.length < bufferSize) {
        let item: Settled<T>
        try {
          item = { ok: true, result: await source.next() }
        } catch (error) {
          item = { ok: false, error }
        }
        if (!item.ok || item.result.done) finished = true
        if (cancelled) return
        deliver(item)
      }
    } finally {
      pulling = false
    }
  }

  return {
    next: async () => {
      let item = ready.shift()
      if (!item) {
        if (finished) return { done: true, value: undefined }
        const pending = new Promise<Settled<T>>((resolve) => {
          waiting = resolve
        })
        void pump()
        item = await pending
      }
      void pump()
      if (!item.ok) throw item.error
      return item.result
    },
    return: async (value?: unknown) => {
      cancelled = true
      finished = true
      ready.length = 0
      await source.return?.()
      return { done: true, value: value as T }
    },
  }
}
