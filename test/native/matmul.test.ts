// Native BatchMatMul and _FusedMatMul against the CPU backend: seeded random ranks 2–4, every
// transpose pair, batch broadcasting (size-1 and trailing-only batch dims), odd and size-1 sizes,
// every fused activation with every bias form, gradients through both, and the layouts the native
// kernel leaves to the CPU kernel.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { SeededRandom } from '../../src/util/random.js'
import { checkGradientNumerically, compareWithCpu, requireNativeBackend, seededTensor } from '../helpers/native.js'

type Activation = 'linear' | 'relu' | 'relu6' | 'elu' | 'leakyrelu' | 'sigmoid' | 'prelu'
const ACTIVATIONS: Activation[] = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu']
const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
]

/** Operand shape for a logical [rows, cols] matrix under `batch` dims, stored transposed when asked. */
function operandShape(batch: number[], rows: number, cols: number, transposed: boolean): number[] {
  return [...batch, ...(transposed ? [cols, rows] : [rows, cols])]
}

/**
 * Batch dims of one operand under output batch dims `outer`, in a layout the CPU kernel handles as
 * broadcasting: the output's, all ones (possibly of lower rank), or only its trailing dims.
 */
function operandBatch(random: SeededRandom, outer: number[], kind: number): number[] {
  if (kind === 0 || outer.length === 0) return outer
  if (kind === 1) return new Array<number>(random.nextInt(outer.length + 1)).fill(1)
  return outer.slice(1 + random.nextInt(outer.length))
}

test('BatchMatMul matches the CPU kernel over random ranks, transposes and batch broadcasting', async () => {
  await requireNativeBackend()
  const random = new SeededRandom(20240611)
  let worst = 0
  for (let trial = 0; trial < 40; trial++) {
    const outerRank = random.nextInt(3)
    const outer = Array.from({ length: outerRank }, () => 1 + random.nextInt(3))
    const [m, k, n] = [1 + random.nextInt(9), 1 + random.nextInt(40), 1 + random.nextInt(9)]
    const [transposeA, transposeB] = TRANSPOSES[trial % 4]
    // One operand keeps the full batch so the output batch is outer; the other may broadcast.
    const fullIsA = random.next() < 0.5
    const other = operandBatch(random, outer, random.nextInt(3))
    const aShape = operandShape(fullIsA ? outer : other, m, k, transposeA)
    const bShape = operandShape(fullIsA ? other : outer, k, n, transposeB)
    const label = `matMul ${JSON.stringify(aShape)}${transposeA ? 'ᵀ' : ''} × ${JSON.stringify(bShape)}${transposeB ? 'ᵀ' : ''}`
    const error = compareWithCpu(
      label,
      () => tf.matMul(seededTensor(aShape, 2 * trial), seededTensor(bShape, 2 * trial + 1), transposeA, transposeB),
      { native: ['BatchMatMul'], tolerance: 1e-5 },
    )
    worst = Math.max(worst, error)
  }
  assert.ok(worst < 1e-5)
})

test('BatchMatMul at the MLP and CNN shapes, with the gradient transposes, and size-1 dims', async () => {
  await requireNativeBackend()
  const cases: [number[], number[], boolean, boolean][] = [
    [[64, 784], [784, 256], false, false],
    [[64, 256], [784, 256], false, true],
    [[64, 784], [64, 256], true, false],
    [[64, 800], [800, 10], false, false],
    [[10, 64], [800, 10], true, true],
    [[1, 1], [1, 1], false, false],
    [[1, 37], [37, 1], false, false],
    [[37, 1], [37, 5], true, false],
    [[1, 3, 1, 6], [3, 6, 2], false, false],
    [[2, 3, 4, 6], [3, 6, 2], false, false],
    [[7, 1, 9], [9, 1], false, false],
  ]
  for (const [index, [aShape, bShape, transposeA, transposeB]] of cases.entries()) {
    compareWithCpu(
      `matMul ${JSON.stringify(aShape)} × ${JSON.stringify(bShape)} (${transposeA}, ${transposeB})`,
      () => tf.matMul(seededTensor(aShape, 100 + index), seededTensor(bShape, 200 + index), transposeA, transposeB),
      { native: ['BatchMatMul'], tolerance: 1e-5 },
    )
  }
})

test('BatchMatMul leaves int32, empty and non-broadcast batch layouts to the CPU kernel', async () => {
  await requireNativeBackend()
  compareWithCpu(
    'int32 matMul',
    () => tf.matMul(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], 'int32'), tf.tensor2d([1, 0, -1, 2, 3, 1], [3, 2], 'int32')),
    { fallback: ['BatchMatMul'], tolerance: 0 },
  )
  compareWithCpu('empty matMul', () => tf.matMul(tf.zeros([0, 4]), seededTensor([4, 3], 1)), { fallback: ['BatchMatMul'] })
  // Batch [2,3] against [2,1]: the CPU kernel pairs batches by index modulo 2, which is not
  // broadcasting; the native kernel does not imitate it and must leave it to the CPU kernel.
  compareWithCpu(
    'matMul with a leading-only batch dim',
    () => tf.matMul(seededTensor([2, 3, 4, 5], 1), seededTensor([2, 1, 5, 3], 2)),
    { fallback: ['BatchMatMul'] },
  )
})

test('the gradients of matMul match the CPU backend for every transpose pair, and central differences', async () => {
  await requireNativeBackend()
  for (const [index, [transposeA, transposeB]] of TRANSPOSES.entries()) {
    const aShape = operandShape([3], 6, 11, transposeA)
    // TF.js's BatchMatMul gradient does not sum over broadcast batch dims: both keep the batch.
    const bShape = operandShape([3], 11, 5, transposeB)
    compareWithCpu(
      `grad matMul (${transposeA}, ${transposeB})`,
      () => {
        const a = seededTensor(aShape, 300 + index)
        const b = seededTensor(bShape, 400 + index)
        const weights = seededTensor([3, 6, 5], 500 + index)
        const loss = (x: tfjs.Tensor, y: tfjs.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, transposeA, transposeB), weights))
        return tf.grads(loss)([a, b])
      },
      { native: ['BatchMatMul'], tolerance: 1e-5 },
    )
  }
  const b = seededTensor([7, 4], 600)
  checkGradientNumerically('d/da sum(tanh(a·b))', (a) => tf.sum(tf.tanh(tf.matMul(a, b))), seededTensor([5, 7], 601), {
    epsilon: 1e-2,
    tolerance: 1e-2,
  })
})

test('_FusedMatMul matches the CPU kernel for every activation and bias form', async () => {
  await requireNativeBackend()
  // [batch, M, N] = [2, 5, 6]: bias and PReLU weights as TF.js broadcasts them over the output.
  const biasShapes: (number[] | null)[] = [null, [6], [], [1, 6], [5, 1], [5, 6], [2, 5, 6], [1, 1, 6]]
  let seed = 700
  for (const activation of ACTIVATIONS) {
    for (const biasShape of biasShapes) {
      for (const [transposeA, transposeB] of [TRANSPOSES[0], TRANSPOSES[(seed % 3) + 1]]) {
        seed += 3
        const aShape = operandShape([2], 5, 9, transposeA)
        const bShape = operandShape([2], 9, 6, transposeB)
        const preluShape = [[6], [], [5, 6], [2, 5, 6]][seed % 4]
        compareWithCpu(
          `fused ${activation} bias ${JSON.stringify(biasShape)} (${transposeA}, ${transposeB})`,
          () =>
            tf.fused.matMul({
              a: seededTensor(aShape, seed),
              b: seededTensor(bShape, seed + 1),
              transposeA,
              transposeB,
              bias: biasShape ? seededTensor(biasShape, seed + 2) : undefined,
              activation,
              preluActivationWeights: activation === 'prelu' ? seededTensor(preluShape, seed + 3, 0, 0.5) : undefined,
              leakyreluAlpha: 0.15,
            }),
          { native: ['_FusedMatMul'], tolerance: 1e-5 },
        )
      }
    }
  }
})

test('_FusedMatMul with a broadcast batch and at the dense-layer shapes', async () => {
  await requireNativeBackend()
  compareWithCpu(
    'fused relu [64,784]×[784,256] + [256]',
    () =>
      tf.fused.matMul({
        a: seededTensor([64, 784], 1),
        b: seededTensor([784, 256], 2),
        bias: seededTensor([256], 3),
        activation: 'relu',
      }),
    { native: ['_FusedMatMul'], tolerance: 1e-5 },
  )
  compareWithCpu(
    'fused sigmoid [3,4,7]×[7,2] + [2]',
    () => tf.fused.matMul({ a: seededTensor([3, 4, 7], 4), b: seededTensor([7, 2], 5), bias: seededTensor([2], 6), activation: 'sigmoid' }),
    { native: ['_FusedMatMul'], tolerance: 1e-5 },
  )
  compareWithCpu(
    'fused elu [4,7]×[3,7,2]ᵀ… + [3,1,2]',
    () =>
      tf.fused.matMul({
        a: seededTensor([4, 7], 7),
        b: seededTensor([3, 2, 7], 8),
        transposeB: true,
        bias: seededTensor([3, 1, 2], 9),
        activation: 'elu',
      }),
    { native: ['_FusedMatMul'], tolerance: 1e-5 },
  )
})

test('_FusedMatMul keeps one primitive per leaky ReLU alpha', async () => {
  await requireNativeBackend()
  for (const [index, leakyreluAlpha] of [0.1, 0.3, 0.1, 2].entries()) {
    compareWithCpu(
      `fused leakyrelu alpha ${leakyreluAlpha}`,
      () =>
        tf.fused.matMul({
          a: seededTensor([6, 9], 900 + index),
          b: seededTensor([9, 4], 910 + index),
          bias: seededTensor([4], 920 + index),
          activation: 'leakyrelu',
          leakyreluAlpha,
        }),
      { native: ['_FusedMatMul'], tolerance: 1e-5 },
    )
  }
})

test('_FusedMatMul gradients (bias, linear) match the CPU backend; int32 falls back', async () => {
  await requireNativeBackend()
  compareWithCpu(
    'grad fused matMul + bias',
    () => {
      const a = seededTensor([8, 12], 800)
      const b = seededTensor([12, 5], 801)
      const bias = seededTensor([5], 802)
      const loss = (x: tfjs.Tensor, w: tfjs.Tensor, c: tfjs.Tensor) => tf.sum(tf.square(tf.fused.matMul({ a: x, b: w, bias: c })))
      return tf.grads(loss)([a, b, bias])
    },
    { native: ['_FusedMatMul', 'BatchMatMul'], tolerance: 1e-5 },
  )
  compareWithCpu(
    'int32 fused matMul',
    () =>
      tf.fused.matMul({
        a: tf.tensor2d([1, -2, 3, 4], [2, 2], 'int32'),
        b: tf.tensor2d([2, 1, 0, -1], [2, 2], 'int32'),
        activation: 'relu',
      }),
    { fallback: ['_FusedMatMul'], tolerance: 0 },
  )
})
