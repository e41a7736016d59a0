// The dist-keras trainers that need neither a parameter server nor a ring, trained for real on
// Fashion-MNIST by worker processes: each must reach a sensible test accuracy, report live
// metrics to the driver while it trains, and leave nothing running.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { data, trainers } from '../../src/index.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { seededMlp, useFashion } from './fixtures/fashion.js'
import { runMalt } from '../helpers/cli.js'
import { ExperimentIndex } from '../../src/experiments/store/index-db.js'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const temp = useTempDir()
const fashion = useFashion(8000)
const accuracy = fashion.accuracy

const common = () => ({ model: seededMlp(), loss: 'categoricalCrossentropy', metrics: ['accuracy'], batchSize: 64, features: 'image', label: 'label', oneHot: 10, home: temp.join('home') })

test('SingleTrainer trains one worker on all the data; live batch and epoch metrics reach the driver', async () => {
  const batches: number[] = []
  const epochs: Record<string, number>[] = []
  const trainer = new trainers.SingleTrainer({ ...common(), epochs: 2, callbacks: { onBatchEnd: (_w, batch) => void batches.push(batch), onEpochEnd: (_e, logs) => void epochs.push(logs) } })
  const model = await trainer.train(fashion.train())
  const acc = accuracy(model)
  assert.ok(acc > 0.72, `test accuracy ${acc}`)
  assert.equal(epochs.length, 2)
  assert.ok(epochs[1].loss < epochs[0].loss, `loss falls: ${JSON.stringify(epochs)}`)
  assert.ok(batches.length >= 12, `live batch metrics: ${batches.length}`)
  const history = trainer.history()
  assert.equal(history.workers.length, 1)
  assert.deepEqual(history.averaged.map((e) => e.epoch), [0, 1])
  assert.ok(history.averaged[1].acc > 0.6)
})

test('AveragingTrainer: two workers, the model is the mean of the replicas after each epoch', async () => {
  const trainer = new trainers.AveragingTrainer({ ...common(), numWorkers: 2, epochs: 3 })
  const model = await trainer.train(fashion.train())
  const acc = accuracy(model)
  assert.ok(acc > 0.7, `test accuracy ${acc}`)
  const history = trainer.history()
  assert.equal(history.workers.length, 2)
  assert.ok(history.workers.every((w) => w.epochs.length === 3))
})

test('EnsembleTrainer returns one independently trained model per worker', async () => {
  const models = await new trainers.EnsembleTrainer({ ...common(), numWorkers: 2, epochs: 2 }).train(fashion.train())
  assert.equal(models.length, 2)
  const accs = models.map(accuracy)
  assert.ok(accs.every((acc) => acc > 0.65), `test accuracies ${accs}`)
  assert.notDeepEqual(Array.from(models[0].getWeights()[0].dataSync().slice(0, 8)), Array.from(models[1].getWeights()[0].dataSync().slice(0, 8)), 'trained on different shards')
})

test('stop on target: the run ends once the averaged metric reaches the target; no partial epoch is recorded', async () => {
  const trainer = new trainers.SingleTrainer({ ...common(), epochs: 20, stopOnTarget: { metric: 'accuracy', value: 0.7 } })
  await trainer.train(fashion.train())
  const epochs = trainer.history().averaged.length
  assert.ok(epochs < 3, `stopped after ${epochs} epochs`)
  // Every recorded epoch is whole: the last one's batches are as many as the first's.
  const batches = (epoch: number) => trainer.history().workers[0].batches.filter((b) => b.epoch === epoch).length
  assert.equal(batches(epochs - 1), batches(0))
  const averaging = new trainers.AveragingTrainer({ ...common(), epochs: 20, stopOnTarget: { metric: 'accuracy', value: 0.6 } })
  await averaging.train(fashion.train())
  assert.ok(averaging.history().averaged.length < 4, `averaging stopped after ${averaging.history().averaged.length} epochs`)
})

test('a training run is an experiment run: index row, per-worker and center TensorBoard files, checkpoints, the final model', async () => {
  const home = temp.join('recorded')
  const validationData = await data.fashionMnist({ split: 'test' }).skip(1000).take(500).toArray()
  const trainer = new trainers.AveragingTrainer({ ...common(), home, name: 'fashion-averaging', numWorkers: 2, epochs: 2, validationData })
  await trainer.train(fashion.train())
  const id = trainer.experimentId
  assert.ok(id !== undefined && id > 0)
  const index = await ExperimentIndex.open(home)
  try {
    const row = index.getExperiment(id)!
    assert.equal(row.kind, 'distributed')
    assert.equal(row.state, 'finished')
    assert.equal(row.name, 'fashion-averaging')
    const trialDir = join(row.runDir, 'train')
    for (const dir of ['worker-0', 'worker-1', 'center']) assert.ok(readdirSync(join(trialDir, dir)).some((f) => f.startsWith('events.out.tfevents')), `${dir} has TensorBoard events`)
    assert.deepEqual(readdirSync(join(trialDir, 'checkpoints')).sort(), ['ckpt-0', 'ckpt-1'])
    assert.ok(readFileSync(join(row.runDir, 'experiment.json'), 'utf8').length < 20_000, 'the validation rows are not stored as settings')
    assert.ok(existsSync(join(trialDir, 'model', 'model.json')))
    const result = JSON.parse(readFileSync(join(trialDir, 'result.json'), 'utf8')) as { state: string; metrics: Record<string, number>; value: number }
    assert.equal(result.state, 'finished')
    assert.ok(result.metrics.acc > 0.5 && Number.isFinite(result.value))
    assert.deepEqual(readdirSync(join(trialDir, 'workers')).filter((f) => f.endsWith('.bin')), [], 'scratch files removed')
  } finally {
    index.close()
  }
  const shown = await runMalt(['experiments', 'show', String(id), '--home', home])
  assert.equal(shown.code, 0, shown.stderr)
  assert.match(shown.stdout, /distributed/)
  const exported = await runMalt(['models', 'export', '--repo', temp.join('repo'), '--name', 'fashion', '--experiment', String(id), '--home', home])
  assert.equal(exported.code, 0, exported.stderr)
  // A single worker's run has checkpoints too: worker 0 hands its model over after each epoch.
  const single = new trainers.SingleTrainer({ ...common(), home, epochs: 2 })
  await single.train(fashion.train())
  const again = await ExperimentIndex.open(home)
  const singleDir = join(again.getExperiment(single.experimentId!)!.runDir, 'train')
  again.close()
  assert.deepEqual(readdirSync(join(singleDir, 'checkpoints')).sort(), ['ckpt-0', 'ckpt-1'])
})

test('validation data is evaluated after every epoch; the learning-rate scheme lowers the rate when val_loss stops improving', async () => {
  const validation = await data.fashionMnist({ split: 'test' }).skip(1000).take(1000).toArray()
  // A large Adam step overshoots, so val_loss stops improving within a few epochs.
  const trainer = new trainers.SingleTrainer({ ...common(), learningRate: 0.05, epochs: 5, validationData: validation, learningRateScheme: { patience: 1, factor: 0.1 } })
  const epochs: Record<string, number>[] = []
  await new trainers.SingleTrainer({ ...common(), epochs: 1, validationData: validation, callbacks: { onEpochEnd: (_e, logs) => void epochs.push(logs) } }).train(fashion.train())
  assert.ok(epochs[0].val_loss > 0 && epochs[0].val_acc > 0.5, `validation metrics reach the callbacks: ${JSON.stringify(epochs[0])}`)
  await trainer.train(fashion.train())
  const history = trainer.history()
  assert.ok(history.averaged.every((e) => Number.isFinite(e.val_loss)), JSON.stringify(history.averaged))
  assert.ok(history.learningRates.length >= 1, `the rate was lowered: ${JSON.stringify(history.averaged.map((e) => e.val_loss))}`)
  assert.ok(Math.abs(history.learningRates[0].learningRate - 0.005) < 1e-9)
  // Each drop follows an epoch whose val_loss was no better than the best before it.
  for (const { epoch } of history.learningRates) {
    const best = Math.min(...history.averaged.filter((e) => e.epoch < epoch).map((e) => e.val_loss))
    assert.ok(history.averaged[epoch].val_loss >= best - 1e-4, `epoch ${epoch}`)
  }
})
