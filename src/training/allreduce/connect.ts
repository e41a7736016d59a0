// The connecting half of a ring link: this rank dials its right neighbour (rank + 1), answers its
// ServerHello with a proof of the secret and checks the neighbour's proof in return. The socket
// reads through a StreamReceiver from the first byte, so the ring later reads its data the same way.
import { connect, type Socket } from 'node:net'
import { MaltError } from '../../errors.js'
import { ringError } from './errors.js'
import { SERVER_HELLO_BYTES, VERDICT_BYTES, clientProof, newNonce, readServerHello, readVerdict, type LinkIdentity } from './handshake.js'
import { StreamReceiver, type ReceiveTarget } from './receiver.js'
import type { RingLink } from './ring.js'

/** Pause between connection attempts to a listener that refused the TCP connection. */
const RETRY_MS = 100
/** Errors worth retrying: the neighbour's listener may be on a machine still setting up. */
const RETRYABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN'])

/** Splits `host:port` (IPv6 hosts in brackets). */
export function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':')
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
  return { host, port: Number(address.slice(colon + 1)) }
}

function aborted(signal: AbortSignal): MaltError {
  return signal.reason instanceof MaltError ? signal.reason : ringError('RING_CLOSED', 'Forming the ring was abandoned')
}

/** One attempt: connect, handshake; resolves with the authenticated socket and its receiver. */
function attempt(address: string, link: LinkIdentity, secret: Uint8Array, deadline: number, signal: AbortSignal): Promise<{ socket: Socket; receiver: StreamReceiver }> {
  const rightRank = link.serverRank
  return new Promise((resolve, reject) => {
    const receiver = new StreamReceiver()
    const { host, port } = splitAddress(address)
    const socket = connect({ host, port, noDelay: true, onread: receiver.onreadOption() })
    receiver.attach(socket)
    let settled = false
    const finish = (error?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      if (error === undefined) return resolve({ socket, receiver })
      socket.destroy()
      reject(error)
    }
    const onAbort = (): void => finish(aborted(signal))
    signal.addEventListener('abort', onAbort)
    const timer = setTimeout(
      () => finish(ringError('RING_TIMEOUT', `Rank ${link.clientRank} could not complete the handshake with rank ${rightRank} at ${address} within connectTimeoutMs`)),
      Math.max(0, deadline - Date.now()),
    )
    const clientNonce = newNonce()
    const hello = new Uint8Array(SERVER_HELLO_BYTES)
    const answer = new Uint8Array(VERDICT_BYTES)
    let serverNonce: Buffer | undefined
    const steps: ReceiveTarget[] = [
      {
        bytes: hello,
        filled: () => {
          serverNonce = readServerHello(hello)
          if (serverNonce === undefined) return finish(ringError('RING_AUTH_FAILED', `${address} (rank ${rightRank}) is not a ring listener: it did not greet with a Malt ring handshake`))
          socket.write(clientProof(secret, serverNonce, clientNonce, link))
        },
      },
      {
        bytes: answer,
        filled: () => {
          const outcome = readVerdict(answer, secret, serverNonce ?? Buffer.alloc(0), clientNonce, link)
          if (outcome === 'accepted') return finish()
          const why =
            outcome === 'refused'
              ? `rank ${rightRank} at ${address} refused rank ${link.clientRank}'s handshake: the two hold different secrets or ring ids, or disagree on ranks`
              : `rank ${rightRank} at ${address} failed to prove it holds the run's secret`
          finish(ringError('RING_AUTH_FAILED', `Ring handshake failed: ${why}`))
        },
      },
    ]
    receiver.use(() => steps.shift())
    socket.on('error', (error) => finish(error))
    socket.on('close', () => finish(ringError('RING_AUTH_FAILED', `Rank ${rightRank} at ${address} closed the connection during the ring handshake`)))
  })
}

/**
 * Connects to the right neighbour and authenticates both ways; retries refused connections until
 * `deadline`. Rejects with `RING_AUTH_FAILED` (no retry: the secret will not change) or `RING_TIMEOUT`.
 */
export async function connectToRight(
  address: string,
  link: LinkIdentity,
  secret: Uint8Array,
  deadline: number,
  signal: AbortSignal,
): Promise<RingLink & { receiver: StreamReceiver }> {
  for (;;) {
    if (signal.aborted) throw aborted(signal)
    try {
      const { socket, receiver } = await attempt(address, link, secret, deadline, signal)
      return { socket, receiver, rank: link.serverRank, address }
    } catch (error) {
      if (error instanceof MaltError) throw error
      const code = (error as NodeJS.ErrnoException).code ?? ''
      if (!RETRYABLE.has(code) || Date.now() + RETRY_MS >= deadline) {
        throw ringError('RING_TIMEOUT', `Rank ${link.clientRank} could not connect to rank ${link.serverRank} at ${address}: ${(error as Error).message}`, { cause: error })
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
    }
  }
}
