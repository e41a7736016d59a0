// Parameter server benchmark: a 1M-parameter center (4 MB) in its own process, 2 worker processes
// each doing commit+pull (COMMIT_PULL) as fast as they can for a fixed time, float32 and float16
// commits; against raw loopback TCP in the same run — a plain Node socket server and 2 client
// processes moving the same payload bytes in the same request/response pattern (and, for scale,
// streaming both ways at once). Raw and PS alternate for several rounds (the machine is shared);
// medians are reported. Run by `npm run bench -- distributed`; this file is also the child
// processes (MALT_PS_BENCH_ROLE).
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { ParameterClient, ParameterServer, type Compression, type ParameterServerStats } from '../src/training/ps/index.js'

const SECONDS = Number(process.env.MALT_BENCH_SECONDS ?? 5)
const ROUNDS = Number(process.env.MALT_BENCH_ROUNDS ?? 3)
const PARAMETERS = 1_000_000
const CENTER_BYTES = PARAMETERS * 4
const WORKERS = 2
const TARGET_RATIO = 0.7
const SECRET = 'bench secret'
const ROLE_ENV = 'MALT_PS_BENCH_ROLE'
const CONFIG_ENV = 'MALT_PS_BENCH_CONFIG'
const self = fileURLToPath(import.meta.url)

interface Config {
  address?: string
  port?: number
  compression?: Compression
  workerId?: number
  mode?: 'request-response' | 'stream'
  requestBytes?: number
  responseBytes?: number
}

/** What a load process reports after its timed window. */
interface LoadReport {
  roundTrips: number
  bytes: number
  seconds: number
  cpuMs: number
}

// ---- child processes ----

function send(message: unknown): void {
  process.send?.(message)
}

function nextMessage(): Promise<unknown> {
  return new Promise((resolve) => process.once('message', resolve))
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

/** Warm up, say ready, wait for go, run `step` for SECONDS, report; `bytesMoved` counts payload bytes both ways so far. */
async function timedLoop(step: () => Promise<void>, bytesMoved: () => number): Promise<void> {
  for (let i = 0; i < 5; i++) await step()
  send({ type: 'ready' })
  await nextMessage()
  const [started, cpu, bytesBefore] = [performance.now(), process.cpuUsage(), bytesMoved()]
  let roundTrips = 0
  while (performance.now() < started + SECONDS * 1000) {
    await step()
    roundTrips++
  }
  const seconds = (performance.now() - started) / 1000
  const report: LoadReport = { roundTrips, bytes: bytesMoved() - bytesBefore, seconds, cpuMs: cpuMsSince(cpu) }
  send({ type: 'report', report })
}

/** A server process: announce, measure CPU from 'go', report it at 'stop'. */
async function serveUntilStopped(listening: Record<string, unknown>, stop: () => Promise<Record<string, unknown>>): Promise<void> {
  send({ type: 'listening', ...listening })
  await nextMessage()
  const cpu = process.cpuUsage()
  await nextMessage()
  const cpuMs = cpuMsSince(cpu)
  send({ type: 'stopped', cpuMs, ...(await stop()) })
}

async function psServer(): Promise<void> {
  const server = await ParameterServer.start({ secret: SECRET, initial: new Float32Array(PARAMETERS) })
  await serveUntilStopped({ address: server.address }, async () => {
    await server.close()
    return { stats: server.stats() }
  })
}

async function psWorker(config: Config): Promise<void> {
  const compression = config.compression ?? 'none'
  const client = await ParameterClient.connect({ servers: [config.address ?? ''], secret: SECRET, workerId: config.workerId ?? 0, compression })
  const delta = Float32Array.from({ length: PARAMETERS }, (_, i) => Math.sin(i) * 1e-3)
  const center = new Float32Array(PARAMETERS)
  const up = compression === 'float16' ? CENTER_BYTES / 2 : CENTER_BYTES
  let moved = 0
  const step = async (): Promise<void> => {
    await client.commitPull(delta, center)
    moved += up + CENTER_BYTES
  }
  await timedLoop(step, () => moved)
  await client.close()
}

/** Writes `bytes` of `block` and resolves when they have left the process. */
function writeBytes(socket: Socket, block: Buffer, bytes: number): Promise<void> {
  return new Promise((resolve) => socket.write(block.subarray(0, bytes), () => resolve()))
}

async function rawServer(config: Config): Promise<void> {
  const block = Buffer.alloc(CENTER_BYTES, 1)
  const sockets = new Set<Socket>()
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    if (config.mode === 'stream') {
      const pump = (): void => {
        while (!socket.destroyed && socket.write(block));
      }
      socket.on('drain', pump)
      socket.on('data', () => undefined)
      return pump()
    }
    // Answer every whole request with a response, as the PS answers COMMIT_PULL with the center.
    let received = 0
    const requestBytes = config.requestBytes ?? 0
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      for (; received >= requestBytes; received -= requestBytes) void writeBytes(socket, block, config.responseBytes ?? 0)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  await serveUntilStopped({ port: (server.address() as { port: number }).port }, async () => {
    for (const socket of sockets) socket.destroy()
    server.close()
    return {}
  })
}

async function rawClient(config: Config): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port: config.port ?? 0, noDelay: true })
  await once(socket, 'connect')
  const block = Buffer.alloc(CENTER_BYTES, 2)
  let moved = 0
  if (config.mode === 'stream') {
    // Both ways at once; a "round trip" is a 100 ms slice (not reported).
    socket.on('data', (chunk: Buffer) => (moved += chunk.length))
    const pump = (): void => {
      while (socket.write(block, () => (moved += block.length)));
    }
    socket.on('drain', pump)
    pump()
    await timedLoop(() => new Promise((resolve) => setTimeout(resolve, 100)), () => moved)
  } else {
    const requestBytes = config.requestBytes ?? 0
    const responseBytes = config.responseBytes ?? 0
    let received = 0
    let answered: (() => void) | undefined
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (received >= responseBytes) {
        received -= responseBytes
        answered?.()
      }
    })
    const step = async (): Promise<void> => {
      const answer = new Promise<void>((resolve) => (answered = resolve))
      await writeBytes(socket, block, requestBytes)
      await answer
      moved += requestBytes + responseBytes
    }
    await timedLoop(step, () => moved)
  }
  socket.destroy()
}

const role = process.env[ROLE_ENV]
if (role !== undefined) {
  const config = JSON.parse(process.env[CONFIG_ENV] ?? '{}') as Config
  const roles: Record<string, (config: Config) => Promise<void>> = { psServer, psWorker, rawServer, rawClient }
  await roles[role](config)
  process.disconnect?.()
}

// ---- the driver ----

function startRole(name: string, config: Config = {}): ChildProcess {
  // fork() passes this process's execArgv (tsx's loader) to the child.
  return fork(self, [], { env: { ...process.env, [ROLE_ENV]: name, [CONFIG_ENV]: JSON.stringify(config) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

function messageOf<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`bench child ${child.pid} exited (${code}) before sending "${type}"`))
    const onMessage = (message: { type: string } & T): void => {
      if (message.type !== type) return
      child.off('message', onMessage)
      child.off('exit', onExit)
      resolve(message)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/** One measurement: summed rates of the load processes, CPU per round trip. */
interface Measured {
  roundTripsPerSecond: number
  bytesPerSecond: number
  serverCpuMsPerRoundTrip: number
  workerCpuMsPerRoundTrip: number
  /** Commits that copied the center (PS only). */
  centerCopies?: number
}

/** Runs a server role and WORKERS load roles: warm-up, SECONDS together, reports. */
async function measure(serverRole: string, serverConfig: Config, loadRole: string, loadConfig: (listening: Config, index: number) => Config): Promise<Measured> {
  const server = startRole(serverRole, serverConfig)
  const listening = await messageOf<Config>(server, 'listening')
  const loads = Array.from({ length: WORKERS }, (_, i) => startRole(loadRole, loadConfig(listening, i)))
  await Promise.all(loads.map((load) => messageOf(load, 'ready')))
  const reports = Promise.all(loads.map((load) => messageOf<{ report: LoadReport }>(load, 'report')))
  for (const child of [server, ...loads]) child.send({ type: 'go' })
  const results = (await reports).map((message) => message.report)
  const stopped = messageOf<{ cpuMs: number; stats?: ParameterServerStats }>(server, 'stopped')
  server.send({ type: 'stop' })
  const { cpuMs, stats } = await stopped
  await Promise.all([server, ...loads].map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)))
  const roundTrips = results.reduce((sum, r) => sum + r.roundTrips, 0)
  return {
    roundTripsPerSecond: results.reduce((sum, r) => sum + r.roundTrips / r.seconds, 0),
    bytesPerSecond: results.reduce((sum, r) => sum + r.bytes / r.seconds, 0),
    serverCpuMsPerRoundTrip: cpuMs / roundTrips,
    workerCpuMsPerRoundTrip: results.reduce((sum, r) => sum + r.cpuMs, 0) / roundTrips,
    centerCopies: stats?.centerCopies,
  }
}

function measurePs(compression: Compression): Promise<Measured> {
  return measure('psServer', {}, 'psWorker', (listening, workerId) => ({ address: listening.address, compression, workerId }))
}

function measureRaw(mode: 'request-response' | 'stream', requestBytes = 0, responseBytes = 0): Promise<Measured> {
  return measure('rawServer', { mode, requestBytes, responseBytes }, 'rawClient', (listening) => ({ port: listening.port, mode, requestBytes, responseBytes }))
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const megabytes = (bytes: number): string => (bytes / 1e6).toFixed(0)
const percent = (ratio: number): string => `${(100 * ratio).toFixed(0)}%`

interface Row {
  name: string
  runs: Measured[]
  /** PS / raw payload bandwidth, per round (PS rows). */
  ratios?: number[]
}

function printTable(rows: Row[]): void {
  const header = ['', 'round trips/s', 'payload MB/s', 'CPU ms/round trip (server + workers)', 'vs raw (median; per round)']
  const cells = rows.map(({ name, runs, ratios }) => {
    const pick = (key: keyof Measured): number => median(runs.map((run) => run[key] ?? 0))
    return [
      name,
      pick('roundTripsPerSecond') > 0 && !name.includes('streaming') ? pick('roundTripsPerSecond').toFixed(1) : '-',
      megabytes(pick('bytesPerSecond')),
      name.includes('streaming') ? '-' : `${pick('serverCpuMsPerRoundTrip').toFixed(1)} + ${pick('workerCpuMsPerRoundTrip').toFixed(1)}`,
      ratios === undefined ? '' : `${percent(median(ratios))}; ${ratios.map(percent).join(', ')}`,
    ]
  })
  const widths = header.map((_, column) => Math.max(...[header, ...cells].map((row) => row[column].length)))
  for (const row of [header, ...cells]) console.log(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  '))
}

export async function run(): Promise<void> {
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ')
  console.log(
    `${PARAMETERS.toLocaleString('en')} parameters (${megabytes(CENTER_BYTES)} MB as float32); ${WORKERS} worker processes + 1 server process; ` +
      `${SECONDS} s per measurement (MALT_BENCH_SECONDS), ${ROUNDS} rounds of raw then PS (MALT_BENCH_ROUNDS); ${cpus().length} cores, load average ${load()}`,
  )
  const shapes = [
    { compression: 'none' as const, label: 'float32', up: CENTER_BYTES },
    { compression: 'float16' as const, label: 'float16', up: CENTER_BYTES / 2 },
  ]
  const rows = shapes.flatMap(({ label, up }) => [
    { name: `raw TCP, ${megabytes(up)} MB up + ${megabytes(CENTER_BYTES)} MB down`, runs: [] as Measured[] },
    { name: `PS commit+pull, ${label} commits`, runs: [] as Measured[], ratios: [] as number[] },
  ])
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, { compression, up }] of shapes.entries()) {
      const raw = await measureRaw('request-response', up, CENTER_BYTES)
      const ps = await measurePs(compression)
      rows[2 * i].runs.push(raw)
      rows[2 * i + 1].runs.push(ps)
      rows[2 * i + 1].ratios?.push(ps.bytesPerSecond / raw.bytesPerSecond)
    }
  }
  rows.push({ name: 'raw TCP streaming both ways at once', runs: [await measureRaw('stream')] })
  printTable(rows)

  const [float32, float16] = [rows[1], rows[3]].map((row) => median(row.runs.map((run) => run.roundTripsPerSecond)))
  const copies = [rows[1], rows[3]].flatMap((row) => row.runs.map((run) => run.centerCopies ?? 0)).reduce((a, b) => a + b, 0)
  console.log(
    `\nvs raw: the PS's payload bandwidth as a share of plain Node sockets moving the same bytes in the same request/response\n` +
      `pattern, 2 client processes to 1 server process, measured right before it (target >= ${percent(TARGET_RATIO)}). The difference is\n` +
      `the PS's own CPU work (see CPU ms per round trip; 2 cores are shared by 3 processes): framing, copying each received payload\n` +
      `once into place, applying the commit to the center (~1M float adds), float16 encoding with error feedback on the workers.\n` +
      `${copies} commits over all PS runs had to copy the center because a pull's send still read it.`,
  )
  console.log(
    `float16 commits: ${(float16 / float32).toFixed(2)}x the commit+pull rate of float32 commits. On loopback the "network" is a memory\n` +
      `copy, so encoding costs more CPU than the 2 MB it saves; on a 1 Gbit/s link 2 MB is ~16 ms of wire time per commit.\n` +
      `Streaming both ways is an upper bound no request/response protocol reaches.`,
  )
  console.log(`load average at the end ${load()}`)
}
