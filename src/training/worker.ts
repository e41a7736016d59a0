// One training worker, run by an executor process as a task (src/cluster/types.ts): loads the
// model the driver saved, trains it on its own data shard batch by batch, and does what its
// algorithm says between batches (nothing, averaging rounds with the driver, commits and pulls
// with a parameter server). Live metrics go to the driver as messages while it trains.
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import { tf, ready } from '../backend/index.js'
import type { JsonValue, TaskChannel } from '../cluster/types.js'
import { MaltError } from '../errors.js'
import { readShardMeta, shardBatches, type ShardBatch } from './shards.js'
import type { Algorithm, CompileSpec, WorkerMessage, DriverMessage, WorkerResult, EpochLogs } from './protocol.js'
import { createOptimizer } from './optimizers.js'
import { getFlatWeights, readWeightsFile, setFlatWeights, writeWeightsFile } from './weights.js'
import { communicationFor, type Communication } from './communication.js'

/** What the driver sends a worker. */
export interface WorkerPayload {
  algorithm: Algorithm
  worker: number
  workers: number
  /** The initial model (model.json + weights). */
  modelDir: string
  /** Shard files `${shardPrefix}-<worker>.bin/.json`. */
  shardPrefix: string
  compile: CompileSpec
  batchSize: number
  epochs: number
  /** Integer labels one-hot encoded to this many classes. */
  oneHot?: number
  /** Each row's features reshaped, e.g. [28, 28, 1]. */
  featureShape?: number[]
  seed: number
  /** Where the worker writes its weights files. */
  outDir: string
  /** Batches between live `batch` messages. */
  reportEvery: number
  /** Algorithm settings (window, elastic force, parameter server...). */
  settings: { [key: string]: JsonValue }
}

/** The driver's messages, queued until the worker waits for them. */
class Inbox {
  private readonly queue: DriverMessage[] = []
  private waiting?: (message: DriverMessage) => void
  stopRequested = false

  constructor(channel: TaskChannel) {
    channel.onMessage((raw) => {
      const message = raw as unknown as DriverMessage
      if (message.type === 'stop') this.stopRequested = true
      if (this.waiting !== undefined) {
        const resolve = this.waiting
        this.waiting = undefined
        resolve(message)
      } else {
        this.queue.push(message)
      }
    })
  }

  /** The next message of `type` (a stop in between rejects: the run is ending). */
  async next<T extends DriverMessage['type']>(type: T): Promise<Extract<DriverMessage, { type: T }>> {
    for (;;) {
      const message = this.queue.shift() ?? (await new Promise<DriverMessage>((resolve) => (this.waiting = resolve)))
      if (message.type === type) return message as Extract<DriverMessage, { type: T }>
      if (message.type === 'stop') throw new MaltError('TRAIN_STOPPED', 'the driver stopped the run')
    }
  }
}

function batchTensors(batch: ShardBatch, payload: WorkerPayload, width: number): { xs: tfjs.Tensor; ys: tfjs.Tensor } {
  return tf.tidy(() => {
    const xs = tf.tensor(batch.features, [batch.rows, ...(payload.featureShape ?? [width])], 'float32')
    const ys = payload.oneHot !== undefined ? tf.oneHot(tf.tensor1d(batch.labels, 'int32'), payload.oneHot).toFloat() : tf.tensor2d(batch.labels, [batch.rows, 1])
    return { xs, ys }
  })
}

/** Runs one worker to the end; resolves with its history and its final weights file. */
export async function trainingWorkerTask(raw: JsonValue, channel: TaskChannel): Promise<JsonValue> {
  await ready()
  const payload = raw as unknown as WorkerPayload
  const send = (message: WorkerMessage): void => channel.send(message as unknown as JsonValue)
  const inbox = new Inbox(channel)
  const meta = await readShardMeta(payload.shardPrefix, payload.worker)
  const model = await tf.loadLayersModel(`file://${join(payload.modelDir, 'model.json')}`)
  const optimizer = createOptimizer(payload.compile, payload.algorithm)
  model.compile({ optimizer, loss: payload.compile.loss, metrics: payload.compile.metrics })
  const names = ['loss', ...payload.compile.metrics.map(metricName)]
  const communication: Communication = await communicationFor(payload, model, { send, inbox })
  const epochs: EpochLogs[] = []
  let step = 0
  let stopped = false
  try {
    for (let epoch = 0; epoch < payload.epochs && !stopped; epoch++) {
      const sums = new Array<number>(names.length).fill(0)
      let rows = 0
      let batchIndex = 0
      for await (const batch of shardBatches(payload.shardPrefix, payload.worker, meta, payload.batchSize, payload.seed + epoch * 7919 + payload.worker)) {
        const { xs, ys } = batchTensors(batch, payload, meta.featureWidth)
        let values: number[]
        try {
          const result = await model.trainOnBatch(xs, ys)
          values = Array.isArray(result) ? result : [result]
        } finally {
          tf.dispose([xs, ys])
        }
        values.forEach((v, i) => (sums[i] += v * batch.rows))
        rows += batch.rows
        step++
        await communication.afterBatch(step)
        if (batchIndex % payload.reportEvery === 0) send({ type: 'batch', worker: payload.worker, epoch, batch: batchIndex, logs: logsOf(names, values) })
        batchIndex++
        if (inbox.stopRequested) {
          stopped = true
          break
        }
      }
      const logs = logsOf(names, sums.map((sum) => sum / Math.max(rows, 1)))
      epochs.push({ epoch, ...logs })
      send({ type: 'epoch', worker: payload.worker, epoch, logs })
      await communication.afterEpoch(epoch)
    }
    await communication.finish()
    const weightsFile = join(payload.outDir, `worker-${payload.worker}.bin`)
    await writeWeightsFile(weightsFile, getFlatWeights(model))
    const result: WorkerResult = { worker: payload.worker, epochs, steps: step, stopped, weightsFile }
    return result as unknown as JsonValue
  } finally {
    await communication.close()
    model.dispose()
  }
}

/** Keras' names in logs: 'acc' for accuracy, as model.fit's history writes it. */
export function metricName(metric: string): string {
  return metric === 'accuracy' ? 'acc' : metric
}

function logsOf(names: readonly string[], values: readonly number[]): Record<string, number> {
  return Object.fromEntries(names.map((name, i) => [name, values[i]]))
}

export { readWeightsFile, setFlatWeights }
