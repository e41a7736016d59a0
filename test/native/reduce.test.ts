// Native Sum, Mean, Prod, Max, Min, ArgMax and ArgMin against the CPU backend. The native kernels
// reduce in the CPU kernels' order with the same float64 accumulation, so results must be equal bit
// for bit (tolerance 0): over every axis subset of a rank-4 tensor, with keepDims, negative axes,
// NaNs, ties, the bias-gradient shapes (large enough to run threaded), and the dtypes left to the CPU.
import { test } from 'node:test'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { compareWithCpu, requireNativeBackend, seededTensor, seededValues } from '../helpers/native.js'

type Reduction = 'sum' | 'mean' | 'prod' | 'max' | 'min'
const REDUCTIONS: Reduction[] = ['sum', 'mean', 'prod', 'max', 'min']
const KERNEL_NAMES: Record<Reduction, string> = { sum: 'Sum', mean: 'Mean', prod: 'Prod', max: 'Max', min: 'Min' }

function reduce(op: Reduction, x: tfjs.Tensor, axis?: number | number[], keepDims = false): tfjs.Tensor {
  switch (op) {
    case 'sum':
      return tf.sum(x, axis, keepDims)
    case 'mean':
      return tf.mean(x, axis, keepDims)
    case 'prod':
      return tf.prod(x, axis, keepDims)
    case 'max':
      return tf.max(x, axis, keepDims)
    case 'min':
      return tf.min(x, axis, keepDims)
  }
}

/** Seeded values, in [0.5, 1.5) for products so they neither vanish nor overflow. */
function input(op: Reduction, shape: number[], seed: number): tfjs.Tensor {
  return op === 'prod' ? seededTensor(shape, seed, 0.5, 1.5) : seededTensor(shape, seed, -10, 10)
}

/** Every subset of [0, rank), the empty one included. */
function axisSubsets(rank: number): number[][] {
  const subsets: number[][] = []
  for (let mask = 0; mask < 1 << rank; mask++) subsets.push([...Array(rank).keys()].filter((axis) => mask & (1 << axis)))
  return subsets
}

test('reductions over every axis subset of a rank-4 tensor, with and without keepDims, equal the CPU kernels', async () => {
  await requireNativeBackend()
  const shape = [3, 4, 5, 6]
  for (const op of REDUCTIONS) {
    for (const axes of axisSubsets(4)) {
      for (const keepDims of [false, true]) {
        const label = `${op} ${JSON.stringify(axes)} keepDims=${keepDims}`
        compareWithCpu(label, () => reduce(op, input(op, shape, axes.length), axes, keepDims), {
          native: [KERNEL_NAMES[op]],
          tolerance: 0,
        })
      }
    }
  }
})

test('reductions with negative, single, default and unsorted axes, size-1 dims and scalars', async () => {
  await requireNativeBackend()
  const cases: [number[], number | number[] | undefined][] = [
    [[3, 4, 5, 6], -1],
    [[3, 4, 5, 6], [-1, -3]],
    [[3, 4, 5, 6], [2, 0]],
    [[3, 4, 5, 6], undefined],
    [[1, 7, 1, 3], [0, 2]],
    [[1, 7, 1, 3], 1],
    [[9], 0],
    [[2, 3, 2, 3, 2], [1, 3]],
    [[], undefined],
  ]
  for (const op of REDUCTIONS) {
    for (const [index, [shape, axis]] of cases.entries()) {
      const label = `${op} of ${JSON.stringify(shape)} over ${JSON.stringify(axis)}`
      compareWithCpu(label, () => reduce(op, input(op, shape, index), axis, index % 2 === 0), {
        native: [KERNEL_NAMES[op]],
        tolerance: 0,
      })
    }
  }
})

test('NaN propagates through Sum, Mean, Prod, Max and Min as on the CPU backend', async () => {
  await requireNativeBackend()
  const shape = [4, 3, 5]
  const values = seededValues(60, 42, -2, 2)
  // NaNs first in a row, last in a row, and among -Infinity / +Infinity.
  for (const at of [0, 7, 14, 33, 59]) values[at] = NaN
  values[20] = -Infinity
  values[41] = Infinity
  for (const op of REDUCTIONS) {
    for (const axes of [[0], [1], [2], [0, 2], [0, 1, 2]]) {
      compareWithCpu(`${op} with NaN over ${JSON.stringify(axes)}`, () => reduce(op, tf.tensor(values, shape), axes), {
        native: [KERNEL_NAMES[op]],
        tolerance: 0,
      })
    }
  }
})

test('Max and Min keep the CPU kernels’ choice between -0 and 0 and handle infinities', async () => {
  await requireNativeBackend()
  const values = new Float32Array([-0, 0, 0, -0, -Infinity, -Infinity, Infinity, Infinity])
  for (const op of ['max', 'min'] as const) {
    // 1 / ±0 = ±Infinity makes the sign of a zero visible to the comparison.
    compareWithCpu(`${op} of signed zeros`, () => tf.div(1, reduce(op, tf.tensor(values, [4, 2]), 1)), {
      native: [KERNEL_NAMES[op]],
      tolerance: 0,
    })
  }
})

test('ArgMax and ArgMin over every axis, negative axes, ties (first index) and NaN', async () => {
  await requireNativeBackend()
  const shape = [3, 4, 5, 6]
  // Few distinct values: many ties, which must resolve to the first index.
  const ties = () => tf.round(seededTensor(shape, 9, -2, 2))
  for (const axis of [0, 1, 2, 3, -1, -4]) {
    compareWithCpu(`argMax ties axis ${axis}`, () => tf.argMax(ties(), axis), { native: ['ArgMax'], tolerance: 0 })
    compareWithCpu(`argMin ties axis ${axis}`, () => tf.argMin(ties(), axis), { native: ['ArgMin'], tolerance: 0 })
  }
  const values = seededValues(24, 5)
  for (const at of [0, 9, 23]) values[at] = NaN
  for (const axis of [0, 1]) {
    compareWithCpu(`argMax NaN axis ${axis}`, () => tf.argMax(tf.tensor(values, [4, 6]), axis), { native: ['ArgMax'], tolerance: 0 })
    compareWithCpu(`argMin NaN axis ${axis}`, () => tf.argMin(tf.tensor(values, [4, 6]), axis), { native: ['ArgMin'], tolerance: 0 })
  }
  const exact = (kernel: string) => ({ native: [kernel], tolerance: 0 })
  compareWithCpu('argMax of [64,10] (predicted classes)', () => tf.argMax(seededTensor([64, 10], 3), -1), exact('ArgMax'))
  compareWithCpu('argMax over a long axis, threaded', () => tf.argMax(seededTensor([40, 8000], 4), 1), exact('ArgMax'))
  compareWithCpu('argMin down the columns, threaded', () => tf.argMin(seededTensor([600, 500], 6), 0), exact('ArgMin'))
})

test('the bias-gradient sums and other threaded layouts equal the CPU kernels', async () => {
  await requireNativeBackend()
  const cases: [number[], number[]][] = [
    [[64, 26, 26, 16], [0, 1, 2]],
    [[64, 11, 11, 32], [0, 1, 2]],
    [[64, 256], [0]],
    [[600, 500], [1]],
    [[600, 500], [0]],
    [[16, 200, 96], [1]],
    [[200, 16, 96], [0, 2]],
  ]
  for (const [index, [shape, axes]] of cases.entries()) {
    for (const op of ['sum', 'mean', 'max'] as const) {
      compareWithCpu(`${op} of ${JSON.stringify(shape)} over ${JSON.stringify(axes)}`, () => reduce(op, seededTensor(shape, index), axes), {
        native: [KERNEL_NAMES[op]],
        tolerance: 0,
      })
    }
  }
})

test('int32 and bool reductions fall back to the CPU kernels', async () => {
  await requireNativeBackend()
  const ints = () => tf.tensor2d([3, -1, 4, 1, -5, 9], [2, 3], 'int32')
  compareWithCpu('sum int32', () => tf.sum(ints(), 1), { fallback: ['Sum'], tolerance: 0 })
  compareWithCpu('max int32', () => tf.max(ints(), 0), { fallback: ['Max'], tolerance: 0 })
  compareWithCpu('min int32', () => tf.min(ints()), { fallback: ['Min'], tolerance: 0 })
  compareWithCpu('argMax int32', () => tf.argMax(ints(), 1), { fallback: ['ArgMax'], tolerance: 0 })
  compareWithCpu('sum bool', () => tf.sum(tf.tensor1d([true, false, true], 'bool')), { fallback: ['Sum'], tolerance: 0 })
  compareWithCpu('sum of an empty tensor', () => tf.sum(tf.zeros([0, 3]), 0), { fallback: ['Sum'], tolerance: 0 })
})

test('gradients through reductions match the CPU backend', async () => {
  await requireNativeBackend()
  compareWithCpu(
    'grads of sum, mean and max',
    () => {
      const x = seededTensor([4, 5, 6], 77)
      const loss = (t: tfjs.Tensor) => tf.add(tf.add(tf.sum(tf.square(tf.sum(t, [0, 2]))), tf.mean(tf.mul(t, t))), tf.sum(tf.max(t, -1)))
      return tf.grad(loss)(x)
    },
    { native: ['Sum', 'Mean', 'Max'], tolerance: 0 },
  )
})
