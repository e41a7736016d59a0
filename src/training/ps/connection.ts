// A client's connection to one parameter server: connect and handshake, then requests answered in
// order (several may be in flight). When the connection breaks every pending call rejects at once
// with PS_CONNECTION_LOST, and later calls reject immediately: a dead server never hangs a worker.
import { connect, type Socket } from 'node:net'
import { MaltError } from '../../errors.js'
import { NONCE_BYTES, proofOf } from './auth.js'
import { decodeWelcome, type UpdateRule } from './types.js'
import { Encoding, FrameReader, Op, decodeError, opName, writeFrame, type FrameHeader } from './wire.js'

/** How to reach and authenticate with one server. */
export interface ConnectionSettings {
  /** `host:port` (`[v6 address]:port` for IPv6). */
  address: string
  secret: Buffer
  workerId: number
  connectTimeoutMs: number
  /** 0: no limit. */
  requestTimeoutMs: number
}

/** An answer: the frame's counter and payload (the request's destination when one was given and fits). */
export interface Reply {
  counter: number
  payload: Uint8Array
}

interface Pending {
  op: number
  expect: number
  destination: Uint8Array | undefined
  resolve(reply: Reply): void
  reject(error: Error): void
  timer: NodeJS.Timeout | undefined
}

/** Largest answer other than a center: stats, an error message. */
const SMALL_REPLY_BYTES = 64 * 1024
/** Socket reads per call at most: a 4 MB center arrives in a handful of reads. */
const READ_BUFFER_BYTES = 1 << 20

/** Splits `host:port` / `[v6]:port`; throws PS_BAD_OPTION. */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address)
  const port = match === null ? NaN : Number(match[3])
  if (match === null || port < 1 || port > 65535) {
    throw new MaltError('PS_BAD_OPTION', `Parameter server address ${JSON.stringify(address)} must be "host:port" (or "[v6 address]:port")`)
  }
  return { host: match[1] ?? match[2], port }
}

export class ServerConnection {
  private readonly pending: Pending[] = []
  private failure: MaltError | undefined
  private readonly closed: Promise<void>
  private welcome: { parameters: number; rule: UpdateRule; updates: number } | undefined

  private readonly socket: Socket
  private readonly reader: FrameReader

  private constructor(private readonly settings: ConnectionSettings) {
    const { host, port } = parseAddress(settings.address)
    this.reader = new FrameReader({
      peer: `parameter server ${settings.address}`,
      maxPayloadBytes: () => (this.welcome === undefined ? SMALL_REPLY_BYTES : Math.max(this.welcome.parameters * 4, SMALL_REPLY_BYTES)),
      destinationFor: (header) => (header.op === Op.CENTER ? this.pending[0]?.destination : undefined),
      onFrame: (header, payload) => this.onFrame(header, payload),
    })
    // Reads land in one reused buffer (no allocation per chunk) and are copied once, by the reader, into place.
    const onread = { buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES), callback: (bytes: number, buffer: Uint8Array) => this.onRead(buffer.subarray(0, bytes)) }
    this.socket = connect({ host, port, noDelay: true, onread })
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()))
  }

  /** Connects and authenticates; rejects with PS_CONNECT_FAILED, PS_AUTH_FAILED, PS_TIMEOUT… */
  static open(settings: ConnectionSettings): Promise<ServerConnection> {
    return new ServerConnection(settings).handshake()
  }

  private onRead(chunk: Uint8Array): boolean {
    try {
      this.reader.push(chunk)
    } catch (error) {
      this.fail(error instanceof MaltError ? error : new MaltError('PS_PROTOCOL', String(error)))
    }
    return true
  }

  /** `host:port` of the server. */
  get address(): string {
    return this.settings.address
  }

  /** Values the server holds, its rule, and its update counter when this connection was made. */
  get parameters(): number {
    return this.welcome?.parameters ?? 0
  }
  get rule(): UpdateRule {
    return this.welcome?.rule ?? 'add'
  }
  get updatesAtConnect(): number {
    return this.welcome?.updates ?? 0
  }

  private handshake(): Promise<ServerConnection> {
    const { socket, settings } = this
    return new Promise((resolve, reject) => {
      let lastSocketError: Error | undefined
      const timer = setTimeout(
        () => this.fail(new MaltError('PS_TIMEOUT', `No answer from parameter server ${settings.address} within ${settings.connectTimeoutMs} ms of connecting`)),
        settings.connectTimeoutMs,
      )
      // Until WELCOME, a failure rejects the handshake; after, it rejects the pending calls.
      this.pending.push({ op: Op.AUTH, expect: Op.WELCOME, destination: undefined, resolve: () => resolve(this), reject, timer })
      socket.on('error', (error) => (lastSocketError = error))
      socket.on('close', () => {
        if (this.welcome === undefined && lastSocketError !== undefined) {
          this.fail(new MaltError('PS_CONNECT_FAILED', `Cannot connect to parameter server ${settings.address}: ${lastSocketError.message}`, { cause: lastSocketError }))
        } else {
          const why = lastSocketError === undefined ? 'the server closed it' : lastSocketError.message
          this.fail(new MaltError('PS_CONNECTION_LOST', `Lost the connection to parameter server ${settings.address} (${why}); has the server stopped or died?`, { cause: lastSocketError }))
        }
      })
    })
  }

  private onFrame(header: FrameHeader, payload: Uint8Array): void {
    const { settings } = this
    if (header.op === Op.HELLO && this.welcome === undefined) {
      if (payload.byteLength !== NONCE_BYTES) return this.fail(protocolError(settings.address, `a HELLO of ${payload.byteLength} bytes; expected a ${NONCE_BYTES}-byte nonce`))
      writeFrame(this.socket, { op: Op.AUTH, encoding: Encoding.BYTES, workerId: settings.workerId, counter: 0 }, [proofOf(settings.secret, payload)])
      return
    }
    const head = this.pending.shift()
    if (head === undefined) return this.fail(protocolError(settings.address, `${opName(header.op)} while no request was waiting`))
    clearTimeout(head.timer)
    if (header.op === Op.ERROR) {
      const { code, message } = decodeError(payload)
      const error = new MaltError(code, `Parameter server ${settings.address} answered ${opName(head.op)} of worker ${settings.workerId}: ${message}`)
      head.reject(error)
      // Refusing the handshake ends the connection; a refused commit does not.
      if (this.welcome === undefined) this.fail(error)
      return
    }
    if (header.op !== head.expect) {
      head.reject(protocolError(settings.address, `${opName(header.op)} in answer to ${opName(head.op)}; expected ${opName(head.expect)}`))
      return this.fail(protocolError(settings.address, `${opName(header.op)} in answer to ${opName(head.op)}`))
    }
    if (header.op === Op.WELCOME) {
      try {
        this.welcome = { ...decodeWelcome(payload, settings.address), updates: header.counter }
      } catch (error) {
        head.reject(error as Error)
        return this.fail(error as MaltError)
      }
    }
    // Copy a reply that landed in the reader's reused buffer; a destination is the caller's own.
    const own = payload === head.destination ? payload : payload.slice()
    head.resolve({ counter: header.counter, payload: own })
  }

  /**
   * Sends a request and resolves with its answer (`expect`); `destination` receives a CENTER payload
   * of its exact size without an extra copy. Rejects with the server's error code when refused.
   */
  request(op: number, encoding: number, counter: number, parts: Uint8Array[], expect: number, destination?: Uint8Array): Promise<Reply> {
    if (this.failure !== undefined) return Promise.reject(new MaltError(this.failure.code, this.failure.message, { cause: this.failure }))
    return new Promise((resolve, reject) => {
      const { requestTimeoutMs, address } = this.settings
      const timer =
        requestTimeoutMs > 0
          ? setTimeout(() => this.fail(new MaltError('PS_TIMEOUT', `Parameter server ${address} did not answer ${opName(op)} within ${requestTimeoutMs} ms`)), requestTimeoutMs)
          : undefined
      this.pending.push({ op, expect, destination, resolve, reject, timer })
      writeFrame(this.socket, { op, encoding, workerId: this.settings.workerId, counter }, parts)
    })
  }

  /** Fails every pending call with `error` and ends the connection; later calls get the same error. */
  private fail(error: MaltError): void {
    this.failure ??= error
    for (const waiting of this.pending.splice(0)) {
      clearTimeout(waiting.timer)
      waiting.reject(this.failure === error ? error : new MaltError(this.failure.code, this.failure.message, { cause: this.failure }))
    }
    this.socket.destroy()
  }

  /** Ends the connection; pending calls reject with PS_CLIENT_CLOSED. Resolves once the socket is closed. */
  close(): Promise<void> {
    this.fail(new MaltError('PS_CLIENT_CLOSED', `The client of parameter server ${this.settings.address} was closed`))
    return this.closed
  }
}

function protocolError(address: string, what: string): MaltError {
  return new MaltError('PS_PROTOCOL', `Parameter server ${address} sent ${what}; is it a Malt parameter server of this version?`)
}
