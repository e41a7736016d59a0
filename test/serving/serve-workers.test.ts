// `malt serve --workers 2` from the user's side: two processes answer on one port, /metrics
// sums both, an admin change reaches both, a killed worker is replaced while requests go on,
// and SIGTERM to the primary ends every process with exit code 0.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { runMalt } from '../helpers/cli.js'
import { startServe, type ServeProcess } from '../helpers/serve-process.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { jsonLines, jsonOf, metricSum, parseMetrics, request, waitFor, type Answer } from './fixtures/ops-http.js'
import { writeOpsConfig, writeSumVersion, writeValueVersion } from './fixtures/ops-repository.js'

const temp = useTempDir()
let server: ServeProcess
let primary: number
/** Every worker pid seen, the replaced ones included (for the orphan check and the clean-up). */
const everyWorker = new Set<number>()

/** Workers announced on stderr so far, in order: `malt serve: worker PID … on URL`. */
function announcedWorkers(): number[] {
  const pids = [...server.stderr().matchAll(/worker (\d+) \d+ model\(s\) .* on https?:\/\//g)].map((match) => Number(match[1]))
  for (const pid of pids) everyWorker.add(pid)
  return pids
}

/** The access lines (workers share the primary's stdout) of the requests to `url`. */
function accessLines(url: string): { pid: number; version?: number; status: number }[] {
  return jsonLines(server.stdout())
    .filter((line) => line.msg === 'request' && line.url === url)
    .map((line) => ({ pid: line.pid as number, version: line.version as number | undefined, status: line.status as number }))
}

/**
 * Calls `send` (at least `atLeast` times) until the access log shows `url` answered at least
 * `perWorker` times by each of two workers, or `atMost` calls. Which worker takes a connection
 * is the kernel's choice with a shared accept queue, not strict turns: a few more calls may be needed.
 */
async function untilBothWorkers(url: string, send: (index: number) => Promise<void>, options: { atLeast: number; perWorker: number; atMost: number }): Promise<number> {
  const counts = (): number[] => {
    const perPid = new Map<number, number>()
    for (const line of accessLines(url)) perPid.set(line.pid, (perPid.get(line.pid) ?? 0) + 1)
    return [...perPid.values()]
  }
  let calls = 0
  while (calls < options.atMost) {
    await send(calls++)
    if (calls < options.atLeast) continue
    const seen = counts()
    if (seen.length >= 2 && seen.every((count) => count >= options.perWorker)) break
  }
  return calls
}

const predictSum = (x: number): Promise<Answer> => request(`${server.url}/v1/models/summer:predict`, { body: { instances: [[x, 0]] }, timeoutMs: 3000 })

before(async () => {
  const root = temp.join('models')
  await writeSumVersion(root, 'summer')
  await writeValueVersion(root, 'ver', 1)
  await writeValueVersion(root, 'ver', 2)
  // Version 2 loaded as a canary with no traffic yet: the admin test turns it on.
  const config = writeOpsConfig(temp.join('serve.json'), { ver: { canary: { version: 2, percent: 0 } } })
  server = await startServe(['--models', root, '--config', config, '--workers', '2'])
  await waitFor(() => (announcedWorkers().length >= 2 ? true : undefined), 'both workers to listen', 30_000)
  primary = Number(/primary (\d+) started 2 workers/.exec(server.stderr())?.[1])
  assert.equal(primary, server.child.pid)
})

after(async () => {
  await server?.stop()
  // A failed shutdown test leaves workers behind: end those this file started, by pid.
  for (const pid of everyWorker) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
})

test('two worker processes answer on one port, taking turns over new connections', async () => {
  const workers = announcedWorkers()
  assert.equal(new Set(workers).size, 2)
  assert.ok(!workers.includes(primary), 'the primary serves no requests itself')
  sentSums = await untilBothWorkers(
    '/v1/models/summer:predict',
    async (i) => {
      const answer = await predictSum(i)
      assert.deepEqual([answer.status, jsonOf(answer)], [200, { predictions: [[i]] }])
    },
    { atLeast: 40, perWorker: 5, atMost: 400 },
  )
  const lines = await waitFor(() => {
    const found = accessLines('/v1/models/summer:predict')
    return found.length >= sentSums ? found : undefined
  }, `${sentSums} access lines`)
  assert.equal(lines.length, sentSums, 'one access line per request')
  const perPid = new Map<number, number>()
  for (const line of lines) perPid.set(line.pid, (perPid.get(line.pid) ?? 0) + 1)
  assert.deepEqual([...perPid.keys()].sort(), [...workers].sort(), `the access log shows both worker pids: ${JSON.stringify([...perPid])}`)
  for (const [pid, count] of perPid) assert.ok(count >= 5, `worker ${pid} served ${count} of ${sentSums}`)
})

/** Predicts sent by the first test: /metrics must count exactly these. */
let sentSums = 0

test('/metrics sums every worker, whichever worker answers the scrape', async () => {
  await untilBothWorkers(
    '/metrics',
    async (i) => {
      const samples = parseMetrics((await request(`${server.url}/metrics`)).text)
      assert.equal(metricSum(samples, 'malt_serving_requests_total', { model: 'summer', method: 'predict', code: '200' }), sentSums, `scrape ${i}`)
      // Each worker loads the same 3 versions: the aggregate is their maximum, not their sum.
      assert.equal(metricSum(samples, 'malt_serving_models_loaded'), 3, `scrape ${i}: models_loaded`)
    },
    { atLeast: 4, perWorker: 1, atMost: 100 },
  )
  const scrapers = new Set(accessLines('/metrics').map((line) => line.pid))
  assert.equal(scrapers.size, 2, 'both workers answered scrapes')
})

test('an admin change of the canary reaches every worker', async () => {
  const put = await request(`${server.url}/admin/models/ver/canary`, { method: 'PUT', body: { version: 2, percent: 50 } })
  assert.equal(put.status, 200, put.text)
  await untilBothWorkers(
    '/admin/models/ver/config',
    async (i) => assert.deepEqual(jsonOf(await request(`${server.url}/admin/models/ver/config`)), { canary: { version: 2, percent: 50 } }, `config read ${i}`),
    { atLeast: 4, perWorker: 1, atMost: 100 },
  )
  await untilBothWorkers(
    '/v1/models/ver:predict',
    async () => assert.equal((await request(`${server.url}/v1/models/ver:predict`, { body: { instances: [[1, 1]] } })).status, 200),
    { atLeast: 40, perWorker: 10, atMost: 400 },
  )
  const perPid = new Map<number, { all: number; canary: number }>()
  for (const line of accessLines('/v1/models/ver:predict')) {
    const counts = perPid.get(line.pid) ?? { all: 0, canary: 0 }
    counts.all++
    if (line.version === 2) counts.canary++
    perPid.set(line.pid, counts)
  }
  assert.equal(perPid.size, 2)
  for (const [pid, { all, canary }] of perPid) {
    assert.ok(Math.abs(canary - all / 2) <= 1, `worker ${pid} sent ${canary} of its ${all} unversioned requests to the canary (50% expected)`)
  }
})

test('a killed worker is replaced and requests keep being served; none is left hanging', async (t) => {
  const [victim, survivor] = announcedWorkers()
  process.kill(victim, 'SIGKILL')
  const outcomes = { served: 0, failed: 0, hung: 0 }
  const send = async (x: number): Promise<void> => {
    try {
      const answer = await predictSum(x)
      if (answer.status === 200) outcomes.served++
      else outcomes.failed++
    } catch (error) {
      if (/no answer/.test((error as Error).message)) outcomes.hung++
      else outcomes.failed++
    }
  }
  // Bursts of 4 from the moment of the kill until the replacement listens.
  const deadline = Date.now() + 20_000
  let replacement: number | undefined
  while (replacement === undefined && Date.now() < deadline) {
    await Promise.all([0, 1, 2, 3].map(send))
    replacement = announcedWorkers().find((pid) => pid !== victim && pid !== survivor)
  }
  assert.ok(replacement, `a new worker started; stderr:\n${server.stderr()}`)
  assert.match(server.stderr(), new RegExp(`worker ${victim} exited \\(SIGKILL\\); starting another`))
  t.diagnostic(`during the kill: ${JSON.stringify(outcomes)}`)
  for (let i = 0; i < 20; i++) await send(i)
  await waitFor(() => (accessLines('/v1/models/summer:predict').some((line) => line.pid === replacement) ? true : undefined), 'the new worker to serve')
  assert.ok(outcomes.served > 20, JSON.stringify(outcomes))
  assert.ok(outcomes.failed <= 4, `a few requests may fail while the worker dies: ${JSON.stringify(outcomes)}`)
  assert.equal(outcomes.hung, 0, `no request may wait forever for a dead worker: ${JSON.stringify(outcomes)}`)
})

/** Pids of the live processes whose parent is `parent` (from /proc/<pid>/stat). */
function childrenOf(parent: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // Fields after the command (in parentheses, which may hold spaces): state, ppid, …
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(ppid) === parent && state !== 'Z') children.push(Number(entry))
    } catch {
      // the process ended while we read
    }
  }
  return children
}

const alive = (pid: number): boolean => {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

test('SIGTERM to the primary ends every process with exit code 0 and leaves no orphans', async () => {
  const workers = childrenOf(primary)
  assert.equal(workers.length, 2, `two live workers before the stop: ${workers.join(', ')}`)
  for (const pid of workers) everyWorker.add(pid)
  const started = Date.now()
  const code = await server.stop() // SIGTERM, then SIGKILL after 10 s
  const stopMs = Date.now() - started
  await waitFor(() => ([...everyWorker].some(alive) ? undefined : true), 'every worker to exit', 5000).catch(() => undefined)
  const left = [...everyWorker].filter(alive)
  assert.deepEqual(
    { primaryExitCode: code, workersLeftRunning: left },
    { primaryExitCode: 0, workersLeftRunning: [] },
    `SIGTERM to the primary (it took ${stopMs} ms; null = killed after 10 s); stderr:\n${server.stderr().slice(-1500)}`,
  )
  assert.ok(!existsSync(`/proc/${primary}`) || !alive(primary), 'the primary is gone')
})

test('with --workers 2, a repository that cannot be read stops the whole server with the error (no restart loop)', async () => {
  const run = await runMalt(['serve', '--models', '/nonexistent-malt-models', '--workers', '2', '--port', '0'], { timeoutMs: 60_000 })
  assert.equal(run.code, 1, run.stderr)
  assert.match(run.stderr, /Model repository \/nonexistent-malt-models cannot be read/)
  assert.match(run.stderr, /A worker stopped before it listened/)
})
