// A worker's client of the parameter servers: one server holding the whole center, or several each
// holding a contiguous slice, pulled from and committed to in parallel.
import { MaltError, describeValue } from '../../errors.js'
import { secretBytes } from './auth.js'
import { CommitEncoder, checkCompression, type Compression } from './compression.js'
import { ServerConnection, parseAddress } from './connection.js'
import { checkRanges, type ParameterRange } from './slices.js'
import { decodeStats, type ParameterServerStats, type UpdateRule } from './types.js'
import { Encoding, Op, toHostOrder } from './wire.js'

/** Options of {@link ParameterClient.connect}. */
export interface ParameterClientOptions {
  /** `host:port` of each server, in slice order. */
  servers: readonly string[]
  /**
   * The slice of the flat vector each server holds (contiguous, in order).
   * @defaultValue the servers' sizes laid end to end
   */
  ranges?: readonly ParameterRange[]
  /** The run's shared secret. */
  secret: string | Uint8Array
  /** This worker's id (u32), sent with every frame. */
  workerId: number
  /** How commits travel. @defaultValue 'none' */
  compression?: Compression
  /** Connecting and the handshake must finish within this. @defaultValue 10000 */
  connectTimeoutMs?: number
  /** A call not answered within this fails with PS_TIMEOUT and drops the connection; 0: no limit. @defaultValue 60000 */
  requestTimeoutMs?: number
}

const DEFAULTS = { compression: 'none', connectTimeoutMs: 10_000, requestTimeoutMs: 60_000 } as const

/** A pulled center. */
export interface PullResult {
  center: Float32Array
  /** The update counter u (the largest over the servers; they agree when every commit reached all). */
  updates: number
  /** Each server's u. */
  serverUpdates: number[]
}

/** A commit's acknowledgement. */
export interface CommitResult {
  updates: number
  serverUpdates: number[]
}

function badOption(name: string, expected: string, received: unknown): MaltError {
  return new MaltError('PS_BAD_OPTION', `Parameter client option "${name}" must be ${expected}; received ${describeValue(received)}`)
}

function timeout(name: string, value: number | undefined, fallback: number, allowZero: boolean): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) throw badOption(name, allowZero ? 'a number >= 0' : 'a number > 0', value)
  return value
}

/**
 * The parameter server client of one worker. Remembers the counter of each server's last pull,
 * sent with the next commit (DynSGD's staleness), and the residual of lossy compression.
 *
 * @example
 * const client = await ParameterClient.connect({ servers: [address], secret, workerId: 0, compression: 'float16' })
 * let { center } = await client.pull()
 * // … train `window` steps from `center`, then:
 * ;({ center } = await client.commitPull(delta, center))
 * await client.close()
 */
export class ParameterClient {
  private readonly pulledAt: number[]
  private readonly encoder: CommitEncoder

  private constructor(
    private readonly connections: ServerConnection[],
    /** The slice each server holds. */
    readonly ranges: readonly ParameterRange[],
    compression: Compression,
    /** Length of the whole flat vector. */
    readonly parameterCount: number,
  ) {
    this.pulledAt = connections.map((connection) => connection.updatesAtConnect)
    this.encoder = new CommitEncoder(compression, parameterCount)
  }

  /** Connects to every server in parallel; if one fails, the others are closed and its error is thrown. */
  static async connect(options: ParameterClientOptions): Promise<ParameterClient> {
    const secret = secretBytes(options.secret, 'Parameter client')
    if (!Array.isArray(options.servers) || options.servers.length === 0 || options.servers.some((s) => typeof s !== 'string')) {
      throw badOption('servers', 'a non-empty list of "host:port" strings', options.servers)
    }
    for (const address of options.servers) parseAddress(address) // all checked before any socket opens
    const workerId = options.workerId
    if (!Number.isInteger(workerId) || workerId < 0 || workerId > 0xffffffff) throw badOption('workerId', 'an integer in [0, 2^32)', workerId)
    const compression = checkCompression(options.compression ?? DEFAULTS.compression)
    const connectTimeoutMs = timeout('connectTimeoutMs', options.connectTimeoutMs, DEFAULTS.connectTimeoutMs, false)
    const requestTimeoutMs = timeout('requestTimeoutMs', options.requestTimeoutMs, DEFAULTS.requestTimeoutMs, true)
    if (options.ranges !== undefined) {
      if (options.ranges.length !== options.servers.length) throw badOption('ranges', `one range per server (${options.servers.length})`, options.ranges)
      checkRanges(options.ranges)
    }

    const opened = await Promise.allSettled(
      options.servers.map((address) => ServerConnection.open({ address, secret, workerId, connectTimeoutMs, requestTimeoutMs })),
    )
    const connections = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
    const failed = opened.find((result) => result.status === 'rejected')
    try {
      if (failed !== undefined) throw failed.reason
      const ranges = options.ranges ?? laidEndToEnd(connections.map((connection) => connection.parameters))
      connections.forEach((connection, i) => {
        const { start, end } = ranges[i]
        if (connection.parameters !== end - start) {
          throw new MaltError('PS_SHARD_MISMATCH', `Parameter server ${options.servers[i]} holds ${connection.parameters} values; its range [${start}, ${end}) has ${end - start}`)
        }
        if (connection.rule !== connections[0].rule) {
          throw new MaltError('PS_SHARD_MISMATCH', `Parameter server ${options.servers[i]} applies the '${connection.rule}' rule, ${options.servers[0]} '${connections[0].rule}'; all must agree`)
        }
      })
      return new ParameterClient(connections, ranges, compression, ranges[ranges.length - 1].end)
    } catch (error) {
      await Promise.all(connections.map((connection) => connection.close()))
      throw error
    }
  }

  /** The servers' update rule. */
  get rule(): UpdateRule {
    return this.connections[0].rule
  }

  get compression(): Compression {
    return this.encoder.compression
  }

  /**
   * The center from every server, into `into` (allocated when omitted) without an extra copy: the
   * bytes land there as they arrive, so read it only once the promise has resolved.
   */
  pull(into?: Float32Array): Promise<PullResult> {
    return this.fetchCenter(Op.PULL, undefined, into)
  }

  /**
   * Sends Δ (the whole flat vector's length) to every server, each its slice, encoded by the
   * client's compression. Uncompressed, Δ is sent from its own memory: leave it unchanged until the
   * promise settles. If a server fails, the others may have applied their slices.
   */
  async commit(delta: Float32Array): Promise<CommitResult> {
    const commits = this.encodeCommit(delta)
    const replies = await Promise.all(
      this.connections.map((connection, i) => connection.request(Op.COMMIT, commits[i].encoding, this.pulledAt[i], commits[i].parts, Op.COMMITTED)),
    )
    const serverUpdates = replies.map((reply) => reply.counter)
    return { updates: Math.max(...serverUpdates), serverUpdates }
  }

  /** {@link commit} then {@link pull} in one round trip per server. */
  commitPull(delta: Float32Array, into?: Float32Array): Promise<PullResult> {
    return this.fetchCenter(Op.COMMIT_PULL, this.encodeCommit(delta), into)
  }

  /** Every server's counters, in server order. */
  async stats(): Promise<ParameterServerStats[]> {
    const replies = await Promise.all(this.connections.map((connection) => connection.request(Op.STATS, Encoding.BYTES, 0, [], Op.STATS_REPLY)))
    return replies.map((reply, i) => decodeStats(reply.payload, this.describeServer(i)))
  }

  /** What lossy compression has not delivered yet (it goes out with the next commits); zeros for `'none'`. */
  pendingResidual(): Float32Array {
    return this.encoder.pending()
  }

  /** Disconnects from every server; pending calls reject with PS_CLIENT_CLOSED. Resolves once the sockets are closed. */
  async close(): Promise<void> {
    await Promise.all(this.connections.map((connection) => connection.close()))
  }

  private describeServer(i: number): string {
    const { start, end } = this.ranges[i]
    return `${this.connections[i].address} (parameters [${start}, ${end}))`
  }

  private encodeCommit(delta: Float32Array): ReturnType<CommitEncoder['encode']>[] {
    if (!(delta instanceof Float32Array) || delta.length !== this.parameterCount) {
      const received = delta instanceof Float32Array ? `a Float32Array of ${delta.length}` : describeValue(delta)
      throw new MaltError('PS_BAD_COMMIT', `A commit must be a Float32Array of ${this.parameterCount} values (the flat vector); received ${received}`)
    }
    return this.ranges.map(({ start, end }) => this.encoder.encode(delta, start, end))
  }

  private async fetchCenter(op: number, commits: ReturnType<CommitEncoder['encode']>[] | undefined, into?: Float32Array): Promise<PullResult> {
    const center = into ?? new Float32Array(this.parameterCount)
    if (!(center instanceof Float32Array) || center.length !== this.parameterCount) {
      throw new MaltError('PS_BAD_OPTION', `A pull's destination must be a Float32Array of ${this.parameterCount} values; received ${describeValue(into)}`)
    }
    const serverUpdates = await Promise.all(
      this.connections.map(async (connection, i) => {
        const { start, end } = this.ranges[i]
        const destination = new Uint8Array(center.buffer, center.byteOffset + start * 4, (end - start) * 4)
        const commit = commits?.[i]
        const reply = await connection.request(op, commit?.encoding ?? Encoding.BYTES, this.pulledAt[i], commit?.parts ?? [], Op.CENTER, destination)
        if (reply.payload !== destination) {
          throw new MaltError('PS_PROTOCOL', `Parameter server ${this.describeServer(i)} sent a center of ${reply.payload.byteLength} bytes; expected ${destination.byteLength}`)
        }
        toHostOrder(destination, 4)
        this.pulledAt[i] = reply.counter
        return reply.counter
      }),
    )
    return { center, updates: Math.max(...serverUpdates), serverUpdates }
  }
}

function laidEndToEnd(sizes: number[]): ParameterRange[] {
  let start = 0
  return sizes.map((size) => ({ start, end: (start += size) }))
}
