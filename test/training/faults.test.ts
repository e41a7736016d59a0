// Faults in distributed training, with real processes: a worker SIGKILLed mid-training (an
// asynchronous trainer goes on without it and keeps the center), and a train() interrupted by
// Ctrl-C or by an exception in a callback (every process stops; a second train() works).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { trainers } from '../../src/index.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { seededMlp, useFashion } from './fixtures/fashion.js'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)

const temp = useTempDir()
const fashion = useFashion(6000)
const accuracy = fashion.accuracy

const common = () => ({ model: seededMlp(32), loss: 'categoricalCrossentropy', metrics: ['accuracy'], batchSize: 32, features: 'image', label: 'label', oneHot: 10, numWorkers: 2, epochs: 2, reportEvery: 1, home: temp.join('home') })

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitDead(pids: number[], ms = 5000): Promise<void> {
  const until = Date.now() + ms
  while (pids.some(alive) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(pids.filter(alive), [], 'every worker process is gone')
}

test('DOWNPOUR: a worker SIGKILLed mid-training; the other finishes and the center is the trained model', async () => {
  const pids = new Map<number, number>()
  let killed = false
  const trainer = new trainers.DOWNPOUR({
    ...common(),
    callbacks: {
      onWorkerStart: (worker, { pid }) => void pids.set(worker, pid),
      onBatchEnd: (worker, batch) => {
        if (worker === 1 && batch >= 20 && !killed) {
          killed = true
          process.kill(pids.get(1)!, 'SIGKILL')
        }
      },
    },
  })
  const model = await trainer.train(fashion.train())
  assert.ok(killed)
  const history = trainer.history()
  assert.deepEqual(history.lostWorkers.map((lost) => lost.worker), [1])
  assert.match(history.lostWorkers[0].reason, /worker 1 failed \(crash\)/)
  assert.equal(history.workers[0].epochs.length, 2, 'worker 0 trained every epoch')
  const acc = accuracy(model)
  assert.ok(acc > 0.6, `test accuracy ${acc}`)
})

test('DynSGD: the parameter server SIGKILLed mid-training is restarted from its checkpoint; the workers reconnect and finish', async () => {
  const servers: { pid: number; resumed: boolean; updates: number }[] = []
  let killed = false
  const trainer = new trainers.DynSGD({
    ...common(),
    checkpointEveryMs: 100,
    callbacks: {
      onServerStart: (_server, info) => void servers.push(info),
      onBatchEnd: (worker, batch) => {
        if (worker === 0 && batch >= 60 && !killed) {
          killed = true
          process.kill(servers[0].pid, 'SIGKILL')
        }
      },
    },
  })
  const model = await trainer.train(fashion.train())
  assert.ok(killed)
  assert.equal(servers.length, 2, 'started, then restarted once')
  assert.equal(servers[1].resumed, true)
  assert.ok(servers[1].updates > 0, `resumed from a checkpoint with ${servers[1].updates} updates`)
  assert.deepEqual(trainer.serverRestarts().map((r) => r.server), [0])
  assert.deepEqual(trainer.history().lostWorkers, [], 'no worker was lost')
  assert.ok(trainer.history().workers.every((w) => w.epochs.length === 2))
  const acc = accuracy(model)
  assert.ok(acc > 0.6, `test accuracy ${acc}`)
})

test('AllReduce: a worker SIGKILLed in epoch 2 — the ring is re-formed with the survivor from the checkpoint after epoch 1', async () => {
  const pids = new Map<number, number>()
  let killed = false
  const trainer = new trainers.AllReduce({
    ...common(),
    epochs: 3,
    callbacks: {
      onWorkerStart: (worker, { pid }) => void pids.set(worker, pid),
      onBatchEnd: (worker, batch) => {
        if (!killed && trainer.history().averaged.length === 1 && worker === 1 && batch >= 10) {
          killed = true
          process.kill(pids.get(1)!, 'SIGKILL')
        }
      },
    },
  })
  const model = await trainer.train(fashion.train())
  assert.ok(killed)
  const history = trainer.history()
  assert.deepEqual(history.lostWorkers.map((lost) => lost.worker), [1])
  assert.deepEqual(history.averaged.map((e) => e.epoch), [0, 1, 2], 'epoch 2 trained again by the smaller ring, then epoch 3')
  assert.equal(history.workers[0].epochs.length, 3)
  const acc = accuracy(model)
  assert.ok(acc > 0.65, `test accuracy ${acc}`)
})

test('EASGD: a worker SIGKILLed after the first epoch — the survivor goes on from the center checkpointed after it', async () => {
  const pids = new Map<number, number>()
  let killed = false
  const trainer = new trainers.EASGD({
    ...common(),
    epochs: 2,
    communicationWindow: 4,
    callbacks: {
      onWorkerStart: (worker, { pid }) => void pids.set(worker, pid),
      onBatchEnd: (worker, batch) => {
        if (!killed && trainer.history().averaged.length === 1 && worker === 0 && batch >= 10) {
          killed = true
          process.kill(pids.get(0)!, 'SIGKILL')
        }
      },
    },
  })
  const model = await trainer.train(fashion.train())
  assert.ok(killed)
  const history = trainer.history()
  assert.deepEqual(history.lostWorkers.map((lost) => lost.worker), [0], 'rank 0 itself can be lost: worker 1 becomes rank 0')
  assert.deepEqual(history.averaged.map((e) => e.epoch), [0, 1])
  assert.ok(accuracy(model) > 0.6, `test accuracy ${accuracy(model)}`)
})

test('an exception in a callback stops every worker and the parameter server; a second train() in the same process works', async () => {
  const pids: number[] = []
  const trainer = new trainers.ADAG({
    ...common(),
    callbacks: {
      onWorkerStart: (_w, { pid }) => void pids.push(pid),
      onBatchEnd: (_w, batch) => {
        if (batch >= 5 && pids.length === 2) throw new Error('the callback failed')
      },
    },
  })
  await assert.rejects(trainer.train(fashion.train()), /the callback failed/)
  assert.equal(pids.length, 2)
  await waitDead(pids)
  const again = await new trainers.ADAG({ ...common(), epochs: 1 }).train(fashion.train())
  assert.ok(accuracy(again) > 0.4, 'the second run trains')
})

test('Ctrl-C (SIGINT) during train() stops every worker and the parameter server, and rejects with TRAIN_INTERRUPTED', async () => {
  // A driver process of its own: the test runner handles SIGINT itself.
  const fixture = fileURLToPath(new URL('../fixtures/train-interrupt.ts', import.meta.url))
  const child = await run(process.execPath, ['--import', 'tsx', fixture, temp.join('interrupt-home')], { timeout: 120_000 }).catch((error: { code?: number; stdout?: string; stderr?: string }) => error)
  const report = JSON.parse(String(child.stdout).trim().split('\n').at(-1)!) as { ended: string; pids: number[] }
  assert.equal(report.ended, 'TRAIN_INTERRUPTED', String(child.stderr))
  assert.equal((child as { code?: number }).code, 130)
  assert.equal(report.pids.length, 2)
  await waitDead(report.pids)
})
