// Output-array recycling on malt-native: disposed outputs are reused, and nothing anyone can
// still see is ever overwritten — arrays read out with dataSync(), views kept by a Slice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { bufferPool } from '../../src/backend/native/buffer-pool.js'
import { requireNativeBackend, seededTensor } from '../helpers/native.js'

async function onNative<T>(body: () => T | Promise<T>): Promise<T> {
  await requireNativeBackend()
  const previous = tf.getBackend()
  tf.setBackend('malt-native')
  try {
    return await body()
  } finally {
    tf.setBackend(previous)
  }
}

/** Runs enough same-sized ops to recycle any pooled array of x's size, disposing them all. */
function churn(x: tfjs.Tensor, rounds = 20): void {
  for (let i = 0; i < rounds; i++) tf.tidy(() => tf.relu(tf.mul(x, -1 - i)))
}

test('a disposed output array is handed out again, and results stay right', async () => {
  await onNative(() => {
    const x = seededTensor([64, 32, 32], 1)
    const expected = tf.tidy(() => tf.relu(x).arraySync())
    const before = bufferPool.reused
    for (let i = 0; i < 10; i++) {
      const y = tf.tidy(() => tf.relu(x))
      // Fresh results every time even though the arrays are recycled.
      if (i === 9) assert.deepEqual(y.arraySync(), expected)
      y.dispose()
    }
    assert.ok(bufferPool.reused - before >= 8, `only ${bufferPool.reused - before} arrays reused`)
    x.dispose()
  })
})

test('an array read out with dataSync() is never recycled after its tensor is disposed', async () => {
  await onNative(() => {
    const x = seededTensor([64, 32, 32], 2)
    const y = tf.relu(x)
    const kept = y.dataSync()
    const copy = kept.slice()
    y.dispose()
    churn(x)
    assert.deepEqual(kept, copy)
    x.dispose()
  })
})

test('a Slice view of an output keeps its buffer from being recycled', async () => {
  await onNative(() => {
    const x = seededTensor([64, 32, 32], 3)
    const y = tf.relu(x)
    // A slice along the first axis is contiguous: the CPU kernel returns a subarray view.
    const view = tf.slice(y, [8, 0, 0], [16, 32, 32])
    const expected = tf.tidy(() => tf.slice(tf.relu(x), [8, 0, 0], [16, 32, 32]).arraySync())
    y.dispose()
    churn(x)
    assert.deepEqual(view.arraySync(), expected)
    view.dispose()
    x.dispose()
  })
})

test('training with recycling gives the same weights as without it', async () => {
  await onNative(async () => {
    const train = async () => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }),
        ],
      })
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' })
      const x = seededTensor([96, 12, 12, 1], 7, 0, 1)
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 96 }, (_, i) => i % 3), 'int32'), 3).toFloat()
      await model.fit(x, y, { batchSize: 32, epochs: 3, verbose: 0, shuffle: false })
      const weights = model.getWeights().map((w) => Array.from(w.dataSync()))
      tf.dispose([x, y])
      model.dispose()
      return weights
    }
    const pooled = await train()
    const limit = bufferPool.limitBytes
    bufferPool.limitBytes = 0
    try {
      assert.deepEqual(await train(), pooled)
    } finally {
      bufferPool.limitBytes = limit
    }
  })
})
