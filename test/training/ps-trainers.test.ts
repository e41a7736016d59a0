// The asynchronous dist-keras optimisers against real parameter server processes, trained for
// real on Fashion-MNIST by two worker processes each: every one must reach a sensible test
// accuracy, and the model must be the center variable the servers hold.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { trainers } from '../../src/index.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { seededMlp, useFashion } from './fixtures/fashion.js'

const temp = useTempDir()
const fashion = useFashion(8000)
const accuracy = fashion.accuracy

const common = () => ({ model: seededMlp(), loss: 'categoricalCrossentropy', metrics: ['accuracy'], batchSize: 64, features: 'image', label: 'label', oneHot: 10, numWorkers: 2, epochs: 2, home: temp.join('home') })

for (const [name, make, floor] of [
  ['ADAG', () => new trainers.ADAG({ ...common(), communicationWindow: 12 }), 0.62],
  ['DOWNPOUR', () => new trainers.DOWNPOUR({ ...common(), communicationWindow: 5 }), 0.62],
  ['DynSGD', () => new trainers.DynSGD({ ...common() }), 0.62],
  ['AEASGD', () => new trainers.AEASGD({ ...common(), communicationWindow: 8 }), 0.62],
  ['EAMSGD', () => new trainers.EAMSGD({ ...common(), communicationWindow: 8, learningRate: 0.05 }), 0.62],
] as const) {
  test(`${name}: two workers and a parameter server train Fashion-MNIST`, async () => {
    const trainer = make()
    const model = await trainer.train(fashion.train())
    const acc = accuracy(model)
    assert.ok(acc > floor, `${name} test accuracy ${acc}`)
    const history = trainer.history()
    assert.equal(history.workers.length, 2)
    assert.deepEqual(history.lostWorkers, [])
    assert.equal(history.averaged.length, 2)
  })
}

test('two parameter servers, each holding a slice, with float16 commits, train as well', async () => {
  const model = await new trainers.ADAG({ ...common(), parameterServers: 2, compression: 'float16' }).train(fashion.train())
  const acc = accuracy(model)
  assert.ok(acc > 0.62, `test accuracy ${acc}`)
})
