// The README's library examples, run as a user would write them: through the package
// entry point `malt` (dist/, as installed), on real data.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tf, data, Dataset, nativeBackend, trainers } from 'malt'

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'malt-readme-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

test("import { tf, data } from 'malt': train on Fashion-MNIST, save and load back", async () => {
  assert.equal(tf.getBackend(), 'malt-native', 'the backend is selected at import (the native addon is built by npm install)')
  const train = data.fashionMnist({ split: 'train' }).take(1024)
  const batches = train.shuffle(1024, 42).batch(64).prefetch(2)
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })],
  })
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
  const history = await model.fitDataset(data.toTfDataset(batches, { features: 'image', label: 'label', oneHot: 10 }), { epochs: 2, verbose: 0 })
  const losses = history.history.loss as number[]
  assert.ok(losses[1] < losses[0], `loss ${losses[0]} → ${losses[1]}`)
  await model.save(`file://${dir}/my-model`)
  const again = await tf.loadLayersModel(`file://${dir}/my-model/model.json`)
  const x = tf.ones([1, 784])
  assert.deepEqual((again.predict(x) as typeof x).arraySync(), (model.predict(x) as typeof x).arraySync())
  assert.ok(Dataset === data.Dataset)
})

test('the README pipeline: impute, assemble, scale, save, load', async () => {
  const csvPath = join(dir, 'train.csv')
  writeFileSync(csvPath, 'age,income\n30,50000\n,62000\n50,\n40,58000\n')
  const prep = new data.Pipeline([
    new data.Imputer({ inputCol: ['age', 'income'], strategy: 'median' }),
    new data.VectorAssembler({ inputCols: ['age', 'income'], outputCol: 'features' }),
    new data.StandardScaler({ inputCol: 'features' }),
  ])
  await prep.fit(data.csv(csvPath))
  await prep.save(join(dir, 'prep.json'))
  const same = await data.Pipeline.load(join(dir, 'prep.json'))
  const row = { age: null, income: 58000 }
  const out = same.transform(row).features as Float32Array
  assert.deepEqual(Array.from(out), Array.from(prep.transform(row).features as Float32Array))
  // age imputed with the median (40) equals the mean of the imputed column: centred to 0.
  assert.ok(Math.abs(out[0]) < 1e-6, `scaled imputed age ${out[0]}`)
})

test("import { nativeBackend } from 'malt': threads and per-kernel call counts", () => {
  assert.equal(nativeBackend.available, true)
  const threads = nativeBackend.threads
  nativeBackend.setThreads(1)
  assert.equal(nativeBackend.threads, 1)
  nativeBackend.setThreads(threads)
  nativeBackend.resetCallCounts()
  tf.tidy(() => tf.conv2d(tf.ones([1, 5, 5, 1]).as4D(1, 5, 5, 1), tf.ones([3, 3, 1, 2]).as4D(3, 3, 1, 2), 1, 'valid').dataSync())
  assert.deepEqual(nativeBackend.callCounts().Conv2D, { native: 1, fallback: 0 })
})

test("the README's distributed training: trainers.ADAG from the package, two worker processes and a parameter server", async () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })] })
  const trainer = new trainers.ADAG({ model, optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'],
    numWorkers: 2, batchSize: 64, features: 'image', label: 'label', oneHot: 10, epochs: 2, communicationWindow: 12, home: join(dir, 'home'), verbose: false })
  const trained = await trainer.train(data.fashionMnist({ split: 'train' }).take(4000))
  const history = trainer.history()
  assert.equal(history.workers.length, 2)
  assert.equal(history.averaged.length, 2)
  assert.ok(history.averaged[1].loss < history.averaged[0].loss, JSON.stringify(history.averaged))
  assert.equal((trained.predict(tf.ones([1, 784])) as ReturnType<typeof tf.ones>).shape[1], 10)
})
