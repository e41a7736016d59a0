// What a worker does between batches, per algorithm: nothing (single, ensemble), a round with the
// driver after each epoch (averaging), or commits and pulls with a parameter server (the
// asynchronous optimisers) — each an implementation of one small interface.
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import type { DriverMessage, WorkerMessage } from './protocol.js'
import { getFlatWeights, readWeightsFile, setFlatWeights, writeWeightsFile } from './weights.js'
import type { WorkerPayload } from './worker.js'

/** The hooks the training loop calls. */
export interface Communication {
  /** After every batch (`step` counts batches from 1 over all epochs). */
  afterBatch(step: number): Promise<void>
  /** After every epoch. */
  afterEpoch(epoch: number): Promise<void>
  /** After the last epoch, before the worker's final weights are written. */
  finish(): Promise<void>
  /** Frees connections; called once, also after a failure. */
  close(): Promise<void>
}

/** What a communication gets from the worker. */
export interface WorkerLink {
  send(message: WorkerMessage): void
  inbox: { next<T extends DriverMessage['type']>(type: T): Promise<Extract<DriverMessage, { type: T }>> }
}

const nothing: Communication = {
  afterBatch: async () => undefined,
  afterEpoch: async () => undefined,
  finish: async () => undefined,
  close: async () => undefined,
}

/** AveragingTrainer: after each epoch the replica goes to the driver, which sends back the mean of all replicas. */
function averaging(payload: WorkerPayload, model: tfjs.LayersModel, link: WorkerLink): Communication {
  return {
    ...nothing,
    async afterEpoch(epoch) {
      const file = join(payload.outDir, `replica-${payload.worker}-${epoch}.bin`)
      await writeWeightsFile(file, getFlatWeights(model))
      link.send({ type: 'replica', worker: payload.worker, epoch, file })
      const center = await link.inbox.next('center')
      setFlatWeights(model, await readWeightsFile(center.file))
    },
  }
}

/** The communication of `payload.algorithm`. */
export async function communicationFor(payload: WorkerPayload, model: tfjs.LayersModel, link: WorkerLink): Promise<Communication> {
  switch (payload.algorithm) {
    case 'averaging':
      return averaging(payload, model, link)
    default:
      return nothing
  }
}
