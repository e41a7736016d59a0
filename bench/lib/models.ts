// The two reference models of the native-backend issue, shared by `npm run bench -- train` and the
// loss-curve tests: a small Fashion-MNIST CNN and an MLP, Adam, batch 64, seeded initial weights
// (TF.js initialisers draw from their own seeded generator, so both backends start identical).
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { fashionMnist } from '../../src/data/sources/mnist.js'

export type ModelKind = 'cnn' | 'mlp'

/** conv 16×3×3 relu → maxpool 2 → conv 32×3×3 relu → maxpool 2 → flatten → dense 10 softmax. */
export function buildCnn(seed: number): tfjs.LayersModel {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset })
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  })
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
  return model
}

/** dense 784→256 relu → 128 relu → 10 softmax. */
export function buildMlp(seed: number): tfjs.LayersModel {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset })
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  })
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
  return model
}

export function buildModel(kind: ModelKind, seed: number): tfjs.LayersModel {
  return kind === 'cnn' ? buildCnn(seed) : buildMlp(seed)
}

/** The first `count` Fashion-MNIST training images (pixels in [0, 1]) and their labels. */
export async function fashionSamples(count: number): Promise<{ images: Float32Array; labels: Int32Array }> {
  const images = new Float32Array(count * 784)
  const labels = new Int32Array(count)
  let index = 0
  for await (const row of fashionMnist({ split: 'train' }).take(count)) {
    images.set(row.image, index * 784)
    labels[index] = row.label
    index++
  }
  if (index < count) throw new Error(`only ${index} Fashion-MNIST images, wanted ${count}`)
  return { images, labels }
}

/** Inputs shaped for `kind` and one-hot labels, as tensors on the current backend. */
export function toTensors(kind: ModelKind, samples: { images: Float32Array; labels: Int32Array }): { x: tfjs.Tensor; y: tfjs.Tensor } {
  const count = samples.labels.length
  const x = tf.tensor(samples.images, kind === 'cnn' ? [count, 28, 28, 1] : [count, 784])
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(samples.labels, 'int32'), 10).toFloat())
  return { x, y }
}
