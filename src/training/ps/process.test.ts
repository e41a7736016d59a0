// The parameter server with real processes: a worker killed mid-commit, a server killed under its
// clients (they fail fast) and restarted from its checkpoint, and the executor task run through the
// local process pool.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { LocalProcessPool } from '../../cluster/index.js'
import type { JsonValue } from '../../cluster/index.js'
import { MaltError } from '../../errors.js'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { readCheckpoint } from './checkpoint.js'
import { ParameterClient } from './client.js'
import { ParameterServer } from './server.js'
import { STOP_MESSAGE, type ParameterServerListening } from './task.js'

const temp = useTempDir()
const secret = 'process test secret'
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
const moduleUrl = (name: string): string => new URL(`./${name}`, import.meta.url).href
const children = new Set<ChildProcess>()
after(() => children.forEach((child) => child.kill('SIGKILL')))

/** A Node process running `code` (an ES module that may import TypeScript), with its stdout as lines. */
function startChild(code: string): { child: ChildProcess; nextLine(): Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] })
  children.add(child)
  child.on('exit', () => children.delete(child))
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]()
  return {
    child,
    async nextLine() {
      const { value, done } = await lines.next()
      if (done === true) throw new Error('the child process ended before printing a line')
      return value as string
    },
  }
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

test('a worker process killed mid-commit leaves the server serving the others, its half frame dropped', async () => {
  const n = 1_000_000
  const server = await ParameterServer.start({ secret, initial: new Float32Array(n) })
  after(() => server.close())
  // Commits 3 × ones through the client, then sends half of a 4th commit by hand and waits to be killed.
  const worker = startChild(`
    import { connect } from 'node:net'
    import { ParameterClient } from '${moduleUrl('client.ts')}'
    import { proofOf } from '${moduleUrl('auth.ts')}'
    import { Encoding, FrameReader, Op, encodeHeader, writeFrame } from '${moduleUrl('wire.ts')}'
    const ones = new Float32Array(${n}).fill(1)
    const client = await ParameterClient.connect({ servers: ['${server.address}'], secret: '${secret}', workerId: 7 })
    for (let i = 0; i < 3; i++) await client.commit(ones)
    const socket = connect({ host: '127.0.0.1', port: ${server.port} })
    const reader = new FrameReader({ peer: 'server', maxPayloadBytes: () => 1024, onFrame: (header, payload) => {
      if (header.op === Op.HELLO) return writeFrame(socket, { op: Op.AUTH, encoding: Encoding.BYTES, workerId: 7, counter: 0 }, [proofOf(Buffer.from('${secret}'), payload)])
      socket.write(encodeHeader({ payloadBytes: ${n * 4}, op: Op.COMMIT, encoding: Encoding.FLOAT32, workerId: 7, counter: 3 }))
      socket.write(Buffer.from(ones.buffer, 0, ${(n * 4) / 2}), () => console.log('half-sent'))
    } })
    socket.on('data', (chunk) => reader.push(chunk))
    setInterval(() => undefined, 1000)
  `)
  assert.equal(await worker.nextLine(), 'half-sent')
  await eventually(() => server.stats().bytesIn >= 3 * n * 4 + (n * 4) / 2, 'the half commit to reach the server')
  await killAndWait(worker.child)
  await eventually(() => server.stats().connections === 0, 'the server to drop the dead worker')

  const other = await ParameterClient.connect({ servers: [server.address], secret, workerId: 8 })
  const { center, updates } = await other.commitPull(new Float32Array(n).fill(0.5))
  assert.equal(updates, 4, 'the 3 whole commits and this one; not the half one')
  assert.ok(center.every((value) => value === 3.5), 'every value got exactly the whole commits')
  await other.close()
})

test('a server process killed under its clients: calls fail fast with PS_CONNECTION_LOST; restarted, it resumes from its checkpoint', async () => {
  const n = 1_000_000
  const path = temp.join('killed/ps.ckpt')
  const serverCode = `
    import { ParameterServer } from '${moduleUrl('server.ts')}'
    const server = await ParameterServer.start({ secret: '${secret}', initial: new Float32Array(${n}), checkpoint: { path: '${path}', everyUpdates: 1 } })
    console.log(JSON.stringify({ address: server.address, resumed: server.resumed, updates: server.updates }))
  `
  const first = startChild(serverCode)
  const { address } = JSON.parse(await first.nextLine()) as { address: string }
  const client = await ParameterClient.connect({ servers: [address], secret, workerId: 1, requestTimeoutMs: 0 })
  const ones = new Float32Array(n).fill(1)
  const into = new Float32Array(n)
  for (let i = 0; i < 5; i++) await client.commitPull(ones, into)
  for (const deadline = Date.now() + 10_000; ((await readCheckpoint(path))?.updates ?? 0) < 5; ) {
    if (Date.now() > deadline) assert.fail('no checkpoint of update 5 within 10 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // Keep calls in flight while the server dies; with no request time-out, only the lost connection can end them.
  let failure: unknown
  const loop = (async () => {
    try {
      for (;;) await client.commitPull(ones, into)
    } catch (error) {
      failure = error
    }
  })()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const killedAt = Date.now()
  first.child.kill('SIGKILL')
  await loop
  const elapsed = Date.now() - killedAt
  assert.ok(failure instanceof MaltError, `expected a MaltError, got ${String(failure)}`)
  assert.equal(failure.code, 'PS_CONNECTION_LOST')
  assert.match(failure.message, new RegExp(`Lost the connection to parameter server ${address}`))
  assert.ok(elapsed < 2000, `the pending call failed ${elapsed} ms after the kill`)
  await assert.rejects(client.pull(), (error: unknown) => error instanceof MaltError && error.code === 'PS_CONNECTION_LOST')
  await client.close()

  const saved = await readCheckpoint(path)
  assert.ok(saved !== undefined && saved.updates >= 5, 'checkpointed while it ran')
  const second = startChild(serverCode)
  const restarted = JSON.parse(await second.nextLine()) as { address: string; resumed: boolean; updates: number }
  assert.deepEqual([restarted.resumed, restarted.updates], [true, saved.updates])
  const resumed = await ParameterClient.connect({ servers: [restarted.address], secret, workerId: 1 })
  const { center, updates } = await resumed.pull()
  assert.equal(updates, saved.updates)
  assert.ok(center.every((value) => value === saved.updates), 'the center and counter come from the same moment')
  await resumed.close()
  await killAndWait(second.child)
})

test('parameterServerTask runs in an executor of the local pool: listening, commits, stop, stats', async () => {
  const weights = Float32Array.from({ length: 1000 }, (_, i) => i)
  const weightsPath = temp.file('weights.f32', new Uint8Array(weights.buffer))
  const checkpointPath = temp.join('task/ps.ckpt')
  const pool = new LocalProcessPool({ size: 1 })
  after(() => pool.close())
  const executor = await pool.acquire()
  const payload = { secret, weightsPath, range: { start: 100, end: 600 }, rule: 'staleness', checkpointPath, checkpointEveryUpdates: 10 }
  const task = executor.run({ id: 'ps-0', runner: { module: moduleUrl('task.ts'), export: 'parameterServerTask' }, payload })
  const listening = await new Promise<ParameterServerListening>((resolve) => task.onMessage((message: JsonValue) => resolve(message as unknown as ParameterServerListening)))
  assert.deepEqual([listening.type, listening.resumed, listening.updates], ['listening', false, 0])
  assert.ok(Number.isInteger(listening.pid) && listening.pid !== process.pid, 'the executor process serves it')
  const client = await ParameterClient.connect({ servers: [listening.address], secret, workerId: 3 })
  assert.equal(client.parameterCount, 500)
  assert.deepEqual((await client.pull()).center, weights.subarray(100, 600))
  const { center } = await client.commitPull(new Float32Array(500).fill(2))
  assert.equal(center[0], 102)
  await client.close()
  task.send({ ...STOP_MESSAGE })
  const outcome = await task.outcome
  assert.ok(outcome.ok, JSON.stringify(outcome))
  const stats = outcome.value as Record<string, number>
  assert.deepEqual([stats.parameters, stats.updates, stats.commits, stats.pulls], [500, 1, 1, 2])
  assert.equal((await readCheckpoint(checkpointPath))?.updates, 1, 'the final checkpoint was written on stop')
  pool.release(executor)
})
