// The asynchronous optimisers' worker side: every `window` batches the replica talks to the
// parameter server(s) holding the center variable C (DESIGN.md's update rules):
// - DOWNPOUR: commit Δ = W − W_pulled (server: C += Δ), pull C, continue from it;
// - ADAG: the same with Δ / window (the normalised accumulated gradient);
// - DynSGD: commit Δ with the counter of the last pull; the server scales it by staleness;
// - AEASGD / EAMSGD: pull C, E = α(W − C), W −= E, commit E (server: C += E); EAMSGD's
//   workers run Nesterov momentum (chosen in optimizers.ts).
import type * as tfjs from '@tensorflow/tfjs'
import { ParameterClient } from './ps/client.js'
import type { Compression } from './ps/compression.js'
import type { ParameterRange } from './ps/slices.js'
import type { Communication, WorkerLink } from './hooks.js'

/** Errors that mean a server is gone (a restart brings it back), not a bug. */
const LOST = new Set(['PS_CONNECTION_LOST', 'PS_CONNECT_FAILED', 'PS_TIMEOUT'])
/** Reconnections one call tries (pauses of 0.1, 0.2, … up to 2 s: about 20 s in all) before it fails. */
const RECONNECT_ATTEMPTS = 14
import { getFlatWeights, setFlatWeights } from './weights.js'
import type { WorkerPayload } from './protocol.js'

/** What the driver puts in `settings.ps`. */
export interface ParameterServerSettings {
  servers: string[]
  ranges: ParameterRange[]
  secret: string
  compression: Compression
  window: number
  /** Elastic force α = ρ·η (AEASGD, EAMSGD). */
  alpha: number
}

/** The communication of the parameter-server algorithms. */
export async function parameterServerCommunication(payload: WorkerPayload, model: tfjs.LayersModel, link: WorkerLink): Promise<Communication> {
  const settings = payload.settings.ps as unknown as ParameterServerSettings
  const connect = (servers: string[]): Promise<ParameterClient> =>
    ParameterClient.connect({ servers, ranges: settings.ranges, secret: settings.secret, workerId: payload.worker, compression: settings.compression })
  let servers = settings.servers
  let client: ParameterClient | undefined
  let generation = 0
  /**
   * Runs `call` on a connected client. When a server is lost (killed and restarting, or not
   * answering) it reports it, takes the driver's answer — the current addresses, new ones once a
   * restarted server resumed from its checkpoint — and reconnects with a growing pause. A call
   * that may have reached some servers (a commit) is not repeated: `recover` runs instead, so an
   * update is applied at most once. Lossy compression's unsent residual is lost with the client.
   */
  const withServers = async <T>(call: (client: ParameterClient) => Promise<T>, recover: (client: ParameterClient) => Promise<T> = call): Promise<T> => {
    let failed = false
    for (let attempt = 0; ; attempt++) {
      try {
        client ??= await connect(servers)
        return await (failed ? recover(client) : call(client))
      } catch (error) {
        const code = (error as { code?: string }).code
        if (attempt >= RECONNECT_ATTEMPTS || !LOST.has(code ?? '')) throw error
        failed ||= client !== undefined
        await client?.close().catch(() => undefined)
        client = undefined
        link.send({ type: 'ps-lost', worker: payload.worker, error: (error as Error).message })
        let update = await link.inbox.next('ps')
        while (update.generation < generation) update = await link.inbox.next('ps')
        generation = update.generation
        servers = update.servers
        await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** attempt)))
      }
    }
  }
  const pull = (into?: Float32Array) => withServers(async (c) => (await c.pull(into)).center)
  const elastic = payload.algorithm === 'aeasgd' || payload.algorithm === 'eamsgd'
  // Start from the center (another worker may already have moved it).
  let pulled = await pull()
  setFlatWeights(model, pulled)
  const exchange = async (): Promise<void> => {
    const weights = getFlatWeights(model)
    if (elastic) {
      const center = await pull(pulled)
      const force = new Float32Array(weights.length)
      for (let i = 0; i < weights.length; i++) {
        force[i] = settings.alpha * (weights[i] - center[i])
        weights[i] -= force[i]
      }
      setFlatWeights(model, weights)
      // A commit cut by a lost server is dropped, not repeated (some slices may have it).
      await withServers(
        async (c) => void (await c.commit(force)),
        async () => undefined,
      )
      return
    }
    const scale = payload.algorithm === 'adag' ? 1 / settings.window : 1
    const delta = new Float32Array(weights.length)
    for (let i = 0; i < weights.length; i++) delta[i] = (weights[i] - pulled[i]) * scale
    // Cut by a lost server: the window's update is dropped and the worker continues from the center.
    pulled = await withServers(
      async (c) => (await c.commitPull(delta, pulled)).center,
      async (c) => (await c.pull(pulled)).center,
    )
    setFlatWeights(model, pulled)
  }
  let sinceExchange = 0
  return {
    async afterBatch() {
      if (++sinceExchange < settings.window) return
      sinceExchange = 0
      await exchange()
    },
    // Its own connection: a pull on the training client would move DynSGD's staleness counter.
    evaluationWeights: () =>
      withServers(async () => {
        const evaluation = await connect(servers)
        try {
          return (await evaluation.pull()).center
        } finally {
          await evaluation.close()
        }
      }),
    afterEpoch: async () => undefined,
    // What the last partial window learned reaches the center too.
    async finish() {
      if (sinceExchange > 0) await exchange()
      sinceExchange = 0
    },
    close: async () => client?.close(),
  }
}
