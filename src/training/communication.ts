// What a worker does between batches, per algorithm: nothing (single, ensemble), a round with the
// driver after each epoch (averaging), or commits and pulls with a parameter server (the
// asynchronous optimisers) — each an implementation of one small interface.
import { join } from 'node:path'
import type * as tfjs from '@tensorflow/tfjs'
import type { Communication, WorkerLink } from './hooks.js'
import { getFlatWeights, readWeightsFile, setFlatWeights, writeWeightsFile } from './weights.js'
import type { WorkerPayload } from './protocol.js'

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
    case 'downpour':
    case 'adag':
    case 'dynsgd':
    case 'aeasgd':
    case 'eamsgd':
      return (await import('./communication-ps.js')).parameterServerCommunication(payload, model, link)
    case 'allreduce':
    case 'easgd':
      return (await import('./communication-ring.js')).ringCommunication(payload, model, link)
    default:
      return nothing
  }
}
