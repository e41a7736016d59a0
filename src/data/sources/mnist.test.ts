// Tests of the built-in MNIST / Fashion-MNIST: split sizes, balance, value range, disjoint
// splits, determinism, and that a second pass reuses the parsed classes.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { Dataset } from '../dataset.js'
import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_SPLIT_SIZES,
  MNIST_CLASS_SIZES,
  MNIST_IMAGE_SIZE,
  MNIST_SPLIT_SIZES,
  fashionMnist,
  mnist,
  type MnistRow,
} from './mnist.js'

interface Summary {
  count: number
  perClass: number[]
  hashes: Set<string>
  /** Labels of the first 30 rows. */
  head: number[]
  min: number
  max: number
  badShapes: number
  first: MnistRow
}

async function summarise(data: Dataset<MnistRow>): Promise<Summary> {
  const summary: Summary = { count: 0, perClass: new Array(10).fill(0), hashes: new Set(), head: [], min: Infinity, max: -Infinity, badShapes: 0, first: undefined! }
  for await (const row of data) {
    if (summary.count === 0) summary.first = row
    summary.count++
    summary.perClass[row.label]++
    if (summary.head.length < 30) summary.head.push(row.label)
    if (!(row.image instanceof Float32Array) || row.image.length !== MNIST_IMAGE_SIZE) summary.badShapes++
    for (const value of row.image) {
      if (value < summary.min) summary.min = value
      if (value > summary.max) summary.max = value
    }
    summary.hashes.add(createHash('sha1').update(row.image).digest('hex'))
  }
  return summary
}

function intersection(a: Set<string>, b: Set<string>): number {
  let shared = 0
  for (const hash of a) if (b.has(hash)) shared++
  return shared
}

const roundRobin = Array.from({ length: 30 }, (_, i) => i % 10)

describe('mnist', () => {
  test('train and test: documented sizes, class-balanced, interleaved, in [0, 1], disjoint', async () => {
    const train = await summarise(mnist({ split: 'train' }))
    const test = await summarise(mnist({ split: 'test' }))
    assert.equal(train.count, MNIST_SPLIT_SIZES.train)
    assert.equal(test.count, MNIST_SPLIT_SIZES.test)
    assert.equal(train.count + test.count, 10_000)
    assert.deepEqual(train.perClass, MNIST_CLASS_SIZES.train)
    assert.deepEqual(test.perClass, MNIST_CLASS_SIZES.test)
    assert.deepEqual(train.head, roundRobin)
    assert.deepEqual(test.head, roundRobin)
    for (const s of [train, test]) {
      assert.equal(s.badShapes, 0)
      assert.equal(s.min, 0)
      assert.equal(s.max, 1)
    }
    // MNIST has no duplicate images, so every image is in exactly one split.
    assert.equal(train.hashes.size, train.count)
    assert.equal(intersection(train.hashes, test.hashes), 0)
  })

  test('the default split is train, and every pass gives the same rows', async () => {
    const data = mnist()
    const first = await summarise(data)
    const again = await summarise(mnist({ split: 'train' }))
    assert.equal(first.count, MNIST_SPLIT_SIZES.train)
    assert.deepEqual([...again.hashes], [...first.hashes])
    // Rows are fresh arrays: changing one does not change the next pass.
    first.first.image.fill(7)
    const [row] = await firstRows(data, 1)
    assert.ok(row.image.every((v) => v <= 1))
  })

  test('rejects an unknown split', () => {
    assert.throws(() => mnist({ split: 'validation' as 'test' }), /expected split to be "train" or "test", received "validation"/)
  })
})

async function firstRows(data: Dataset<MnistRow>, count: number): Promise<MnistRow[]> {
  const rows: MnistRow[] = []
  for await (const row of data) {
    rows.push(row)
    if (rows.length === count) break
  }
  return rows
}

describe('fashionMnist', () => {
  test('60,000 / 10,000 rows, 6,000 / 1,000 per class, interleaved, in [0, 1]', async () => {
    const started = Date.now()
    const train = await summarise(fashionMnist({ split: 'train' }))
    const loadAndRead = Date.now() - started
    const test = await summarise(fashionMnist({ split: 'test' }))
    assert.equal(train.count, FASHION_MNIST_SPLIT_SIZES.train)
    assert.equal(test.count, FASHION_MNIST_SPLIT_SIZES.test)
    assert.deepEqual(train.perClass, new Array(10).fill(6_000))
    assert.deepEqual(test.perClass, new Array(10).fill(1_000))
    assert.deepEqual(train.head, roundRobin)
    assert.deepEqual(test.head, roundRobin)
    for (const s of [train, test]) {
      assert.equal(s.badShapes, 0)
      assert.equal(s.min, 0)
      assert.equal(s.max, 1)
    }
    // The package itself holds 54 repeated images, 12 of them across the split: the splits
    // are disjoint by position, and only those repeats may appear in both.
    assert.ok(intersection(train.hashes, test.hashes) <= 12, 'train and test share only the known repeats')
    assert.ok(train.hashes.size > train.count - 54)
    // The second split reuses the classes parsed for the first: no second parse of 150 MB.
    const secondPass = Date.now()
    await firstRows(fashionMnist({ split: 'test' }), 10)
    assert.ok(Date.now() - secondPass < loadAndRead / 4, `cached pass took ${Date.now() - secondPass} ms, first ${loadAndRead} ms`)
  })

  test('pixel values are the package bytes divided by 255', async () => {
    const [row] = await firstRows(fashionMnist(), 1)
    assert.equal(row.label, 0)
    for (const value of row.image) assert.ok(Math.abs(value * 255 - Math.round(value * 255)) < 1e-4)
    assert.ok(row.image.some((v) => v > 0 && v < 1))
  })

  test('has the ten class names', () => {
    assert.equal(FASHION_MNIST_CLASSES.length, 10)
    assert.equal(FASHION_MNIST_CLASSES[0], 'T-shirt/top')
    assert.equal(FASHION_MNIST_CLASSES[9], 'Ankle boot')
  })
})
