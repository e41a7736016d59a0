// Integration tests of LocalProcessPool with real executor processes: reuse, parallelism, every
// way a task can end, output capture, blacklisting, shutdown and no orphans when the driver dies.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { LocalProcessPool } from '../../src/cluster/index.js'
import type { Executor, JsonValue, TaskOutcome, TaskSpec } from '../../src/cluster/index.js'
import { MaltError } from '../../src/errors.js'
import { rejectsWith } from '../helpers/errors.js'
import { useTempDir } from '../helpers/temp-dir.js'

const runners = new URL('../fixtures/runners.ts', import.meta.url).href
const temp = useTempDir()
let taskCount = 0

function task(runner: string, payload: JsonValue = null, extra: Partial<TaskSpec> = {}): TaskSpec {
  taskCount++
  return { id: `task-${taskCount}`, runner: { module: runners, export: runner }, payload, ...extra }
}

async function valueOf(executor: Executor, spec: TaskSpec): Promise<Record<string, JsonValue>> {
  const outcome = await executor.run(spec).outcome
  assert.ok(outcome.ok, `expected success, got ${JSON.stringify(outcome)}`)
  return outcome.value as Record<string, JsonValue>
}

function failed(outcome: TaskOutcome): Extract<TaskOutcome, { ok: false }> {
  assert.equal(outcome.ok, false, `expected a failure, got ${JSON.stringify(outcome)}`)
  return outcome as Extract<TaskOutcome, { ok: false }>
}

/** True while `pid` is a running process (a zombie waiting for its reaper counts as gone). */
function isAlive(pid: number): boolean {
  if (existsSync('/proc')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
    } catch {
      return false
    }
  }
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitUntilGone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return !isAlive(pid)
}

const pool = new LocalProcessPool({ size: 2 })
after(() => pool.close())

/** Runs `body` with an executor of the shared pool and gives it back even when an assertion fails. */
async function withExecutor(body: (executor: Executor) => Promise<void>): Promise<void> {
  const executor = await pool.acquire()
  try {
    await body(executor)
  } finally {
    pool.release(executor)
  }
}

test('a slot reuses its process across tasks and knows its id', () =>
  withExecutor(async (executor) => {
    const seen = []
    for (let i = 0; i < 3; i++) seen.push(await valueOf(executor, task('whoAmI')))
    assert.equal(new Set(seen.map((who) => who.pid)).size, 1, `one pid for three tasks: ${JSON.stringify(seen)}`)
    assert.notEqual(seen[0].pid, process.pid)
    assert.deepEqual([seen[0].env, seen[0].channel], [executor.id, executor.id])
    assert.match(executor.id, /^local-[01]$/)
    assert.deepEqual(await valueOf(executor, task('echo', { lr: 0.1, tags: ['a'] })), { lr: 0.1, tags: ['a'] })
  }))

test('runner and driver exchange messages while the task runs', () =>
  withExecutor(async (executor) => {
    const running = executor.run(task('pingPong'))
    const pongs: JsonValue[] = []
    running.onMessage((message) => {
      if (message === 'hello') for (const ping of [1, 2, 3]) running.send({ ping })
      else pongs.push(message)
      if (pongs.length === 3) running.send('stop')
    })
    assert.deepEqual(await running.outcome, { ok: true, value: { pings: 3 } })
    assert.deepEqual(pongs, [{ pong: 1 }, { pong: 2 }, { pong: 3 }])
  }))

test('two slots run two CPU-bound tasks at the same time', async () => {
  const [first, second] = [await pool.acquire(), await pool.acquire()]
  try {
    assert.notEqual(first.id, second.id)
    // Warm both slots first: a process start takes longer than the tasks.
    await Promise.all([first, second].map((executor) => valueOf(executor, task('whoAmI'))))
    const results = await Promise.all([first, second].map((executor) => valueOf(executor, task('busy', { ms: 700 }))))
    const [a, b] = results.map((result) => ({ started: Number(result.started), ended: Number(result.ended) }))
    assert.ok(a.started < b.ended && b.started < a.ended, `the tasks should overlap in time: ${JSON.stringify([a, b])}`)
    assert.notEqual(results[0].pid, results[1].pid)
  } finally {
    pool.release(first)
    pool.release(second)
  }
})

test('a runner that throws fails its task with the stack; the process stays', () =>
  withExecutor(async (executor) => {
    const before = await valueOf(executor, task('whoAmI'))
    const outcome = failed(await executor.run(task('fail')).outcome)
    assert.equal(outcome.reason, 'error')
    assert.equal(outcome.message, 'runner failed on purpose')
    assert.match(outcome.stack ?? '', /fixtures\/runners\.ts/)
    const missing = failed(await executor.run(task('notARunner')).outcome)
    assert.match(missing.message, /no exported function "notARunner"/)
    assert.equal((await valueOf(executor, task('whoAmI'))).pid, before.pid)
  }))

test('a process that exits mid-task is a crash; the slot gets a fresh process', () =>
  withExecutor(async (executor) => {
    const before = await valueOf(executor, task('whoAmI'))
    const outputFile = temp.join('crash.log')
    const outcome = failed(await executor.run(task('exitProcess', null, { outputFile })).outcome)
    assert.equal(outcome.reason, 'crash')
    assert.match(outcome.message, new RegExp(`Executor ${executor.id} \\(pid ${before.pid}\\) exited with code 3`))
    assert.match(readFileSync(outputFile, 'utf8'), /about to exit/)
    const after = await valueOf(executor, task('whoAmI'))
    assert.notEqual(after.pid, before.pid)
    assert.equal(after.env, executor.id)
  }))

test('an error thrown outside the task fails it and replaces the process', () =>
  withExecutor(async (executor) => {
    const before = await valueOf(executor, task('whoAmI'))
    const outcome = failed(await executor.run(task('throwLater')).outcome)
    assert.equal(outcome.reason, 'error')
    assert.equal(outcome.message, 'thrown from a timer')
    assert.match(outcome.stack ?? '', /runners\.ts/)
    assert.notEqual((await valueOf(executor, task('whoAmI'))).pid, before.pid)
  }))

test('a task past its time limit is killed with reason timeout', () =>
  withExecutor(async (executor) => {
    await valueOf(executor, task('whoAmI')) // The process is warm: the limit measures the task.
    const started = Date.now()
    const outcome = failed(await executor.run(task('busy', { ms: 20_000 }, { timeoutMs: 300 })).outcome)
    assert.equal(outcome.reason, 'timeout')
    assert.match(outcome.message, /time limit of 0\.3 s/)
    assert.ok(Date.now() - started < 5000, `killed promptly, took ${Date.now() - started} ms`)
  }))

test('cancel ends a task with reason cancelled and the reason given', () =>
  withExecutor(async (executor) => {
    const running = executor.run(task('sleep', { ms: 20_000 }))
    setTimeout(() => running.cancel('a faster copy won'), 200)
    const outcome = failed(await running.outcome)
    assert.equal(outcome.reason, 'cancelled')
    assert.match(outcome.message, /a faster copy won/)
    assert.equal(await valueOf(executor, task('echo', 'still works')), 'still works')
  }))

test("a task's stdout and stderr land in its output file, up to the last line before it returns", () =>
  withExecutor(async (executor) => {
    const first = temp.join('out/first.log')
    for (let i = 0; i < 15; i++) {
      assert.equal(await valueOf(executor, task('print', { lines: 3 }, { outputFile: first })), 'printed')
      const text = readFileSync(first, 'utf8')
      assert.ok(text.endsWith('last line before done\n') || text.endsWith('to stderr\n'), `run ${i}: ${JSON.stringify(text.slice(-80))}`)
      assert.equal(text.split('last line before done\n').length - 1, i + 1, `run ${i} appended its last line`)
    }
    const text = readFileSync(first, 'utf8')
    assert.ok(!text.includes('\u0000'), 'the end-of-task marker is not in the file')
    assert.equal(text.split('line 2\n').length - 1, 15)
    assert.equal(text.split('to stderr\n').length - 1, 15)
    const second = temp.join('out/second.log')
    await valueOf(executor, task('print', { lines: 1 }, { outputFile: second }))
    assert.deepEqual(readFileSync(second, 'utf8').split('\n').sort(), ['', 'last line before done', 'line 0', 'to stderr'])
  }))

test('acquire waits for a released executor, first come first served', async () => {
  const held = [await pool.acquire(), await pool.acquire()]
  const order: string[] = []
  const waiting = [pool.acquire().then((e) => (order.push('first'), e)), pool.acquire().then((e) => (order.push('second'), e))]
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.deepEqual(order, [])
  pool.release(held[1])
  const got = await waiting[0]
  assert.equal(got, held[1])
  pool.release(held[0])
  await waiting[1]
  assert.deepEqual(order, ['first', 'second'])
  pool.release(got)
  pool.release(held[0])
})

test('running a second task on a busy executor is refused', () =>
  withExecutor(async (executor) => {
    const running = executor.run(task('sleep', { ms: 100 }))
    assert.throws(() => executor.run(task('echo')), (error: unknown) => error instanceof MaltError && error.code === 'EXECUTOR_BUSY')
    await running.outcome
  }))

test('bad options are refused before any process starts', () => {
  for (const size of [0, -1, 1.5]) {
    assert.throws(() => new LocalProcessPool({ size }), (error: unknown) => error instanceof MaltError && error.code === 'EXECUTOR_BAD_OPTION' && error.message.includes(String(size)))
  }
})

test('a V8 heap exhaustion is a crash that says out of memory', async () => {
  const small = new LocalProcessPool({ size: 1, execArgv: ['--max-old-space-size=32'] })
  try {
    const executor = await small.acquire()
    const outcome = failed(await executor.run(task('exhaustMemory')).outcome)
    assert.equal(outcome.reason, 'crash')
    assert.match(outcome.message, /ran out of memory/)
    assert.match(outcome.message, /heap out of memory/)
  } finally {
    await small.close()
  }
})

test('retiring executors lowers capacity; with none left acquire rejects', async () => {
  const doomed = new LocalProcessPool({ size: 2 })
  try {
    const [a, b] = [await doomed.acquire(), await doomed.acquire()]
    const pid = Number((await valueOf(a, task('whoAmI'))).pid)
    const pending = rejectsWith(doomed.acquire(), 'EXECUTOR_NONE_LEFT', ['blacklisted'])
    doomed.retire(a)
    assert.equal(doomed.capacity, 1)
    assert.ok(await waitUntilGone(pid, 3000), 'the retired executor process is stopped')
    const running = b.run(task('sleep', { ms: 20_000 }))
    doomed.retire(b)
    assert.equal(doomed.capacity, 0)
    const outcome = failed(await running.outcome)
    assert.equal(outcome.reason, 'cancelled')
    assert.match(outcome.message, new RegExp(`executor ${b.id} was retired`))
    await pending
    await rejectsWith(doomed.acquire(), 'EXECUTOR_NONE_LEFT', ['all 2 executors'])
    assert.equal(failed(await a.run(task('echo')).outcome).reason, 'cancelled')
  } finally {
    await doomed.close()
  }
})

test('close stops every process, cancels running tasks and refuses new work', async () => {
  const closing = new LocalProcessPool({ size: 2 })
  const [a, b] = [await closing.acquire(), await closing.acquire()]
  const pids = await Promise.all([a, b].map(async (executor) => Number((await valueOf(executor, task('whoAmI'))).pid)))
  const running = a.run(task('sleep', { ms: 20_000 }))
  await closing.close()
  for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${pid} is gone after close`)
  const outcome = failed(await running.outcome)
  assert.equal(outcome.reason, 'cancelled')
  assert.match(outcome.message, /the executor pool was closed/)
  assert.equal(closing.capacity, 0)
  await rejectsWith(closing.acquire(), 'EXECUTOR_POOL_CLOSED', ['closed'])
})

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`executors do not outlive a driver killed by ${signal}`, async () => {
    const script = fileURLToPath(new URL('../fixtures/pool-parent.ts', import.meta.url))
    const driver = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const line = await new Promise<string>((resolve, reject) => {
      let text = ''
      driver.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (text.includes('\n')) resolve(text.split('\n')[0])
      })
      driver.once('exit', (code) => reject(new Error(`the driver exited early with code ${code}`)))
    })
    const executorPid = (JSON.parse(line) as { executorPid: number }).executorPid
    assert.ok(isAlive(executorPid), 'the executor runs before the driver is killed')
    driver.kill(signal)
    assert.ok(await waitUntilGone(executorPid, 5000), `executor ${executorPid} still alive 5 s after its driver got ${signal}`)
  })
}

test("a pool's preload modules are imported as each process starts, before its first task; a broken one fails only the tasks that need it", async () => {
  const preloaded = new URL('../fixtures/preloaded-runner.ts', import.meta.url).href
  const missing = new URL('../fixtures/no-such-runner.ts', import.meta.url).href
  assert.throws(() => new LocalProcessPool({ preload: [42 as unknown as string] }), (error: unknown) => error instanceof MaltError && error.code === 'EXECUTOR_BAD_OPTION' && error.message.includes('preload'))
  const preloading = new LocalProcessPool({ size: 1, preload: [missing, preloaded] })
  try {
    preloading.warm()
    await new Promise((resolve) => setTimeout(resolve, 3000)) // The process starts and imports meanwhile.
    const executor = await preloading.acquire()
    const sentAtMs = Date.now()
    const outcome = await executor.run({ id: 'preloaded', runner: { module: preloaded, export: 'importedAt' }, payload: null }).outcome
    assert.ok(outcome.ok, JSON.stringify(outcome))
    const { importedAtMs } = outcome.value as { importedAtMs: number }
    assert.ok(importedAtMs < sentAtMs - 500, `imported ${sentAtMs - importedAtMs} ms before the task was sent; expected well before`)
    const broken = failed(await executor.run({ id: 'broken', runner: { module: missing, export: 'x' }, payload: null }).outcome)
    assert.match(broken.message, /no-such-runner/)
    const again = await executor.run({ id: 'again', runner: { module: runners, export: 'echo' }, payload: 7 }).outcome
    assert.deepEqual(again, { ok: true, value: 7 })
    preloading.release(executor)
  } finally {
    await preloading.close()
  }
})
