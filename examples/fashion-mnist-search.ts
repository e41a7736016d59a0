// The README's experiments example: one training function for Fashion-MNIST, launched once and
// then searched with grid, random and evolutionary search on local executor processes.
// Run it with `npx tsx examples/fashion-mnist-search.ts` (add `--quick` for a 1-minute version);
// then `npx malt experiments list` and `npx malt experiments report ID --html report.html`.
import { data, experiment, tf, type TrialContext } from 'malt'

const quick = process.argv.includes('--quick')

type Rows = Awaited<ReturnType<ReturnType<typeof data.fashionMnist>['toArray']>>
// Loaded once per executor process: executors are reused across trials.
let cached: { train: Rows; test: Rows } | undefined

async function load(samples: number): Promise<{ train: Rows; test: Rows }> {
  cached ??= {
    train: await data.fashionMnist({ split: 'train' }).take(samples).toArray(),
    test: await data.fashionMnist({ split: 'test' }).take(2000).toArray(),
  }
  return cached
}

type Matrix = ReturnType<typeof tf.tensor2d>

function tensors(rows: Rows): { xs: Matrix; ys: Matrix } {
  const images = new Float32Array(rows.length * 784)
  rows.forEach((row, index) => images.set(row.image, index * 784))
  const xs = tf.tensor2d(images, [rows.length, 784])
  const ys = tf.oneHot(tf.tensor1d(rows.map((row) => row.label), 'int32'), 10).toFloat() as Matrix
  return { xs, ys }
}

/** Trains a dense network on Fashion-MNIST; returns the test accuracy and loss. */
export async function train(params: Record<string, number | string | boolean>, ctx: TrialContext): Promise<{ accuracy: number; loss: number; model: string }> {
  const lr = Number(params.lr ?? 0.001)
  const dropout = Number(params.dropout ?? 0.2)
  const layers = Number(params.layers ?? 1)
  const epochs = quick ? 2 : 4
  const { train: trainRows, test: testRows } = await load(quick ? 3000 : 10000)
  const model = tf.sequential()
  model.add(tf.layers.dense({ inputShape: [784], units: 128, activation: 'relu' }))
  for (let i = 1; i < layers; i++) model.add(tf.layers.dense({ units: 64, activation: 'relu' }))
  model.add(tf.layers.dropout({ rate: dropout }))
  model.add(tf.layers.dense({ units: 10, activation: 'softmax' }))
  model.compile({ optimizer: tf.train.adam(lr), loss: 'categoricalCrossentropy', metrics: ['accuracy'] })
  const trainSet = tensors(trainRows)
  const testSet = tensors(testRows)
  for (let epoch = 1; epoch <= epochs && !ctx.shouldStop(); epoch++) {
    const history = await model.fit(trainSet.xs, trainSet.ys, { epochs: 1, batchSize: 64, shuffle: true, verbose: 0, validationData: [testSet.xs, testSet.ys] })
    const last = (name: string): number => Number(history.history[name]?.at(-1))
    ctx.report(epoch, { loss: last('loss'), accuracy: last('acc'), val_loss: last('val_loss'), val_accuracy: last('val_acc') })
    await ctx.checkpoint(model)
  }
  const [loss, accuracy] = (model.evaluate(testSet.xs, testSet.ys) as ReturnType<typeof tf.scalar>[]).map((score) => score.dataSync()[0])
  const saved = await ctx.saveModel(model)
  tf.dispose([trainSet.xs, trainSet.ys, testSet.xs, testSet.ys])
  model.dispose()
  return { accuracy, loss, model: saved }
}

const launched = await experiment.launch(train, { name: 'fashion-mnist', params: { lr: 0.01 }, versionedResources: ['examples/fashion-mnist-search.ts'] })
console.log(`launch: accuracy ${launched.trials[0].metrics.accuracy.toFixed(4)} in ${launched.runDir}`)

const grid = await experiment.gridSearch(train, { lr: [0.001, 0.005, 0.01], dropout: [0.5, 0.6] }, { name: 'fashion-mnist', metric: 'accuracy', direction: 'max' })
console.log(`grid: ${grid.trials.length} trials, best ${grid.best?.name} accuracy ${grid.best?.value.toFixed(4)} (experiment ${grid.id})`)

const space = { lr: experiment.float(0.0001, 0.01, { log: true }), dropout: [0.1, 0.6], layers: [1, 3] }
const random = await experiment.randomSearch(train, space, { name: 'fashion-mnist', metric: 'accuracy', trials: quick ? 4 : 20, seed: 1, stopping: 'median' })
console.log(`random: ${random.trials.length} trials, best ${random.best?.name} accuracy ${random.best?.value.toFixed(4)} (experiment ${random.id})`)

const evolved = await experiment.evolutionarySearch(train, { lr: [0.0001, 0.01], layers: [1, 5] }, {
  name: 'fashion-mnist',
  metric: 'accuracy',
  generations: quick ? 1 : 10,
  population: quick ? 4 : 8,
  mutation: 0.5,
  crossover: 0.7,
  direction: 'max',
})
console.log(`evolutionary: ${evolved.trials.length} trials, best ${evolved.best?.name} accuracy ${evolved.best?.value.toFixed(4)} (experiment ${evolved.id})`)
