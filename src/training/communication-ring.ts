// The synchronous algorithms' worker side, over a ring all-reduce among the workers (ranks and
// addresses handed out by the driver):
// - AllReduce (Horovod): every step, the gradients are averaged over the ring (tensor fusion
//   into buffers of `fusionBytes`, each reduced as soon as it is full while the next gradients
//   are still being read out) and every replica applies the same averaged step, so the replicas
//   stay identical;
// - EASGD (synchronous, Zhang et al. 2015): every `window` steps all workers meet: with the sum
//   S = Σ W_i from the ring, every worker computes the same new center C' = C + α(S − n·C) and
//   moves its replica W_i −= α(W_i − C). The center needs no server: each rank holds a copy.
import type * as tfjs from '@tensorflow/tfjs'
import { randomUUID } from 'node:crypto'
import { tf } from '../backend/index.js'
import { GradientReducer } from './allreduce/fusion.js'
import { RingListener } from './allreduce/listener.js'
import type { AllReduceRing } from './allreduce/ring.js'
import type { Communication, WorkerLink } from './hooks.js'
import type { WorkerPayload } from './protocol.js'
import { getFlatWeights, setFlatWeights } from './weights.js'

/** What the driver puts in `settings.ring`. */
export interface RingSettings {
  secret: string
  /** Bytes per fusion buffer (AllReduce); 0 turns fusion off. */
  fusionBytes: number
  /** Steps between EASGD's meetings. */
  window: number
  /** EASGD's elastic force α = ρ·η. */
  alpha: number
}

/** Joins the ring the driver forms from every worker's listener address. */
async function joinRing(payload: WorkerPayload, link: WorkerLink, secret: string): Promise<AllReduceRing> {
  const listener = await RingListener.open()
  link.send({ type: 'ring-address', worker: payload.worker, rank: payload.rank, address: listener.address })
  const { addresses, ringId } = await link.inbox.next('ring')
  return listener.join({ rank: payload.rank, addresses, secret, ringId })
}

/** One synchronous data-parallel step: gradients averaged over the ring, then applied. Returns [loss, ...metrics]. */
async function allReduceStep(model: tfjs.LayersModel, reducer: GradientReducer, xs: tfjs.Tensor, ys: tfjs.Tensor): Promise<number[]> {
  const variables = model.trainableWeights.map((weight) => weight.read() as tfjs.Variable)
  // A Sequential compiles the functional model it wraps: the compiled loss and metrics live there.
  const compiled = (model as unknown as { model?: tfjs.LayersModel }).model ?? model
  const lossFunction = compiled.lossFunctions[0]
  let metrics: tfjs.Scalar[] = []
  const { value, grads } = tf.variableGrads(() => {
    const predictions = model.apply(xs, { training: true }) as tfjs.Tensor
    metrics = compiled.metricsTensors.map(([metric]) => tf.keep(tf.mean(metric(ys, predictions)) as tfjs.Scalar))
    // As trainOnBatch: the layers' own losses (kernel regularisers...) count too.
    const loss = tf.mean(lossFunction(ys, predictions)) as tfjs.Scalar
    const regularisers = compiled.calculateLosses()
    return regularisers.length === 0 ? loss : (tf.add(loss, tf.addN(regularisers)) as tfjs.Scalar)
  }, variables)
  // Backward order (the last layer's gradients are ready first in a framework that streams them).
  const names = variables.map((variable) => variable.name).reverse()
  const arrays = names.map((name) => grads[name].dataSync() as Float32Array)
  tf.dispose(Object.values(grads))
  for (const array of arrays) reducer.push(array)
  const averaged = await reducer.flush()
  const applied: tfjs.NamedTensorMap = {}
  names.forEach((name, i) => (applied[name] = tf.tensor(averaged[i], variables.find((v) => v.name === name)!.shape)))
  model.optimizer.applyGradients(applied)
  tf.dispose(Object.values(applied))
  const values = [value.dataSync()[0], ...metrics.map((metric) => metric.dataSync()[0])]
  tf.dispose([value, ...metrics])
  return values
}

/** The communication of AllReduce and EASGD. */
export async function ringCommunication(payload: WorkerPayload, model: tfjs.LayersModel, link: WorkerLink): Promise<Communication> {
  const settings = payload.settings.ring as unknown as RingSettings
  const ring = await joinRing(payload, link, settings.secret)
  const close = (): Promise<void> => ring.close()
  if (payload.algorithm === 'allreduce') {
    const reducer = new GradientReducer(ring, { fusionBytes: settings.fusionBytes, op: 'mean' })
    // Statistics a layer keeps from its own batches (batch normalisation's moving mean and
    // variance) are not gradients: each replica's differ, so they are averaged at every epoch end.
    const averageStatistics = async (): Promise<void> => {
      const weights = model.nonTrainableWeights
      if (weights.length === 0) return
      const values = weights.map((weight) => weight.read().dataSync() as Float32Array)
      const flat = new Float32Array(values.reduce((sum, v) => sum + v.length, 0))
      let offset = 0
      for (const v of values) {
        flat.set(v, offset)
        offset += v.length
      }
      const mean = await ring.allReduce(flat, { op: 'mean' })
      offset = 0
      for (const weight of weights) {
        const size = weight.shape.reduce<number>((product, d) => product * (d ?? 1), 1)
        const value = tf.tensor(mean.subarray(offset, offset + size), weight.shape as number[])
        weight.write(value)
        value.dispose()
        offset += size
      }
    }
    return {
      trainStep: (xs, ys) => allReduceStep(model, reducer, xs, ys),
      afterBatch: async () => undefined,
      afterEpoch: averageStatistics,
      finish: async () => undefined,
      close,
    }
  }
  // EASGD: every replica starts from the same weights, so the center starts there too.
  const center = getFlatWeights(model)
  const workers = payload.workers
  let sinceMeeting = 0
  const meet = async (): Promise<void> => {
    const weights = getFlatWeights(model)
    const sum = await ring.allReduce(Float32Array.from(weights), { op: 'sum' })
    for (let i = 0; i < weights.length; i++) {
      const pull = settings.alpha * (weights[i] - center[i])
      weights[i] -= pull
      center[i] += settings.alpha * (sum[i] - workers * center[i])
    }
    setFlatWeights(model, weights)
  }
  return {
    async afterBatch() {
      if (++sinceMeeting < settings.window) return
      sinceMeeting = 0
      await meet()
    },
    evaluationWeights: async () => Float32Array.from(center),
    afterEpoch: async () => undefined,
    // The model a worker returns is the center (identical on every rank).
    async finish() {
      if (sinceMeeting > 0) await meet()
      sinceMeeting = 0
      setFlatWeights(model, center)
    },
    close,
  }
}

/** A fresh ring id per run, so a connection meant for another run's ring is refused. */
export function newRingId(): string {
  return randomUUID()
}
