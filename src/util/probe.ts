// Reachability probes for the optional services, speaking a few bytes of each protocol so
// that "reachable" means the right server answered, not just that a port was open.
import { Socket } from 'node:net'

/** The answer of one probe. */
export interface ProbeResult {
  reachable: boolean
  /** What answered, or why nothing did. */
  detail: string
}

/** host and port of a `redis://` or `postgres://` URL (default port filled in), or undefined if it is not a URL. */
export function hostPort(url: string, defaultPort: number): { host: string; port: number } | undefined {
  try {
    const parsed = new URL(url)
    return { host: parsed.hostname || '127.0.0.1', port: parsed.port ? Number(parsed.port) : defaultPort }
  } catch {
    return undefined
  }
}

const invalidUrl = (url: string): ProbeResult => ({ reachable: false, detail: `${JSON.stringify(url)} is not a valid URL (expected e.g. redis://host:6379)` })

function exchange(host: string, port: number, request: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket()
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no answer within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.connect(port, host, () => socket.write(request))
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      clearTimeout(timer)
      socket.destroy()
      resolve(Buffer.concat(chunks))
    })
  })
}

/** Sends a Redis PING (RESP) and expects `+PONG` (or an auth error, which is still Redis). */
export async function probeRedis(url: string, timeoutMs = 1000): Promise<ProbeResult> {
  const address = hostPort(url, 6379)
  if (!address) return invalidUrl(url)
  const { host, port } = address
  try {
    const reply = (await exchange(host, port, Buffer.from('PING\r\n'), timeoutMs)).toString('latin1')
    if (reply.startsWith('+PONG')) return { reachable: true, detail: `Redis answered PING at ${host}:${port}` }
    if (reply.startsWith('-NOAUTH')) return { reachable: true, detail: `Redis at ${host}:${port} (needs a password in the URL)` }
    return { reachable: false, detail: `${host}:${port} answered, but not as Redis` }
  } catch (error) {
    return { reachable: false, detail: `${host}:${port}: ${(error as Error).message}` }
  }
}

/** Sends a PostgreSQL SSLRequest; a PostgreSQL server answers one byte, `S` or `N`. */
export async function probePostgres(url: string, timeoutMs = 1000): Promise<ProbeResult> {
  const address = hostPort(url, 5432)
  if (!address) return invalidUrl(url)
  const { host, port } = address
  const sslRequest = Buffer.alloc(8)
  sslRequest.writeInt32BE(8, 0)
  sslRequest.writeInt32BE(80877103, 4)
  try {
    const reply = await exchange(host, port, sslRequest, timeoutMs)
    if (reply.length >= 1 && (reply[0] === 0x53 || reply[0] === 0x4e)) {
      return { reachable: true, detail: `PostgreSQL answered at ${host}:${port}` }
    }
    return { reachable: false, detail: `${host}:${port} answered, but not as PostgreSQL` }
  } catch (error) {
    return { reachable: false, detail: `${host}:${port}: ${(error as Error).message}` }
  }
}
