// Native FusedBatchNorm and Softmax against TF.js's CPU kernels: every parameter broadcast form the
// native kernel takes (scalar, per channel, full shape, mixed, offset/scale missing), x of rank
// 1–4, the forms that fall back, softmax with large, -Infinity and NaN logits, and gradients.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { nativeBackend } from '../../src/backend/native/index.js'
import { checkGradientNumerically, compareWithCpu, requireNativeBackend, seededTensor, seededValues } from '../helpers/native.js'

/** A positive variance-like tensor. */
function varianceTensor(shape: number[], seed: number): tfjs.Tensor {
  return seededTensor(shape, seed, 0.1, 2)
}

test('batchNorm matches the CPU kernel for scalar, per-channel, full-shape and mixed parameters', async () => {
  await requireNativeBackend()
  const shape = [3, 4, 5, 6]
  const x = seededTensor(shape, 1, -3, 3)
  const forms: Record<string, number[]> = { scalar: [1], scalarRank0: [], channel: [6], channel4d: [1, 1, 1, 6], full: shape }
  let seed = 10
  for (const [meanForm, meanShape] of Object.entries(forms)) {
    for (const [otherForm, otherShape] of Object.entries(forms)) {
      // TF.js requires mean, variance, offset and scale of one rank.
      if (meanShape.length !== otherShape.length) continue
      const mean = seededTensor(meanShape, seed++)
      const variance = varianceTensor(otherShape, seed++)
      const offset = seededTensor(otherShape, seed++)
      const scale = seededTensor(meanShape, seed++)
      compareWithCpu(
        `batchNorm mean ${meanForm}, others ${otherForm}`,
        () => [tf.batchNorm(x, mean, variance, offset, scale, 1e-3), tf.batchNorm(x, mean, variance), tf.batchNorm(x, mean, variance, undefined, scale, 0.5)],
        { tolerance: 0, native: ['FusedBatchNorm'] },
      )
      tf.dispose([mean, variance, offset, scale])
    }
  }
  x.dispose()
})

test('batchNorm on x of rank 1–3 and odd channel counts, and its gradients', async () => {
  await requireNativeBackend()
  for (const [index, shape] of [[7], [5, 3], [2, 3, 1], [4, 3, 3, 33], [1, 1, 1, 1]].entries()) {
    const channels = shape[shape.length - 1]
    const x = seededTensor(shape, 20 + index)
    const mean = seededTensor([channels], 30 + index)
    const variance = varianceTensor([channels], 40 + index)
    const offset = seededTensor([channels], 50 + index)
    const scale = seededTensor([channels], 60 + index)
    compareWithCpu(`batchNorm ${shape}`, () => tf.batchNorm(x, mean, variance, offset, scale, 1e-5), {
      tolerance: 0,
      native: ['FusedBatchNorm'],
    })
    const weights = seededTensor(shape, 70 + index)
    compareWithCpu(
      `batchNorm grad ${shape}`,
      () =>
        tf.grads((a: tfjs.Tensor, m: tfjs.Tensor, v: tfjs.Tensor, o: tfjs.Tensor, s: tfjs.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s), weights)))([
          x,
          mean,
          variance,
          offset,
          scale,
        ]),
      { tolerance: 1e-5, native: ['FusedBatchNorm'] },
    )
    tf.dispose([x, mean, variance, offset, scale, weights])
  }
  const x = seededTensor([2, 3, 4], 80)
  const mean = seededTensor([4], 81)
  const variance = varianceTensor([4], 82)
  // TF.js's tape needs offset and scale tensors when gradients are recorded (it fails on missing ones).
  const offset = seededTensor([4], 83)
  const scale = seededTensor([4], 84)
  checkGradientNumerically('batchNorm', (t) => tf.sum(tf.square(tf.batchNorm(t, mean, variance, offset, scale, 0.01))), x, {
    epsilon: 1e-3,
  })
  tf.dispose([x, mean, variance, offset, scale])
})

test('batchNorm parameters of another size fall back to the CPU kernel', async () => {
  await requireNativeBackend()
  const x = seededTensor([2, 3, 4, 5], 90)
  // [4, 5] broadcasts over x, but is neither a channel vector nor x's size.
  const mean = seededTensor([4, 5], 91)
  const variance = varianceTensor([4, 5], 92)
  compareWithCpu('batchNorm [4, 5] parameters', () => tf.batchNorm(x, mean, variance), { tolerance: 0, fallback: ['FusedBatchNorm'] })
  tf.dispose([x, mean, variance])
})

test('softmax matches the CPU kernel over the last axis, with huge, -Infinity and NaN logits', async () => {
  await requireNativeBackend()
  for (const [index, shape] of [[64, 10], [3, 5, 7], [1, 1], [4, 1000], [9]].entries()) {
    const logits = seededTensor(shape, 100 + index, -5, 5)
    compareWithCpu(`softmax ${shape}`, () => [tf.softmax(logits), tf.softmax(logits, shape.length - 1)], {
      tolerance: 0,
      native: ['Softmax'],
    })
    logits.dispose()
  }
  // exp(1e4) overflows float32 and float64; the max subtraction keeps softmax finite.
  const huge = seededTensor([8, 10], 110, -1e4, 1e4)
  compareWithCpu('softmax huge logits', () => tf.softmax(huge), { tolerance: 0, native: ['Softmax'] })
  tf.setBackend('malt-native')
  const hugeOut = tf.softmax(huge)
  assert.ok(hugeOut.dataSync().every((v) => Number.isFinite(v)), 'softmax of huge logits must stay finite')
  tf.dispose([huge, hugeOut])
  const special = seededValues(5 * 6, 111)
  special[1] = Number.NEGATIVE_INFINITY // row 0: one zero probability
  special.fill(Number.NEGATIVE_INFINITY, 6, 12) // row 1: all -Infinity → NaN
  special[14] = Number.NaN // row 2: NaN → NaN
  special[20] = Number.POSITIVE_INFINITY // row 3: +Infinity → NaN (Infinity − Infinity)
  const specialLogits = tf.tensor2d(special, [5, 6])
  compareWithCpu('softmax special values', () => tf.softmax(specialLogits), { tolerance: 0, native: ['Softmax'] })
  specialLogits.dispose()
})

test('softmax gradient matches the CPU backend and central differences', async () => {
  await requireNativeBackend()
  const logits = seededTensor([16, 10], 120, -3, 3)
  const weights = seededTensor([16, 10], 121)
  const loss = (t: tfjs.Tensor): tfjs.Scalar => tf.sum(tf.mul(tf.softmax(t), weights))
  compareWithCpu('softmax grad', () => tf.grad(loss)(logits), { tolerance: 1e-6, native: ['Softmax'] })
  checkGradientNumerically('softmax', loss, logits, { epsilon: 1e-3 })
  tf.dispose([logits, weights])
})

test('a Softmax kernel call over a non-last axis is left to the CPU kernel, which rejects it', async () => {
  await requireNativeBackend()
  const logits = seededTensor([3, 4], 130)
  tf.setBackend('malt-native')
  nativeBackend.resetCallCounts()
  // tf.softmax rejects such a dim itself; a direct kernel call reaches the kernel.
  assert.throws(() => tf.engine().runKernel('Softmax', { logits }, { dim: 0 }), /Softmax along a non-last dimension is not yet supported/)
  assert.equal(nativeBackend.callCounts().Softmax?.fallback, 1)
  logits.dispose()
})
