// Forms a ring: every worker opens a RingListener on a free port, reports its address to the
// driver, and once the driver has sent everyone the full list (ordered by rank) joins: it connects
// to its right neighbour (rank + 1), accepts its left neighbour (rank − 1), and both connections
// pass the shared-secret handshake before a byte of data flows.
import { createServer, type Server, type Socket } from 'node:net'
import { hostname } from 'node:os'
import { describeValue, MaltError } from '../../errors.js'
import { ringError } from './errors.js'
import { CLIENT_PROOF_BYTES, newNonce, readClientProof, secretBytes, serverHello, verdict, verifyClientProof, type LinkIdentity } from './handshake.js'
import { connectToRight } from './connect.js'
import { AllReduceRing, type RingLink, type RingTuning } from './ring.js'

/** Options of {@link RingListener.open}. */
export interface RingListenerOptions {
  /** Interface to listen on. @defaultValue '127.0.0.1' (local executors; use '0.0.0.0' across machines) */
  host?: string
  /** Host name the other workers use to reach this one. @defaultValue `host`, or `os.hostname()` when `host` is a wildcard */
  advertisedHost?: string
}

/** Options of {@link RingListener.join}: what the driver sent, the run's secret, and tuning. */
export interface RingJoinOptions {
  /** This worker's rank, 0 ≤ rank < addresses.length. */
  rank: number
  /** Every worker's listener address (`host:port`), ordered by rank. */
  addresses: readonly string[]
  /** The run's shared secret (a string is taken as UTF-8); only holders of it can join. */
  secret: string | Uint8Array
  /** Names this ring (e.g. its generation) so connections meant for another ring are refused. @defaultValue '' */
  ringId?: string
  /** Limit for forming the ring (connecting, handshakes). @defaultValue 30000 */
  connectTimeoutMs?: number
  /** A pending collective fails with `RING_PEER_LOST` after this long without progress. @defaultValue 60000 */
  peerTimeoutMs?: number
  /** Size of the pieces a chunk is forwarded in (multiple of 4). @defaultValue 262144 (256 KiB) */
  segmentBytes?: number
}

/** Defaults of the listener's and the join's options (`lossGraceMs` is internal: see RingTuning). */
export const RING_DEFAULTS = { host: '127.0.0.1', connectTimeoutMs: 30_000, peerTimeoutMs: 60_000, segmentBytes: 256 * 1024, lossGraceMs: 250 }

/** A connection accepted before or during join, waiting for its ClientProof. */
interface Arrival {
  socket: Socket
  address: string
  nonce: Buffer
  received: Buffer
  settled: boolean
}

function positiveInteger(value: unknown, name: string, multipleOf = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value % multipleOf !== 0) {
    const what = multipleOf > 1 ? `a positive multiple of ${multipleOf}` : 'a positive integer'
    throw ringError('RING_BAD_OPTION', `RingListener.join option "${name}" must be ${what}; received ${describeValue(value)}`)
  }
  return value
}

/** Join options, checked. */
interface JoinSettings {
  link: Omit<LinkIdentity, 'clientRank' | 'serverRank'>
  secret: Uint8Array
  connectTimeoutMs: number
  tuning: RingTuning
}

/** Checks join options before any connection is made. */
function validated(options: RingJoinOptions, ownAddress: string): JoinSettings {
  const { addresses, rank } = options
  if (!Array.isArray(addresses) || addresses.length === 0 || addresses.some((address) => typeof address !== 'string' || !/^.+:\d+$/.test(address))) {
    throw ringError('RING_BAD_OPTION', `RingListener.join option "addresses" must be a non-empty list of "host:port"; received ${describeValue(addresses)}`)
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= addresses.length) {
    throw ringError('RING_BAD_OPTION', `RingListener.join option "rank" must be an integer in [0, ${addresses.length}); received ${describeValue(rank)}`)
  }
  if (addresses[rank] !== ownAddress) {
    throw ringError('RING_BAD_OPTION', `RingListener.join: addresses[${rank}] is ${describeValue(addresses[rank])} but this worker listens at ${describeValue(ownAddress)}; the driver must send each worker its own rank`)
  }
  const secret = options.secret
  if (!(typeof secret === 'string' || secret instanceof Uint8Array) || secret.length === 0) {
    throw ringError('RING_BAD_OPTION', 'RingListener.join option "secret" must be a non-empty string or Uint8Array')
  }
  const ringId = options.ringId ?? ''
  if (typeof ringId !== 'string') throw ringError('RING_BAD_OPTION', `RingListener.join option "ringId" must be a string; received ${describeValue(ringId)}`)
  return {
    link: { ringId, size: addresses.length },
    secret: secretBytes(secret),
    connectTimeoutMs: positiveInteger(options.connectTimeoutMs ?? RING_DEFAULTS.connectTimeoutMs, 'connectTimeoutMs'),
    tuning: {
      peerTimeoutMs: positiveInteger(options.peerTimeoutMs ?? RING_DEFAULTS.peerTimeoutMs, 'peerTimeoutMs'),
      segmentBytes: positiveInteger(options.segmentBytes ?? RING_DEFAULTS.segmentBytes, 'segmentBytes', 4),
      lossGraceMs: RING_DEFAULTS.lossGraceMs,
    },
  }
}

/**
 * A worker's listening socket for one ring, on a port the system picks.
 *
 * @example
 * const listener = await RingListener.open()
 * channel.send({ type: 'ring-address', address: listener.address })
 * // … the driver answers { type: 'ring', rank, addresses } …
 * const ring = await listener.join({ rank, addresses, secret })
 * await ring.allReduce(gradients, { op: 'mean' })
 * await ring.close()
 */
export class RingListener {
  private readonly arrivals: Arrival[] = []
  /** Set by join: checks an arrival's proof, and is told when one is accepted. */
  private onArrival: ((arrival: Arrival) => void) | undefined
  private closing: Promise<void> | undefined

  private constructor(
    private readonly server: Server,
    /** `host:port` to hand to the driver. */
    readonly address: string,
  ) {
    server.on('connection', (socket) => this.admit(socket))
  }

  /** Listens on a free port of `host`; resolves once listening. */
  static open(options: RingListenerOptions = {}): Promise<RingListener> {
    const host = options.host ?? RING_DEFAULTS.host
    const wildcard = host === '0.0.0.0' || host === '::'
    const advertised = options.advertisedHost ?? (wildcard ? hostname() : host)
    return new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true })
      server.once('error', (error) => reject(ringError('RING_BAD_OPTION', `RingListener could not listen on ${host}: ${error.message}`, { cause: error })))
      server.listen(0, host, () => {
        const bound = server.address()
        const port = typeof bound === 'object' && bound !== null ? bound.port : 0
        const shown = advertised.includes(':') ? `[${advertised}]` : advertised
        resolve(new RingListener(server, `${shown}:${port}`))
      })
    })
  }

  /**
   * Forms the ring: connects to rank + 1 and accepts rank − 1 (both authenticated), then stops
   * listening. Rejects with `RING_TIMEOUT`, `RING_AUTH_FAILED` or `RING_PEER_LOST`; either way the
   * listener is closed afterwards (a new ring needs a new listener).
   */
  async join(options: RingJoinOptions): Promise<AllReduceRing> {
    if (this.closing !== undefined || this.onArrival !== undefined) {
      throw ringError('RING_CLOSED', `RingListener ${this.address} was already joined or closed; open a new listener for a new ring`)
    }
    const { link, tuning, secret, connectTimeoutMs } = validated(options, this.address)
    const { rank } = options
    const size = link.size
    if (size === 1) {
      await this.close()
      return new AllReduceRing(0, 1, undefined, tuning)
    }
    const right = (rank + 1) % size
    const left = (rank + size - 1) % size
    const deadline = Date.now() + connectTimeoutMs
    const abandon = new AbortController()
    const upstreamPromise = connectToRight(options.addresses[right], { ...link, clientRank: rank, serverRank: right }, secret, deadline, abandon.signal)
    const downstreamPromise = this.acceptLeft({ ...link, clientRank: left, serverRank: rank }, secret, deadline, abandon.signal)
    const sides = [upstreamPromise, downstreamPromise]
    const timedOut = (error: unknown): boolean => error instanceof MaltError && error.code === 'RING_TIMEOUT'
    try {
      const [upstream, downstream] = await Promise.all([upstreamPromise, downstreamPromise])
      return new AllReduceRing(rank, size, { upstream, downstream }, tuning)
    } catch (error) {
      // Both sides share the deadline: after a time-out let the other side end too, so the error
      // tells everything that was missing. Otherwise stop it now. A failed join leaves nothing open.
      if (timedOut(error)) await Promise.allSettled(sides)
      abandon.abort(error)
      const settled = await Promise.allSettled(sides)
      for (const side of settled) if (side.status === 'fulfilled') side.value.socket.destroy()
      const timeouts = settled.flatMap((side) => (side.status === 'rejected' && timedOut(side.reason) ? [(side.reason as Error).message] : []))
      if (timeouts.length > 1) throw ringError('RING_TIMEOUT', timeouts.join('; '))
      throw error instanceof MaltError ? error : ringError('RING_TIMEOUT', `Rank ${rank} could not form its ring: ${String(error)}`, { cause: error })
    } finally {
      await this.close()
    }
  }

  /** Stops listening (the port is free at once) and drops connections not yet part of a ring. */
  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => {
      for (const arrival of this.arrivals.splice(0)) if (!arrival.settled) arrival.socket.destroy()
      // The listening handle closes now; the server's own 'close' would also wait for the ring's
      // accepted connection, which outlives the listener.
      this.server.close()
      setImmediate(resolve)
    })
    return this.closing
  }

  /** Greets every connection with a ServerHello at once and buffers its proof until join can judge it. */
  private admit(socket: Socket): void {
    if (this.closing !== undefined) return void socket.destroy()
    socket.setNoDelay(true)
    const arrival: Arrival = { socket, address: `${socket.remoteAddress}:${socket.remotePort}`, nonce: newNonce(), received: Buffer.alloc(0), settled: false }
    this.arrivals.push(arrival)
    const forget = (): void => {
      const index = this.arrivals.indexOf(arrival)
      if (index >= 0 && !arrival.settled) this.arrivals.splice(index, 1)
    }
    socket.on('data', (bytes: Buffer) => {
      if (arrival.settled) return
      arrival.received = Buffer.concat([arrival.received, bytes])
      if (arrival.received.length >= CLIENT_PROOF_BYTES) this.onArrival?.(arrival)
    })
    socket.on('error', forget)
    socket.on('close', forget)
    socket.write(serverHello(arrival.nonce))
  }

  /** Resolves with the connection of the left neighbour (`link.clientRank`) once one passes the handshake. */
  private acceptLeft(link: LinkIdentity, secret: Uint8Array, deadline: number, signal: AbortSignal): Promise<RingLink & { controlBytes: Uint8Array }> {
    const left = link.clientRank
    const refusals: string[] = []
    return new Promise((resolve, reject) => {
      const stop = (error: Error): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.onArrival = () => undefined
        reject(error)
      }
      const onAbort = (): void => stop(ringError('RING_CLOSED', 'Forming the ring was abandoned'))
      signal.addEventListener('abort', onAbort)
      const timer = setTimeout(() => {
        const refused = refusals.length > 0 ? `; refused: ${refusals.join('; ')}` : ''
        stop(ringError('RING_TIMEOUT', `Rank ${link.serverRank} waited past connectTimeoutMs for its left neighbour, rank ${left}, to connect and prove the run's secret${refused}`))
      }, Math.max(0, deadline - Date.now()))
      this.onArrival = (arrival) => {
        const proof = readClientProof(arrival.received.subarray(0, CLIENT_PROOF_BYTES))
        const accepted = proof !== undefined && verifyClientProof(secret, arrival.nonce, proof, link)
        arrival.settled = true
        arrival.socket.removeAllListeners('data').removeAllListeners('error').removeAllListeners('close')
        arrival.socket.write(verdict(accepted, secret, arrival.nonce, proof?.clientNonce ?? Buffer.alloc(32), link))
        if (!accepted) {
          const claim = proof === undefined ? 'not a ring handshake' : `claimed rank ${proof.clientRank} of ${proof.size}`
          refusals.push(`${arrival.address} (${claim}; wrong secret, ring or place)`)
          arrival.socket.on('error', () => undefined) // It may reset as we close; nothing to report.
          arrival.socket.end()
          return
        }
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        this.onArrival = () => undefined
        // Hold control frames in the socket until the ring listens; note errors meanwhile (the ring sees the socket destroyed).
        arrival.socket.pause()
        arrival.socket.on('error', () => undefined)
        resolve({ socket: arrival.socket, rank: left, address: arrival.address, controlBytes: arrival.received.subarray(CLIENT_PROOF_BYTES) })
      }
      for (const arrival of this.arrivals) if (!arrival.settled && arrival.received.length >= CLIENT_PROOF_BYTES) this.onArrival(arrival)
    })
  }
}
