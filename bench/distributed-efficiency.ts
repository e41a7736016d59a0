// Statistical efficiency of the distributed trainers: the Fashion-MNIST MLP and CNN of the
// native-backend issue trained by each trainer with 2 workers for the same number of epochs, test
// accuracy next to SingleTrainer's (the baseline, measured in the same run), and wall time.
// Every trainer sees 64 rows per step in all: SingleTrainer batches of 64, the 2-worker trainers
// batches of 32 each (Horovod's rule: keep the global batch, or scale the rate). Each is trained
// with several shuffling seeds (one run moves ±1 point with the data order alone); the table
// gives the mean and the range. Target: ADAG and AllReduce within 1.5 points of SingleTrainer.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import { data, tf, trainers } from '../src/index.js'
import type { Row } from '../src/data/types.js'
import type { TrainerOptions } from '../src/training/index.js'
import { buildModel, type ModelKind } from './lib/models.js'

/** Training rows and epochs; `MALT_BENCH_TRAIN_ROWS=60000` for the whole set. */
const TRAIN_ROWS = Number(process.env.MALT_BENCH_TRAIN_ROWS ?? 20_000)
const EPOCHS = Number(process.env.MALT_BENCH_EPOCHS ?? 2)
const TEST_ROWS = 10_000
const TOLERANCE_POINTS = 1.5
/** Shuffling seeds per trainer. */
const SEEDS = Number(process.env.MALT_BENCH_SEEDS ?? 3)
/** Rows per step over all workers. */
const GLOBAL_BATCH = 64

type Build = (options: TrainerOptions) => { train(rows: Row[]): Promise<tfjs.LayersModel | tfjs.LayersModel[]> }

/** The trainers compared, with dist-keras' default settings unless the name says otherwise. */
function trainerTable(): [string, Build][] {
  return [
    ['SingleTrainer', (o) => new trainers.SingleTrainer({ ...o, batchSize: GLOBAL_BATCH })],
    ['AllReduce', (o) => new trainers.AllReduce(o)],
    ['ADAG (window 12)', (o) => new trainers.ADAG({ ...o, communicationWindow: 12 })],
    // Hermans (2017), ADAG's paper: the window about equal to the number of workers.
    ['ADAG (window 2)', (o) => new trainers.ADAG({ ...o, communicationWindow: 2 })],
    ['DOWNPOUR', (o) => new trainers.DOWNPOUR(o)],
    ['DynSGD', (o) => new trainers.DynSGD(o)],
    ['AEASGD', (o) => new trainers.AEASGD(o)],
    ['EAMSGD (rate 0.01)', (o) => new trainers.EAMSGD({ ...o, learningRate: 0.01 })],
    ['EASGD', (o) => new trainers.EASGD(o)],
    ['AveragingTrainer', (o) => new trainers.AveragingTrainer(o)],
    ['EnsembleTrainer', (o) => new trainers.EnsembleTrainer(o)],
  ]
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length
}

function accuracy(models: tfjs.LayersModel[], x: tfjs.Tensor, labels: Int32Array): number {
  // An ensemble votes with its members' mean scores.
  const predicted = tf.tidy(() => tf.addN(models.map((model) => model.predict(x) as tfjs.Tensor)).argMax(1).dataSync())
  let right = 0
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) right++
  return right / labels.length
}

export async function run(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'malt-bench-distributed-'))
  try {
    const rows = await data.fashionMnist({ split: 'train' }).take(TRAIN_ROWS).toArray()
    const testRows = await data.fashionMnist({ split: 'test' }).take(TEST_ROWS).toArray()
    const labels = Int32Array.from(testRows.map((row) => row.label))
    const flat = new Float32Array(testRows.length * 784)
    testRows.forEach((row, i) => flat.set(row.image, i * 784))
    console.log(`Fashion-MNIST: ${rows.length} training rows, ${EPOCHS} epochs, ${GLOBAL_BATCH} rows per step, Adam; 2 workers; test accuracy on ${testRows.length} test images; ${SEEDS} seeds`)
    for (const kind of ['mlp', 'cnn'] as ModelKind[]) {
      const x = kind === 'cnn' ? tf.tensor4d(flat, [testRows.length, 28, 28, 1]) : tf.tensor2d(flat, [testRows.length, 784])
      const results: { name: string; accuracies: number[]; seconds: number[] }[] = []
      for (const [name, build] of trainerTable()) {
        const result = { name, accuracies: [] as number[], seconds: [] as number[] }
        for (let seed = 1; seed <= SEEDS; seed++) {
          const started = performance.now()
          const trained = await build({
            model: buildModel(kind, 7),
            optimizer: 'adam',
            loss: 'categoricalCrossentropy',
            metrics: ['accuracy'],
            numWorkers: 2,
            batchSize: GLOBAL_BATCH / 2,
            features: 'image',
            label: 'label',
            oneHot: 10,
            featureShape: kind === 'cnn' ? [28, 28, 1] : undefined,
            epochs: EPOCHS,
            seed,
            home,
            verbose: false,
          }).train(rows)
          result.seconds.push((performance.now() - started) / 1000)
          const models = Array.isArray(trained) ? trained : [trained]
          result.accuracies.push(accuracy(models, x, labels))
          models.forEach((model) => model.dispose())
        }
        results.push(result)
        console.log(`  ${kind} ${name}: ${result.accuracies.map((a) => (a * 100).toFixed(2)).join(', ')}% in ${result.seconds.map((t) => t.toFixed(1)).join(', ')} s`)
      }
      x.dispose()
      const baseline = results[0]
      console.log(`\n${kind.toUpperCase()} (mean of ${SEEDS} seeds): trainer | test accuracy (range) | vs SingleTrainer, points | wall s | SingleTrainer wall ÷ this`)
      for (const result of results) {
        const points = (mean(result.accuracies) - mean(baseline.accuracies)) * 100
        const verdict = result.name.startsWith('ADAG') || result.name === 'AllReduce' ? (points >= -TOLERANCE_POINTS ? '  (target met)' : '  (target NOT met)') : ''
        const range = `${(Math.min(...result.accuracies) * 100).toFixed(2)}–${(Math.max(...result.accuracies) * 100).toFixed(2)}`
        console.log(`  ${result.name.padEnd(20)} | ${(mean(result.accuracies) * 100).toFixed(2)}% (${range}) | ${points >= 0 ? '+' : ''}${points.toFixed(2)}${verdict} | ${mean(result.seconds).toFixed(1)} | ${(mean(baseline.seconds) / mean(result.seconds)).toFixed(2)}×`)
      }
    }
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}
