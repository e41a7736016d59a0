// The parameter server: holds the center variable (all of a model's flat weights, or one slice),
// applies workers' commits by one rule, answers pulls, and checkpoints itself so a restarted
// server continues where the last checkpoint left it.
import { createServer, type Server, type Socket } from 'node:net'
import { MaltError, describeValue } from '../../errors.js'
import { secretBytes } from './auth.js'
import { CenterState } from './center.js'
import { readCheckpoint, writeCheckpoint as writeCheckpointFile } from './checkpoint.js'
import { serveConnection } from './server-session.js'
import { UPDATE_RULES, type ParameterServerStats, type UpdateRule } from './types.js'

/** When a server writes its checkpoint (it always writes one on close). */
export interface ServerCheckpointOptions {
  /** The checkpoint file; if it exists when the server starts, the server resumes from it. */
  path: string
  /** Write after every this many updates. @defaultValue no count trigger */
  everyUpdates?: number
  /** Write every this many milliseconds when there were updates since the last one. @defaultValue no timer */
  everyMs?: number
}

/** Options of {@link ParameterServer.start}. */
export interface ParameterServerOptions {
  /** The run's shared secret: only clients that know it are served. */
  secret: string | Uint8Array
  /** The initial center (copied); ignored, but for its length, when a checkpoint is resumed. */
  initial: Float32Array
  /** How commits are applied. @defaultValue 'add' */
  rule?: UpdateRule
  /** Interface to listen on. @defaultValue '127.0.0.1' */
  host?: string
  /** TCP port; 0 picks a free one (see `address`). @defaultValue 0 */
  port?: number
  /** Checkpointing and resuming. @defaultValue none */
  checkpoint?: ServerCheckpointOptions
  /** A client that has not authenticated by then is dropped. @defaultValue 10000 */
  handshakeTimeoutMs?: number
}

const DEFAULTS = { rule: 'add', host: '127.0.0.1', port: 0, handshakeTimeoutMs: 10_000 } as const

function badOption(name: string, expected: string, received: unknown): MaltError {
  return new MaltError('PS_BAD_OPTION', `Parameter server option "${name}" must be ${expected}; received ${describeValue(received)}`)
}

function checkCount(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw badOption(name, 'a number > 0', value)
  return value
}

/**
 * A parameter server on a TCP port. Also usable in-process (tests, a single-machine run).
 *
 * @example
 * const server = await ParameterServer.start({ secret, initial: weights, rule: 'staleness' })
 * // workers: ParameterClient.connect({ servers: [server.address], secret, workerId })
 * await server.close()
 */
export class ParameterServer {
  private readonly sockets = new Set<Socket>()
  private refused = 0
  private checkpoints = 0
  private checkpointFailures = 0
  private checkpointedAt: number
  private checkpointing: Promise<void> | undefined
  private checkpointAgain = false
  private timer: NodeJS.Timeout | undefined
  private closing: Promise<void> | undefined
  /** The last background checkpoint failure, if the latest attempt failed. */
  lastCheckpointError: unknown

  private constructor(
    private readonly server: Server,
    private readonly center: CenterState,
    private readonly checkpointOptions: ServerCheckpointOptions | undefined,
    /** `host:port` to give the workers. */
    readonly address: string,
    /** True when the center and counter came from an existing checkpoint. */
    readonly resumed: boolean,
  ) {
    this.checkpointedAt = center.updates
  }

  /** Loads the checkpoint if there is one, listens, and resolves once the port is open. */
  static async start(options: ParameterServerOptions): Promise<ParameterServer> {
    const secret = secretBytes(options.secret, 'Parameter server')
    if (!(options.initial instanceof Float32Array)) throw badOption('initial', 'a Float32Array', options.initial)
    const rule = options.rule ?? DEFAULTS.rule
    if (!UPDATE_RULES.includes(rule)) throw badOption('rule', `one of ${UPDATE_RULES.map((r) => `'${r}'`).join(', ')}`, rule)
    const host = options.host ?? DEFAULTS.host
    const port = options.port ?? DEFAULTS.port
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw badOption('port', 'an integer in [0, 65535]', port)
    const handshakeTimeoutMs = checkCount('handshakeTimeoutMs', options.handshakeTimeoutMs) ?? DEFAULTS.handshakeTimeoutMs
    const checkpoint = options.checkpoint
    if (checkpoint !== undefined) {
      if (typeof checkpoint.path !== 'string' || checkpoint.path === '') throw badOption('checkpoint.path', 'a file path', checkpoint.path)
      checkCount('checkpoint.everyUpdates', checkpoint.everyUpdates)
      checkCount('checkpoint.everyMs', checkpoint.everyMs)
    }

    let initial: Float32Array = options.initial.slice()
    let updates = 0
    const saved = checkpoint === undefined ? undefined : await readCheckpoint(checkpoint.path)
    if (saved !== undefined) {
      if (saved.center.length !== initial.length) {
        throw new MaltError(
          'PS_CHECKPOINT_MISMATCH',
          `Parameter server checkpoint ${checkpoint?.path} holds ${saved.center.length} parameters; this server was started for ${initial.length}`,
          { location: { file: checkpoint?.path } },
        )
      }
      initial = saved.center
      updates = saved.updates
    }
    const center = new CenterState(initial, updates, rule)

    const listener = createServer({ noDelay: true })
    await new Promise<void>((resolve, reject) => {
      listener.once('error', (error) => reject(new MaltError('PS_LISTEN_FAILED', `Parameter server cannot listen on ${host}:${port}: ${error.message}`, { cause: error })))
      listener.listen(port, host, () => resolve())
    })
    const bound = listener.address()
    const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port
    const shownHost = host.includes(':') ? `[${host}]` : host
    const server = new ParameterServer(listener, center, checkpoint, `${shownHost}:${boundPort}`, saved !== undefined)
    server.listen(secret, handshakeTimeoutMs)
    return server
  }

  private listen(secret: Buffer, handshakeTimeoutMs: number): void {
    const host = {
      center: this.center,
      secret,
      handshakeTimeoutMs,
      stats: () => this.stats(),
      onRefused: () => void this.refused++,
    }
    this.server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
      serveConnection(socket, host)
    })
    // After listening, errors come from accepted sockets (handled there) or the OS; nothing to do but keep serving.
    this.server.on('error', () => undefined)
    const every = this.checkpointOptions
    if (every?.everyUpdates !== undefined) {
      const count = every.everyUpdates
      this.center.onUpdate = () => {
        if (this.center.updates - this.checkpointedAt >= count) this.scheduleCheckpoint()
      }
    }
    if (every?.everyMs !== undefined) {
      this.timer = setInterval(() => {
        if (this.center.updates !== this.checkpointedAt) this.scheduleCheckpoint()
      }, every.everyMs)
      this.timer.unref()
    }
  }

  /** The TCP port listened on. */
  get port(): number {
    return Number(this.address.slice(this.address.lastIndexOf(':') + 1))
  }

  /** The update counter u. */
  get updates(): number {
    return this.center.updates
  }

  get rule(): UpdateRule {
    return this.center.rule
  }

  /** A copy of the center variable now. */
  centerSnapshot(): Float32Array {
    return this.center.snapshot()
  }

  stats(): ParameterServerStats {
    const { center } = this
    return {
      parameters: center.length,
      updates: center.updates,
      commits: center.commits,
      pulls: center.pulls,
      bytesIn: center.bytesIn,
      bytesOut: center.bytesOut,
      connections: this.sockets.size,
      refused: this.refused,
      checkpoints: this.checkpoints,
      checkpointFailures: this.checkpointFailures,
      centerCopies: center.copies,
    }
  }

  /** Writes a checkpoint now (after any under way); rejects if it fails. Needs the `checkpoint` option. */
  async checkpoint(): Promise<void> {
    const path = this.checkpointOptions?.path
    if (path === undefined) throw new MaltError('PS_NO_CHECKPOINT', `Parameter server ${this.address} was started without a checkpoint path`)
    await this.checkpointing?.catch(() => undefined)
    await this.writeCheckpoint(path)
  }

  /** Starts a background checkpoint, or asks for one more after the one under way. */
  private scheduleCheckpoint(): void {
    const path = this.checkpointOptions?.path
    if (path === undefined || this.closing !== undefined) return
    if (this.checkpointing !== undefined) {
      this.checkpointAgain = true
      return
    }
    this.checkpointing = this.writeCheckpoint(path)
      .catch((error: unknown) => void (this.lastCheckpointError = error))
      .finally(() => {
        this.checkpointing = undefined
        if (this.checkpointAgain) {
          this.checkpointAgain = false
          this.scheduleCheckpoint()
        }
      })
  }

  private async writeCheckpoint(path: string): Promise<void> {
    // encodeCheckpoint copies the center synchronously: commits may go on while the file is written.
    const updates = this.center.updates
    this.checkpointedAt = updates
    try {
      await writeCheckpointFile(path, this.center.peek(), updates)
      this.checkpoints++
      this.lastCheckpointError = undefined
    } catch (error) {
      this.checkpointFailures++
      if (this.checkpointedAt === updates) this.checkpointedAt = -1 // retried at the next trigger
      throw error
    }
  }

  /**
   * Stops at once: the port is freed and every worker disconnected (their pending calls fail with
   * PS_CONNECTION_LOST); then the final checkpoint is written. Rejects only if that write fails.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer !== undefined) clearInterval(this.timer)
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
      for (const socket of this.sockets) socket.destroy()
      await closed
      await this.checkpointing?.catch(() => undefined)
      const path = this.checkpointOptions?.path
      if (path !== undefined) await this.writeCheckpoint(path)
    })()
    return this.closing
  }
}
