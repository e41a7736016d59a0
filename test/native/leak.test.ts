// Long training on malt-native leaks neither tensors nor memory (its own file, so its process
// starts clean and RSS is not skewed by other tests' heaps).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { tf } from '../../src/backend/index.js'
import { nativeBackend } from '../../src/backend/native/index.js'
import { buildModel, fashionSamples, toTensors, type ModelKind } from '../../bench/lib/models.js'
import { requireNativeBackend } from '../helpers/native.js'

test('20 epochs on malt-native keep tensors and memory flat', async () => {
  await requireNativeBackend()
  const previous = tf.getBackend()
  tf.setBackend('malt-native')
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const samples = await fashionSamples(512)
  const tensorsPerEpoch: number[] = []
  const rssPerEpoch: number[] = []
  for (const kind of ['cnn', 'mlp'] as ModelKind[]) {
    const model = buildModel(kind, 3)
    const { x, y } = toTensors(kind, samples)
    await model.fit(x, y, {
      batchSize: 64,
      epochs: 20,
      verbose: 0,
      callbacks: {
        onEpochEnd: async () => {
          gc()
          tensorsPerEpoch.push(tf.memory().numTensors)
          rssPerEpoch.push(process.memoryUsage().rss)
        },
      },
    })
    tf.dispose([x, y])
    model.dispose()
    // From the second epoch on (the first creates optimizer slots), nothing may accumulate.
    const tensors = tensorsPerEpoch.slice(1)
    assert.ok(tensors.every((count) => count === tensors[0]), `${kind}: tensors per epoch ${tensorsPerEpoch.join(', ')}`)
    const growth = (rssPerEpoch[19] - rssPerEpoch[4]) / 2 ** 20
    assert.ok(growth < 24, `${kind}: RSS grew ${growth.toFixed(1)} MiB from epoch 5 to 20 (${rssPerEpoch.map((r) => (r / 2 ** 20).toFixed(0)).join(', ')} MiB)`)
    const counts = nativeBackend.callCounts()
    assert.ok((counts[kind === 'cnn' ? 'Conv2D' : 'BatchMatMul']?.native ?? 0) > 0, `${kind}: native kernels did not run`)
    tensorsPerEpoch.length = 0
    rssPerEpoch.length = 0
  }
  tf.setBackend(previous)
})

