// GatherV2 on malt-native: block copies equal the CPU kernel for every axis and dtype; what it
// does not cover (batchDims, bad indices) falls back, and bad indices keep TF.js's error.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tf } from '../../src/backend/index.js'
import { compareWithCpu, requireNativeBackend, seededTensor } from '../helpers/native.js'

test('GatherV2 matches the CPU kernel on every axis, for float32, int32 and bool', async () => {
  await requireNativeBackend()
  const shape = [4, 5, 3, 2]
  for (let axis = -4; axis < 4; axis++) {
    const size = shape[(axis + 4) % 4]
    const indices = [size - 1, 0, Math.floor(size / 2), 0]
    compareWithCpu(`float32 axis ${axis}`, () => tf.gather(seededTensor(shape, axis + 10), indices, axis), { tolerance: 0, native: ['GatherV2'] })
    compareWithCpu(`int32 axis ${axis}`, () => tf.gather(seededTensor(shape, axis + 20, -50, 50).toInt(), indices, axis), {
      tolerance: 0,
      native: ['GatherV2'],
    })
  }
  compareWithCpu('bool', () => tf.gather(tf.tensor([true, false, true], [3], 'bool'), [2, 1, 1]), { tolerance: 0, native: ['GatherV2'] })
  compareWithCpu('2-D indices', () => tf.gather(seededTensor([6, 3], 3), tf.tensor2d([[1, 2], [5, 0]], [2, 2], 'int32')), {
    tolerance: 0,
    native: ['GatherV2'],
  })
  compareWithCpu('a batch of rows, as model.fit gathers it', () => tf.gather(seededTensor([300, 784], 4), tf.range(64, 128, 1, 'int32')), {
    tolerance: 0,
    native: ['GatherV2'],
  })
})

test('GatherV2 with batchDims or a bad index falls back to the CPU kernel, which keeps its error', async () => {
  await requireNativeBackend()
  compareWithCpu('batchDims 1', () => tf.gather(seededTensor([2, 4, 3], 5), tf.tensor2d([[0, 3], [2, 1]], [2, 2], 'int32'), 1, 1), {
    tolerance: 0,
    fallback: ['GatherV2'],
  })
  const previous = tf.getBackend()
  tf.setBackend('malt-native')
  try {
    assert.throws(() => tf.gather(tf.tensor1d([1, 2, 3]), [3]), /GatherV2: the index value 3 is not in \[0, 2\]/)
  } finally {
    tf.setBackend(previous)
  }
})
