// Reshape, DenseToSparse, SparseToDense and VectorAssembler on hand-checked vectors, and a
// reshaped row turned into a TF.js tensor batch.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { ready } from '../../backend/index.js'
import { rowsToTensors } from '../tensors.js'
import { DenseToSparse, Reshape, SparseToDense, VectorAssembler } from './index.js'

const hasCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof MaltError && e.code === code && (!pattern || pattern.test(e.message))
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

test('Reshape 784 → [28, 28, 1]: a checked flat Float32Array, usable as a tensor batch', async () => {
  const reshape = new Reshape({ inputCol: 'image', shape: [28, 28, 1], shapeCol: 'imageShape' })
  const rows = [{ image: range(784), label: 3 }, { image: new Uint8Array(784).fill(7), label: 1 }].map((row) => reshape.transform(row))
  const flat = rows[0].image as Float32Array
  assert.ok(flat instanceof Float32Array)
  assert.equal(flat.length, 784)
  assert.equal(flat[783], 783)
  assert.deepEqual(rows[0].imageShape, [28, 28, 1])
  await ready()
  const { xs, ys } = rowsToTensors(rows, { features: 'image', label: 'label', featureShape: [...reshape.shape] })
  assert.deepEqual(xs.shape, [2, 28, 28, 1])
  const pixels = await xs.data()
  assert.equal(pixels[28 * 28 + 5], 7)
  xs.dispose()
  ys?.dispose()
})

test('Reshape: wrong element count is an error naming both counts', () => {
  const reshape = new Reshape({ inputCol: 'image', shape: [28, 28, 1] })
  assert.throws(() => reshape.transform({ image: range(783) }), hasCode('TRANSFORMER_BAD_INPUT', /column "image": expected 784 values for shape \[28,28,1\], received 783/))
  assert.throws(() => reshape.transform({ image: 5 }), hasCode('TRANSFORMER_BAD_INPUT', /numeric vector/))
  assert.throws(() => new Reshape({ inputCol: 'x', shape: [2, -1, -1] }), hasCode('TRANSFORMER_BAD_OPTION', /at most one -1/))
  assert.throws(() => new Reshape({ inputCol: 'x', shape: [0, 2] }), hasCode('TRANSFORMER_BAD_OPTION', /shape/))
})

test('Reshape to nested arrays, with an inferred dimension', () => {
  const reshape = new Reshape({ inputCol: 'v', outputCol: 'm', shape: [-1, 2, 2], output: 'nested', shapeCol: 's' })
  const out = reshape.transform({ v: range(8) })
  assert.deepEqual(out.m, [
    [
      [0, 1],
      [2, 3],
    ],
    [
      [4, 5],
      [6, 7],
    ],
  ])
  assert.deepEqual(out.s, [2, 2, 2])
  assert.throws(() => reshape.transform({ v: range(6) }), hasCode('TRANSFORMER_BAD_INPUT', /divisible by 4/))
})

test('DenseToSparse keeps the non-zero elements; SparseToDense restores the vector', () => {
  const toSparse = new DenseToSparse({ inputCol: 'x', outputCol: 's' })
  const sparse = toSparse.transform({ x: [0, 3, 0, 0, -5.5, 0] }).s
  assert.deepEqual(sparse, { size: 6, indices: [1, 4], values: [3, -5.5] })
  const dense = new SparseToDense({ inputCol: 's' }).transform({ s: sparse }).s
  assert.ok(dense instanceof Float32Array)
  assert.deepEqual(Array.from(dense), [0, 3, 0, 0, -5.5, 0])
  assert.deepEqual(toSparse.transform({ x: new Float32Array(3) }).s, { size: 3, indices: [], values: [] })
})

test('SparseToDense refuses malformed sparse vectors', () => {
  const toDense = new SparseToDense({ inputCol: 's' })
  assert.throws(() => toDense.transform({ s: { size: 3, indices: [3], values: [1] } }), hasCode('TRANSFORMER_BAD_INPUT', /in \[0, 3\), received 3 at position 0/))
  assert.throws(() => toDense.transform({ s: { size: 3, indices: [2, 1], values: [1, 1] } }), hasCode('TRANSFORMER_BAD_INPUT', /strictly ascending/))
  assert.throws(() => toDense.transform({ s: { size: 3, indices: [1], values: [] } }), hasCode('TRANSFORMER_BAD_INPUT', /indices has 1 entries but values has 0/))
  assert.throws(() => toDense.transform({ s: [1, 2] }), hasCode('TRANSFORMER_BAD_INPUT', /size must be/))
})

test('VectorAssembler concatenates numbers, booleans and vectors in order', () => {
  const assembler = new VectorAssembler({ inputCols: ['age', 'owner', 'embedding'] })
  const out = assembler.transform({ age: 30, owner: true, embedding: [0.5, -1], other: 'kept' })
  assert.ok(out.features instanceof Float32Array)
  assert.deepEqual(Array.from(out.features as Float32Array), [30, 1, 0.5, -1])
  assert.equal(out.other, 'kept')
  assert.throws(() => assembler.transform({ age: null, owner: true, embedding: [] }), hasCode('TRANSFORMER_BAD_INPUT', /column "age".*received null.*Imputer/))
  assert.throws(() => new VectorAssembler({ inputCols: [] }), hasCode('TRANSFORMER_BAD_OPTION', /inputCols/))
})
