// Ring all-reduce bandwidth: 25 MB of float32 all-reduced across 2 and 4 executor processes
// (LocalProcessPool), against raw loopback TCP measured in the same run between the same
// processes arranged as a ring (each sends to one neighbour while receiving from the other).
// This module is also the executor's runner module: `ringBenchWorker` runs in every process.
import { createServer, connect, type Server, type Socket } from 'node:net'
import { loadavg } from 'node:os'
import { LocalProcessPool } from '../src/cluster/index.js'
import type { Executor, JsonValue, TaskChannel } from '../src/cluster/index.js'
import { formRing, joinRing, RingMember, RING_DEFAULTS } from '../src/training/allreduce/index.js'
import { splitAddress } from '../src/training/allreduce/connect.js'

const BYTES = Number(process.env.MALT_BENCH_ALLREDUCE_BYTES ?? 25_000_000)
const WARMUP = 3
const ITERATIONS = Number(process.env.MALT_BENCH_ALLREDUCE_ITERATIONS ?? 10)
/** Rounds of (raw ring, all-reduce), interleaved so both see the same neighbours' load; medians are reported. */
const ROUNDS = Number(process.env.MALT_BENCH_ALLREDUCE_ROUNDS ?? 3)
const SEGMENT_BYTES = Number(process.env.MALT_BENCH_ALLREDUCE_SEGMENT ?? RING_DEFAULTS.segmentBytes)
/** Ring sizes to measure, e.g. `MALT_BENCH_ALLREDUCE_PROCS=2`. */
const PROCESS_COUNTS = (process.env.MALT_BENCH_ALLREDUCE_PROCS ?? '2,4').split(',').map(Number)
const TARGET = 0.7
const SECRET = 'bench-secret'

/** What one worker measured: per round, seconds (wall) and CPU milliseconds for ITERATIONS of each. */
interface WorkerTimes {
  rank: number
  allReduceSeconds: number[]
  rawSeconds: number[]
  allReduceCpuMs: number[]
  rawCpuMs: number[]
  correct: boolean
}

/** Runs `body` ITERATIONS times; adds its wall seconds and CPU milliseconds (user + system) to the lists. */
async function timed(body: () => Promise<unknown>, seconds: number[], cpuMs: number[]): Promise<void> {
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  for (let i = 0; i < ITERATIONS; i++) await body()
  seconds.push(Number(process.hrtime.bigint() - start) / 1e9)
  const used = process.cpuUsage(cpu)
  cpuMs.push((used.user + used.system) / 1000)
}

function field(message: JsonValue, key: string): JsonValue | undefined {
  return typeof message === 'object' && message !== null && !Array.isArray(message) ? message[key] : undefined
}

function waitForMessage(channel: TaskChannel, type: string): Promise<JsonValue> {
  return new Promise((resolve) => {
    let waiting = true
    channel.onMessage((message) => {
      if (waiting && field(message, 'type') === type) {
        waiting = false
        resolve(message)
      }
    })
  })
}

/** The raw baseline's sockets: `fromRight` reads into a reusable buffer (Node's fastest read path), `toLeft` writes. */
interface RawRing {
  fromRight: Socket
  toLeft: Socket
  server: Server
  /** Receives `bytes` bytes; resolves when all arrived. */
  receive(bytes: number): Promise<void>
}

async function openRawRing(channel: TaskChannel): Promise<RawRing> {
  const server = createServer({ noDelay: true })
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port // listen() on a TCP port resolved: an AddressInfo.
  const assignment = waitForMessage(channel, 'raw-ring')
  channel.send({ type: 'raw-address', address: `127.0.0.1:${port}` })
  const message = await assignment
  const rank = Number(field(message, 'rank'))
  const addresses = field(message, 'addresses') as string[]
  const sink = new Uint8Array(8 * 1024 * 1024)
  let expected = 0
  let arrived = 0
  let done: (() => void) | undefined
  const fromRight = connect({
    ...splitAddress(addresses[(rank + 1) % addresses.length]),
    noDelay: true,
    onread: {
      buffer: sink,
      callback: (count) => {
        arrived += count
        if (arrived >= expected && done !== undefined) done()
        return true
      },
    },
  })
  const toLeft = await accepted
  toLeft.setNoDelay(true)
  return {
    fromRight,
    toLeft,
    server,
    receive(bytes) {
      return new Promise((resolve) => {
        arrived -= expected // Bytes of the next round that came early count towards it.
        expected = bytes
        done = () => {
          done = undefined
          resolve()
        }
        if (arrived >= expected) done()
      })
    },
  }
}

/** One raw iteration: send `payload` to the left neighbour while receiving as much from the right. */
async function rawIteration(raw: RawRing, payload: Uint8Array): Promise<void> {
  const sent = new Promise<void>((resolve, reject) => raw.toLeft.write(payload, (error) => (error ? reject(error) : resolve())))
  await Promise.all([sent, raw.receive(payload.length)])
}

/** Runs in each executor process: forms the ring and the raw ring, then times both, interleaved. */
export async function ringBenchWorker(payload: JsonValue, channel: TaskChannel): Promise<JsonValue> {
  const floats = Number(field(payload, 'floats'))
  const ring = await joinRing(channel, { secret: SECRET, segmentBytes: Number(field(payload, 'segmentBytes')) })
  const raw = await openRawRing(channel)
  const size = ring.size
  // Filled: untouched pages of a fresh array all map the kernel's one zero page, which would make
  // the baseline's sends read from cache what the all-reduce reads from memory.
  const rawPayload = new Uint8Array(Math.round((floats * 4 * 2 * (size - 1)) / size)).fill(7)
  const data = new Float32Array(floats)
  const times: WorkerTimes = { rank: ring.rank, allReduceSeconds: [], rawSeconds: [], allReduceCpuMs: [], rawCpuMs: [], correct: true }
  const mean = (size + 1) / 2 // Of the ranks' values 1 … size; it stays the mean when reduced again.
  for (let round = 0; round < Number(field(payload, 'rounds')); round++) {
    for (let i = 0; i < WARMUP; i++) await rawIteration(raw, rawPayload)
    await timed(() => rawIteration(raw, rawPayload), times.rawSeconds, times.rawCpuMs)
    data.fill(ring.rank + 1)
    for (let i = 0; i < WARMUP; i++) await ring.allReduce(data, { op: 'mean' })
    await timed(() => ring.allReduce(data, { op: 'mean' }), times.allReduceSeconds, times.allReduceCpuMs)
    times.correct &&= [0, floats >> 1, floats - 1].every((index) => data[index] === mean)
  }
  await ring.close()
  for (const socket of [raw.fromRight, raw.toLeft]) socket.destroy()
  raw.server.close()
  return times as unknown as JsonValue // Plain numbers and booleans.
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** Runs one measurement on `size` processes; resolves with every worker's times. */
async function measure(pool: LocalProcessPool, size: number): Promise<WorkerTimes[]> {
  const executors: Executor[] = []
  for (let i = 0; i < size; i++) executors.push(await pool.acquire())
  try {
    const runner = { module: import.meta.url, export: 'ringBenchWorker' }
    const tasks = executors.map((executor, rank) =>
      executor.run({ id: `allreduce-bench-${size}-${rank}`, runner, payload: { floats: BYTES / 4, rounds: ROUNDS, segmentBytes: SEGMENT_BYTES } }),
    )
    const rawAddresses = tasks.map((task) => new Promise<string>((resolve) => task.onMessage((message) => field(message, 'type') === 'raw-address' && resolve(String(field(message, 'address'))))))
    await formRing(tasks.map((task) => new RingMember(task)))
    const addresses = await Promise.all(rawAddresses)
    tasks.forEach((task, rank) => task.send({ type: 'raw-ring', rank, addresses }))
    const outcomes = await Promise.all(tasks.map((task) => task.outcome))
    return outcomes.map((outcome) => {
      if (!outcome.ok) throw new Error(`a bench worker failed: ${outcome.message}\n${outcome.stack ?? ''}`)
      return outcome.value as unknown as WorkerTimes // What ringBenchWorker returned.
    })
  } finally {
    for (const executor of executors) pool.release(executor)
  }
}

const gb = (bytesPerSecond: number): string => (bytesPerSecond / 1e9).toFixed(3)

export async function run(): Promise<void> {
  console.log(
    `All-reduce of ${(BYTES / 1e6).toFixed(0)} MB float32 (mean), ${WARMUP} warm-up + ${ITERATIONS} timed iterations per round, ` +
      `${ROUNDS} rounds interleaved with the raw baseline; segment ${SEGMENT_BYTES / 1024} KiB; load before: ${loadavg()[0].toFixed(2)}`,
  )
  const pool = new LocalProcessPool({ size: 4 })
  const rows: string[][] = []
  try {
    pool.warm()
    for (const size of PROCESS_COUNTS) {
      const workers = await measure(pool, size)
      if (!workers.every((worker) => worker.correct)) throw new Error(`the ${size}-process all-reduce returned wrong values`)
      // A round's time is its slowest rank's (the collective is done when every rank is).
      const rounds = Array.from({ length: ROUNDS }, (_, round) => ({
        allReduce: Math.max(...workers.map((worker) => worker.allReduceSeconds[round])) / ITERATIONS,
        raw: Math.max(...workers.map((worker) => worker.rawSeconds[round])) / ITERATIONS,
      }))
      const perProcessBytes = (BYTES * 2 * (size - 1)) / size
      const algbw = BYTES / median(rounds.map((round) => round.allReduce))
      const busbw = (algbw * 2 * (size - 1)) / size
      const rawbw = perProcessBytes / median(rounds.map((round) => round.raw))
      const ratio = busbw / rawbw
      const cpuPerIteration = (lists: (worker: WorkerTimes) => number[]): string =>
        (workers.reduce((sum, worker) => sum + median(lists(worker)), 0) / workers.length / ITERATIONS).toFixed(1)
      rows.push([
        String(size),
        (1000 / (algbw / BYTES)).toFixed(1),
        gb(algbw),
        gb(busbw),
        gb(rawbw),
        `${(ratio * 100).toFixed(0)}% ${ratio >= TARGET ? '(≥ 70%: met)' : '(< 70%: missed)'}`,
        rounds.map((round) => `${((perProcessBytes / round.allReduce / (perProcessBytes / round.raw)) * 100).toFixed(0)}%`).join(' '),
        `${cpuPerIteration((worker) => worker.allReduceCpuMs)} / ${cpuPerIteration((worker) => worker.rawCpuMs)}`,
      ])
    }
  } finally {
    await pool.close()
  }
  const header = ['procs', 'ms/all-reduce', 'algbw GB/s', 'busbw GB/s', 'raw ring TCP GB/s', 'busbw / raw', 'per round', 'CPU ms/iter: all-reduce / raw']
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)))
  for (const row of [header, ...rows]) console.log(row.map((cell, column) => cell.padEnd(widths[column])).join('  '))
  console.log(
    [
      'algbw = 25 MB / time of one all-reduce (slowest rank, median round).',
      'busbw = algbw × 2(N−1)/N (NCCL): the bytes each process sends and receives per second, comparable to a link.',
      'raw ring TCP = bytes per second each process sends to one neighbour while receiving as many from the other,',
      '  plain sockets between the same processes (send: one write; receive: onread into a reused buffer), same bytes per iteration.',
      'busbw / raw = how much of the loopback bandwidth the all-reduce uses (target ≥ 70%).',
      'CPU ms/iter = CPU time (user + system) one process spends per all-reduce, and per raw iteration moving the same bytes',
      '  (mean over processes, median round): where the processes share too few cores, busbw / raw follows the ratio of these.',
    ].join('\n'),
  )
}
