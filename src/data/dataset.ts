// Dataset: an async, lazy, re-iterable pipeline of rows. Every operation returns a new
// Dataset; nothing is read until iteration, and iterating twice reads the source twice.
import { MaltError, describeValue } from '../errors.js'
import { SeededRandom } from '../util/random.js'
import { requireInteger } from '../util/checks.js'

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

/** Options of {@link Dataset.shuffle}. */
export interface ShuffleOptions {
  /**
   * Shuffle differently on each pass over the data (each epoch), as tf.data does.
   * @defaultValue true
   */
  reshuffleEachIteration?: boolean
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
   * With a `seed` the orders are reproducible: the first pass always gives the same order,
   * and, as tf.data's `reshuffleEachIteration`, each later pass (epoch) a different but
   * equally reproducible one. Without a seed every pass differs from run to run.
   */
  shuffle(bufferSize: number, seed?: number, options: ShuffleOptions = {}): Dataset<T> {
    requirePositiveInteger('shuffle', 'bufferSize', bufferSize)
    if (seed !== undefined) requireInteger('DATASET_BAD_ARGUMENT', 'shuffle', 'seed', seed, 0)
    const reshuffle = options.reshuffleEachIteration ?? true
    let pass = 0
    return this.derive(async function* (source) {
      const base = seed ?? Math.floor(Math.random() * 2 ** 31)
      const random = new SeededRandom(reshuffle ? base + 0x9e3779b1 * pass++ : base)
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
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count) {
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
  requireInteger('DATASET_BAD_ARGUMENT', method, name, value, 1)
}

function requireNonNegativeInteger(method: string, name: string, value: number): void {
  requireInteger('DATASET_BAD_ARGUMENT', method, name, value, 0)
}

type Settled<T> = { ok: true; result: IteratorResult<T> } | { ok: false; error: unknown }

/**
 * Reads `source` sequentially, up to `bufferSize` results ahead of the consumer. Concurrent
 * `next()` calls (tf.data's own prefetch makes them) are answered in call order.
 */
function prefetchIterator<T>(source: AsyncIterator<T>, bufferSize: number): AsyncIterator<T> {
  const ready: Settled<T>[] = []
  const waiting: ((item: Settled<T>) => void)[] = []
  let pulling = false
  let finished = false
  let cancelled = false

  const deliver = (item: Settled<T>): void => {
    const resolve = waiting.shift()
    if (resolve) resolve(item)
    else ready.push(item)
  }

  // One pull loop at a time; it runs while consumers wait or the buffer has room.
  const pump = async (): Promise<void> => {
    if (pulling) return
    pulling = true
    try {
      while (!finished && !cancelled && (waiting.length > 0 || ready.length < bufferSize)) {
        let item: Settled<T>
        try {
          item = { ok: true, result: await source.next() }
        } catch (error) {
          item = { ok: false, error }
        }
        if (cancelled) return
        if (!item.ok || item.result.done) finished = true
        deliver(item)
      }
    } finally {
      pulling = false
    }
    // The end (or an error) answers every consumer still waiting.
    if (finished) while (waiting.length > 0) waiting.shift()!({ ok: true, result: { done: true, value: undefined } })
  }

  const unwrap = (item: Settled<T>): IteratorResult<T> => {
    if (!item.ok) throw item.error
    return item.result
  }

  return {
    next: async () => {
      const item = ready.shift()
      if (item) {
        void pump()
        return unwrap(item)
      }
      if (finished) return { done: true, value: undefined }
      const pending = new Promise<Settled<T>>((resolve) => waiting.push(resolve))
      void pump()
      return unwrap(await pending)
    },
    return: async (value?: unknown) => {
      cancelled = true
      finished = true
      ready.length = 0
      while (waiting.length > 0) waiting.shift()!({ ok: true, result: { done: true, value: undefined } })
      await source.return?.()
      return { done: true, value: value as T }
    },
  }
}
