// One training worker, run by an executor process as a task (src/cluster/types.ts): loads the
// model the driver saved, trains it on its own data shard batch by batch, and does what its
// algorithm says between batches (nothing, averaging rounds with the driver, commits and pulls
// with a parameter server). Live metrics go to the driver as messages while it trains.
import { hostname } from 'node:os'
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import { tf, ready } from '../backend/index.js'
import type { JsonValue, TaskChannel } from '../cluster/types.js'
import { MaltError } from '../errors.js'
import { readShardMeta, shardBatches, type ShardBatch, type ShardMeta } from './shards.js'
import type { DriverMessage, EpochLogs, WorkerMessage, WorkerPayload, WorkerResult } from './protocol.js'
import { createOptimizer, setLearningRate } from './optimizers.js'
import { getFlatWeights, readWeightsFile, setFlatWeights, writeWeightsFile } from './weights.js'
import { communicationFor } from './communication.js'
import type { Communication } from './hooks.js'

/** The driver's messages, queued until the worker waits for them. */
class Inbox {
  private readonly queue: DriverMessage[] = []
  private waiting?: () => void
  stopRequested = false

  constructor(channel: TaskChannel) {
    channel.onMessage((raw) => {
      const message = raw as unknown as DriverMessage
      if (message.type === 'stop') this.stopRequested = true
      this.queue.push(message)
      const wake = this.waiting
      this.waiting = undefined
      wake?.()
    })
  }

  /**
   * The first queued message of `type`, waiting for one; other messages stay queued for their own
   * `next` (a `ps` update can arrive while the worker waits at an epoch barrier). A `stop` rejects.
   */
  async next<T extends DriverMessage['type']>(type: T): Promise<Extract<DriverMessage, { type: T }>> {
    for (;;) {
      const index = this.queue.findIndex((message) => message.type === type)
      if (index >= 0) return this.queue.splice(index, 1)[0] as Extract<DriverMessage, { type: T }>
      if (this.stopRequested) throw new MaltError('TRAIN_STOPPED', 'the driver stopped the run')
      await new Promise<void>((resolve) => (this.waiting = resolve))
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
  send({ type: 'started', worker: payload.worker, pid: process.pid, host: hostname() })
  const meta = await readShardMeta(payload.shardPrefix, payload.worker)
  const model = await tf.loadLayersModel(`file://${join(payload.modelDir, 'model.json')}`)
  if (payload.initialWeights !== undefined) setFlatWeights(model, await readWeightsFile(payload.initialWeights))
  const optimizer = createOptimizer(payload.compile, payload.algorithm)
  model.compile({ optimizer, loss: payload.compile.loss, metrics: payload.compile.metrics })
  const names = ['loss', ...payload.compile.metrics.map(metricName)]
  const communication: Communication = await communicationFor(payload, model, { send, inbox })
  const epochs: EpochLogs[] = []
  const stepsPerEpoch = typeof payload.settings.stepsPerEpoch === 'number' ? payload.settings.stepsPerEpoch : undefined
  const validationMeta = payload.validationPrefix === undefined ? undefined : await readShardMeta(payload.validationPrefix, payload.worker)
  let step = 0
  let stopped = false
  try {
    for (let epoch = payload.startEpoch; epoch < payload.epochs && !stopped; epoch++) {
      const sums = new Array<number>(names.length).fill(0)
      let rows = 0
      let batchIndex = 0
      for await (const batch of shardBatches(payload.shardPrefix, payload.worker, meta, payload.batchSize, payload.seed + epoch * 7919 + payload.worker)) {
        const { xs, ys } = batchTensors(batch, payload, meta.featureWidth)
        let values: number[]
        try {
          if (communication.trainStep !== undefined) {
            values = await communication.trainStep(xs, ys)
          } else {
            const result = await model.trainOnBatch(xs, ys)
            values = Array.isArray(result) ? result : [result]
          }
        } finally {
          tf.dispose([xs, ys])
        }
        values.forEach((v, i) => (sums[i] += v * batch.rows))
        rows += batch.rows
        step++
        await communication.afterBatch(step)
        if (batchIndex % payload.reportEvery === 0) send({ type: 'batch', worker: payload.worker, epoch, batch: batchIndex, step, logs: logsOf(names, values) })
        batchIndex++
        // Lockstep workers stop only together, at an epoch barrier.
        if (inbox.stopRequested && stepsPerEpoch === undefined) {
          stopped = true
          break
        }
        // Lockstep algorithms: every worker runs the same number of steps (shards differ by a row).
        if (stepsPerEpoch !== undefined && batchIndex >= stepsPerEpoch) break
      }
      // An epoch cut short by a stop is not an epoch: nothing is reported or averaged for it.
      if (stopped) break
      await communication.afterEpoch(epoch)
      const logs = logsOf(names, sums.map((sum) => sum / Math.max(rows, 1)))
      const validation = validationMeta === undefined ? undefined : await evaluate(model, payload, validationMeta, names, communication)
      epochs.push({ epoch, ...logs, ...(validation === undefined ? {} : prefixed(validation.logs)) })
      // Where the driver cannot read the model (one worker, a ring), worker 0 hands it over for the epoch's checkpoint.
      let snapshot: string | undefined
      if (payload.settings.snapshots === true && payload.rank === 0) {
        snapshot = join(payload.outDir, `snapshot-${epoch}.bin`)
        await writeWeightsFile(snapshot, (await communication.evaluationWeights?.()) ?? getFlatWeights(model))
      }
      send({ type: 'epoch', worker: payload.worker, epoch, logs, ...(validation === undefined ? {} : { validation }), ...(snapshot === undefined ? {} : { snapshot }) })
      if (payload.epochBarrier) {
        const next = await inbox.next('continue')
        setLearningRate(optimizer, next.learningRate)
        if (next.stop) stopped = true
      }
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

/**
 * Evaluates this worker's validation shard on the weights the algorithm validates (the center
 * where there is one; the replica's own weights are put back after). Means over its rows.
 */
async function evaluate(model: tfjs.LayersModel, payload: WorkerPayload, meta: ShardMeta, names: readonly string[], communication: Communication): Promise<{ rows: number; logs: Record<string, number> }> {
  const evaluated = await communication.evaluationWeights?.()
  const own = evaluated === undefined ? undefined : getFlatWeights(model)
  if (evaluated !== undefined) setFlatWeights(model, evaluated)
  try {
    const sums = new Array<number>(names.length).fill(0)
    let rows = 0
    for await (const batch of shardBatches(payload.validationPrefix!, payload.worker, meta, 256, 0)) {
      const { xs, ys } = batchTensors(batch, payload, meta.featureWidth)
      const result = model.evaluate(xs, ys, { batchSize: batch.rows }) as tfjs.Scalar | tfjs.Scalar[]
      const scalars = Array.isArray(result) ? result : [result]
      scalars.forEach((scalar, i) => (sums[i] += scalar.dataSync()[0] * batch.rows))
      tf.dispose([xs, ys, ...scalars])
      rows += batch.rows
    }
    return { rows, logs: logsOf(names, sums.map((sum) => sum / Math.max(rows, 1))) }
  } finally {
    if (own !== undefined) setFlatWeights(model, own)
  }
}

/** Validation metrics as Keras names them: `val_loss`, `val_acc`. */
export function prefixed(logs: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(logs).map(([key, value]) => [`val_${key}`, value]))
}

/** Keras' names in logs: 'acc' for accuracy, as model.fit's history writes it. */
export function metricName(metric: string): string {
  return metric === 'accuracy' ? 'acc' : metric
}

function logsOf(names: readonly string[], values: readonly number[]): Record<string, number> {
  return Object.fromEntries(names.map((name, i) => [name, values[i]]))
}

export { readWeightsFile, setFlatWeights }
