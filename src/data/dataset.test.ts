// Dataset operations: order, determinism, sharding invariants, bounded prefetch, errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Dataset } from './dataset.js'
import { MaltError } from '../errors.js'

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

test('map, filter, take, skip compose lazily and in order', async () => {
  const out = await Dataset.fromArray(range(20))
    .map((x) => x * 2)
    .filter((x) => x % 3 === 0)
    .skip(1)
    .take(3)
    .toArray()
  assert.deepEqual(out, [6, 12, 18])
})

test('take stops reading the source', async () => {
  let pulled = 0
  const source = Dataset.fromGenerator(function* () {
    for (let i = 0; i < 1000; i++) {
      pulled++
      yield i
    }
  })
  assert.deepEqual(await source.take(5).toArray(), [0, 1, 2, 3, 4])
  assert.ok(pulled <= 6, `pulled ${pulled} rows for take(5)`)
})

test('batch groups rows and keeps or drops the remainder', async () => {
  assert.deepEqual(await Dataset.fromArray(range(7)).batch(3).toArray(), [[0, 1, 2], [3, 4, 5], [6]])
  assert.deepEqual(await Dataset.fromArray(range(7)).batch(3, { dropRemainder: true }).toArray(), [[0, 1, 2], [3, 4, 5]])
})

test('shuffle is a permutation, deterministic for a seed, different across seeds', async () => {
  const data = Dataset.fromArray(range(500))
  const a = await data.shuffle(100, 7).toArray()
  const b = await data.shuffle(100, 7).toArray()
  const c = await data.shuffle(100, 8).toArray()
  assert.deepEqual(a, b)
  assert.notDeepEqual(a, c)
  assert.deepEqual([...a].sort((x, y) => x - y), range(500))
  assert.notDeepEqual(a, range(500))
  // A full-size buffer moves early elements far: the first output is not always near the start.
  const full = await data.shuffle(500, 3).toArray()
  assert.ok(full.slice(0, 50).some((x) => x > 250))
})

test('shuffle gives each pass (epoch) a new order, the same sequence of orders for a seed', async () => {
  const shuffled = Dataset.fromArray(range(100)).shuffle(100, 5)
  const epochs = [await shuffled.toArray(), await shuffled.toArray()]
  assert.notDeepEqual(epochs[0], epochs[1])
  const again = Dataset.fromArray(range(100)).shuffle(100, 5)
  assert.deepEqual([await again.toArray(), await again.toArray()], epochs)
  const fixed = Dataset.fromArray(range(100)).shuffle(100, 5, { reshuffleEachIteration: false })
  assert.deepEqual(await fixed.toArray(), await fixed.toArray())
  assert.throws(() => Dataset.fromArray([1]).shuffle(10, 1.5), /shuffle: expected seed to be a non-negative integer, received 1.5/)
})

test('shards are disjoint and their union is the whole data set', async () => {
  const data = Dataset.fromArray(range(103))
  const shards = await Promise.all([0, 1, 2, 3].map((i) => data.shard(i, 4).toArray()))
  const all = shards.flat().sort((x, y) => x - y)
  assert.deepEqual(all, range(103))
  assert.equal(new Set(all).size, 103)
  assert.deepEqual(shards.map((s) => s.length), [26, 26, 26, 25])
  assert.throws(() => data.shard(4, 4), (error: unknown) => error instanceof MaltError && /index.*\[0, 4\).*4/.test(error.message))
})

test('repeat repeats a finite number of times or forever', async () => {
  assert.deepEqual(await Dataset.fromArray([1, 2]).repeat(3).toArray(), [1, 2, 1, 2, 1, 2])
  assert.deepEqual(await Dataset.fromArray([1, 2]).repeat().take(5).toArray(), [1, 2, 1, 2, 1])
  assert.deepEqual(await Dataset.fromArray<number>([]).repeat().toArray(), [])
})

test('a dataset is re-iterable: each pass reads the source again', async () => {
  let passes = 0
  const data = Dataset.fromGenerator(function* () {
    passes++
    yield* [1, 2, 3]
  })
  assert.deepEqual(await data.toArray(), [1, 2, 3])
  assert.deepEqual(await data.toArray(), [1, 2, 3])
  assert.equal(passes, 2)
})

test('prefetch reads ahead in the background, at most bufferSize rows', async () => {
  let produced = 0
  const source = new Dataset<number>(() => ({
    next: async () => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      return produced < 50 ? { done: false, value: produced++ } : { done: true, value: undefined }
    },
  }))
  const iterator = source.prefetch(4)[Symbol.asyncIterator]()
  assert.deepEqual(await iterator.next(), { done: false, value: 0 })
  // While the consumer is busy, the buffer fills up to its bound and no further.
  await new Promise((resolve) => setTimeout(resolve, 60))
  assert.ok(produced >= 4 && produced <= 6, `produced ${produced} with a buffer of 4`)
  const rest: number[] = []
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) rest.push(next.value)
  assert.deepEqual(rest, range(50).slice(1))
})

test('prefetch passes source errors to the consumer in order', async () => {
  const failing = Dataset.fromGenerator(async function* () {
    yield 1
    yield 2
    throw new Error('disk on fire')
  })
  const seen: number[] = []
  await assert.rejects(async () => {
    for await (const x of failing.prefetch(8)) seen.push(x)
  }, /disk on fire/)
  assert.deepEqual(seen, [1, 2])
})

test('bad arguments are rejected with what was expected and received', () => {
  const data = Dataset.fromArray([1])
  assert.throws(() => data.batch(0), /batch: expected size to be a positive integer, received 0/)
  assert.throws(() => data.shuffle(1.5), /shuffle: expected bufferSize to be a positive integer, received 1.5/)
  assert.throws(() => data.take(-1), /take: expected count to be a non-negative integer, received -1/)
  assert.throws(() => data.prefetch(0), /prefetch/)
})

test('prefetch answers concurrent next() calls in order (as tf.data prefetch makes them)', async () => {
  const iterator = Dataset.fromArray(range(10)).prefetch(2)[Symbol.asyncIterator]()
  const results = await Promise.all(range(12).map(() => iterator.next()))
  assert.deepEqual(
    results.map((result) => (result.done ? 'done' : result.value)),
    [...range(10), 'done', 'done'],
  )
})
