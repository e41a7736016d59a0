// Native pooling kernels (MaxPool, MaxPoolGrad, AvgPool, AvgPoolGrad) against TF.js's CPU kernels:
// every filter size 1–3, stride 1–3 and padding mode, odd sizes, channel counts across the native
// channel block, ties (the gradient must go to the FIRST maximum, as TF.js sends it), NaN and
// -Infinity windows, explicit padding with rounding modes, and the cases that fall back.
// Results are compared with tolerance 0: the native loops do TF.js's arithmetic step for step.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { checkGradientNumerically, compareWithCpu, requireNativeBackend, seededTensor, seededValues } from '../helpers/native.js'

type Padding = 'same' | 'valid'
type Window = [number, number] | number

const POOL_KERNELS = ['MaxPool', 'AvgPool']
const POOL_GRAD_KERNELS = ['MaxPool', 'MaxPoolGrad', 'AvgPool', 'AvgPoolGrad']

/** Values on a few levels with many zeros (relu of rounded values): windows full of ties. */
function tiedTensor(shape: number[], seed: number): tfjs.Tensor4D {
  return tf.relu(tf.round(seededTensor(shape, seed, -3, 3))) as tfjs.Tensor4D
}

/** Loss whose gradient routes distinct dy values through max pooling, so a misrouted one shows. */
function maxPoolLoss(filter: Window, stride: Window, pad: Padding | number, seed: number) {
  return (x: tfjs.Tensor): tfjs.Scalar => {
    const max = tf.maxPool(x as tfjs.Tensor4D, filter, stride, pad)
    return tf.sum(tf.mul(max, seededTensor(max.shape, seed)))
  }
}

/** The same through both pools. */
function poolLoss(filter: Window, stride: Window, pad: Padding | number, seed: number) {
  return (x: tfjs.Tensor): tfjs.Scalar => {
    const max = tf.maxPool(x as tfjs.Tensor4D, filter, stride, pad)
    const avg = tf.avgPool(x as tfjs.Tensor4D, filter, stride, pad)
    return tf.add(tf.sum(tf.mul(max, seededTensor(max.shape, seed))), tf.sum(tf.mul(avg, seededTensor(avg.shape, seed + 1))))
  }
}

const SHAPES = [
  [2, 7, 5, 3],
  [1, 6, 6, 1],
  [1, 5, 4, 70], // crosses the native 64-channel block
]

test('MaxPool and AvgPool match the CPU kernels for filters 1–3, strides 1–3, same and valid padding', async () => {
  await requireNativeBackend()
  let seed = 1
  for (const shape of SHAPES) {
    for (const filter of [1, 2, 3]) {
      for (const stride of [1, 2, 3]) {
        for (const pad of ['same', 'valid'] as Padding[]) {
          const x = seededTensor(shape, seed++) as tfjs.Tensor4D
          const label = `pool ${shape} f${filter} s${stride} ${pad}`
          // A 1×1 window with stride 1 is the identity, which the CPU kernel serves without a copy.
          const identity = filter === 1 && stride === 1
          compareWithCpu(label, () => [tf.maxPool(x, filter, stride, pad), tf.avgPool(x, filter, stride, pad)], {
            tolerance: 0,
            ...(identity ? { fallback: POOL_KERNELS } : { native: POOL_KERNELS }),
          })
          x.dispose()
        }
      }
    }
  }
})

test('pooling gradients through tf.grad match the CPU kernels, overlapping windows included', async () => {
  await requireNativeBackend()
  let seed = 100
  for (const shape of SHAPES) {
    for (const filter of [1, 2, 3]) {
      for (const stride of [1, 2, 3]) {
        for (const pad of ['same', 'valid'] as Padding[]) {
          if (filter === 1 && stride === 1) continue
          const x = tiedTensor(shape, seed++)
          const loss = poolLoss(filter, stride, pad, seed)
          compareWithCpu(`grad ${shape} f${filter} s${stride} ${pad}`, () => tf.grad(loss)(x), { tolerance: 0, native: POOL_GRAD_KERNELS })
          x.dispose()
        }
      }
    }
  }
})

test('non-square windows and strides, size-1 dims, rank-3 input', async () => {
  await requireNativeBackend()
  const cases: { shape: number[]; filter: [number, number]; stride: [number, number]; pad: Padding }[] = [
    { shape: [2, 9, 7, 5], filter: [2, 3], stride: [1, 2], pad: 'same' },
    { shape: [2, 9, 7, 5], filter: [3, 1], stride: [3, 1], pad: 'valid' },
    { shape: [3, 1, 8, 4], filter: [1, 3], stride: [1, 2], pad: 'valid' },
    { shape: [1, 1, 1, 6], filter: [3, 3], stride: [2, 2], pad: 'same' },
    { shape: [5, 4, 1, 2], filter: [2, 2], stride: [1, 1], pad: 'same' },
  ]
  for (const [index, { shape, filter, stride, pad }] of cases.entries()) {
    const x = tiedTensor(shape, 200 + index)
    const label = `${shape} f${filter} s${stride} ${pad}`
    compareWithCpu(label, () => [tf.maxPool(x, filter, stride, pad), tf.avgPool(x, filter, stride, pad)], {
      tolerance: 0,
      native: POOL_KERNELS,
    })
    compareWithCpu(`grad ${label}`, () => tf.grad(poolLoss(filter, stride, pad, 300 + index))(x), {
      tolerance: 0,
      native: POOL_GRAD_KERNELS,
    })
    x.dispose()
  }
  const image = seededTensor([6, 5, 3], 7) as tfjs.Tensor3D
  compareWithCpu('rank 3', () => [tf.maxPool(image, 2, 2, 'valid'), tf.avgPool(image, 3, 1, 'same')], {
    tolerance: 0,
    native: POOL_KERNELS,
  })
  image.dispose()
})

test('ties go to the first maximum in window order: all-zero windows after relu, few levels', async () => {
  await requireNativeBackend()
  const cases: { shape: number[]; filter: number; stride: number; pad: Padding }[] = [
    { shape: [4, 26, 26, 16], filter: 2, stride: 2, pad: 'valid' },
    { shape: [4, 11, 11, 32], filter: 2, stride: 2, pad: 'valid' },
    { shape: [2, 9, 9, 8], filter: 3, stride: 1, pad: 'same' },
    { shape: [2, 9, 9, 8], filter: 3, stride: 2, pad: 'same' },
  ]
  for (const [index, { shape, filter, stride, pad }] of cases.entries()) {
    const x = tiedTensor(shape, 400 + index)
    const zeros = tf.zeros<tfjs.Rank.R4>(shape as [number, number, number, number])
    for (const [name, input] of [
      ['tied', x],
      ['zeros', zeros],
    ] as const) {
      const label = `${name} ${shape} f${filter} s${stride} ${pad}`
      compareWithCpu(
        label,
        () => tf.grad(maxPoolLoss(filter, stride, pad, 9))(input),
        { tolerance: 0, native: ['MaxPool', 'MaxPoolGrad'] },
      )
    }
    x.dispose()
    zeros.dispose()
  }
  // A hand-made window: the gradient of a 2×2 window of equal values lands on its top-left element.
  tf.setBackend('malt-native')
  const dx = tf.grad((t: tfjs.Tensor) => tf.sum(tf.maxPool(t as tfjs.Tensor4D, 2, 2, 'valid')))(tf.ones([1, 2, 2, 1]))
  assert.deepEqual(Array.from(dx.dataSync()), [1, 0, 0, 0])
  dx.dispose()
})

test('NaN is skipped and all -Infinity windows get no gradient, as in TF.js', async () => {
  await requireNativeBackend()
  const shape = [2, 6, 6, 3]
  const values = seededValues(2 * 6 * 6 * 3, 11)
  for (let i = 0; i < values.length; i += 7) values[i] = Number.NaN
  for (let i = 3; i < 3 * 6 * 3; i++) values[i] = Number.NEGATIVE_INFINITY // whole rows of -Infinity in image 0
  const nanWindow = new Float32Array(4 * 3).fill(Number.NaN) // an all-NaN 2×2 window: max -Infinity
  values.set(nanWindow.subarray(0, 6), 6 * 6 * 3 + 2 * 6 * 3)
  values.set(nanWindow.subarray(0, 6), 6 * 6 * 3 + 3 * 6 * 3)
  const x = tf.tensor4d(values, shape as [number, number, number, number])
  for (const [filter, stride] of [
    [2, 2],
    [3, 1],
  ]) {
    compareWithCpu(`special values f${filter} s${stride}`, () => [tf.maxPool(x, filter, stride, 'same'), tf.avgPool(x, filter, stride, 'same')], {
      tolerance: 0,
      native: POOL_KERNELS,
    })
    compareWithCpu(
      `special values grad f${filter} s${stride}`,
      () => tf.grad(maxPoolLoss(filter, stride, 'same', 12))(x),
      { tolerance: 0, native: ['MaxPoolGrad'] },
    )
  }
  x.dispose()
})

test('numeric padding with rounding modes and explicit padding; gradients without a matching dy shape fall back', async () => {
  await requireNativeBackend()
  const x = seededTensor([2, 5, 7, 3], 21) as tfjs.Tensor4D
  for (const rounding of ['floor', 'round', 'ceil'] as const) {
    // ceil gives a last window that lies wholly in the padding: max -Infinity, average 0/0 = NaN.
    compareWithCpu(`pad 1 ${rounding}`, () => [tf.maxPool(x, 2, 2, 1, rounding), tf.avgPool(x, 2, 2, 1, rounding)], {
      tolerance: 0,
      native: POOL_KERNELS,
    })
  }
  compareWithCpu('pad 1, no rounding', () => [tf.maxPool(x, 3, 2, 1), tf.avgPool(x, 3, 2, 1)], { tolerance: 0, native: POOL_KERNELS })
  const explicit: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [1, 2],
    [0, 1],
    [0, 0],
  ]
  compareWithCpu('explicit padding', () => [tf.maxPool(x, [2, 3], 1, explicit), tf.avgPool(x, [2, 3], 1, explicit)], {
    tolerance: 0,
    native: POOL_KERNELS,
  })
  compareWithCpu('explicit padding grad', () => tf.grad(poolLoss([2, 3], 1, 'valid', 31))(x), { tolerance: 0, native: POOL_GRAD_KERNELS })
  compareWithCpu('pad 1 grad', () => tf.grad((t: tfjs.Tensor) => tf.sum(tf.maxPool(t as tfjs.Tensor4D, 3, 2, 1)))(x), {
    tolerance: 0,
    native: ['MaxPoolGrad'],
  })
  // The gradient ops drop dimRoundingMode, so with ceil the gradient's geometry disagrees with dy.
  compareWithCpu('pad 1 ceil grad', () => tf.grad((t: tfjs.Tensor) => tf.sum(tf.maxPool(t as tfjs.Tensor4D, 2, 2, 1, 'ceil')))(x), {
    tolerance: 0,
    native: ['MaxPool'],
    fallback: ['MaxPoolGrad'],
  })
  x.dispose()
})

test('int32 max pooling falls back to the CPU kernel', async () => {
  await requireNativeBackend()
  const x = tf.tensor4d([1, 5, 2, 7, 3, 3, 9, 0, 4], [1, 3, 3, 1], 'int32')
  compareWithCpu('int32', () => tf.maxPool(x, 2, 1, 'valid'), { fallback: ['MaxPool'] })
  x.dispose()
})

test('the benchmark shapes: 2×2 stride 2 valid max pooling at batch 64, forward and gradient', async () => {
  await requireNativeBackend()
  for (const [index, shape] of [
    [64, 26, 26, 16],
    [64, 11, 11, 32],
  ].entries()) {
    const x = tiedTensor(shape, 500 + index)
    const loss = maxPoolLoss(2, 2, 'valid', 600 + index)
    compareWithCpu(`benchmark ${shape}`, () => [tf.maxPool(x, 2, 2, 'valid'), tf.grad(loss)(x)], {
      tolerance: 0,
      native: ['MaxPool', 'MaxPoolGrad'],
    })
    x.dispose()
  }
})

test('pooling gradients agree with central differences (avgPool, and maxPool on tie-free data)', async () => {
  await requireNativeBackend()
  // 'valid' padding: with 'same', TF.js's AvgPoolGrad divides edge windows by the full filter area
  // while the forward pass divides by the non-padded count, so its gradient is not the derivative there.
  const x = seededTensor([2, 6, 5, 3], 41)
  const weights = seededTensor([2, 5, 4, 3], 42)
  checkGradientNumerically('avgPool', (t) => tf.sum(tf.mul(tf.avgPool(t as tfjs.Tensor4D, 2, 1, 'valid'), weights)), x, { maxProbes: 180 })
  // Distinct values 0.1 apart: the maxima do not move within ±epsilon.
  const order = Array.from({ length: 2 * 6 * 5 * 3 }, (_, i) => (i * 37) % 180)
  const distinct = tf.tensor4d(order.map((v) => v * 0.1), [2, 6, 5, 3])
  const maxWeights = seededTensor([2, 3, 3, 3], 43)
  checkGradientNumerically('maxPool', (t) => tf.sum(tf.mul(tf.maxPool(t as tfjs.Tensor4D, 3, 2, 'same'), maxWeights)), distinct, {
    maxProbes: 180,
  })
  tf.dispose([x, weights, distinct, maxWeights])
})
