// Serving benchmark: requests/s and p50/p99 latency of `malt serve` for the MLP (784→256→128→10)
// and the Fashion-MNIST CNN of the native-backend issue, batching off and on, one worker and
// two, at concurrency 1, 16 and 64; against a FastAPI + uvicorn + PyTorch server for the same
// models, weights and JSON body, measured in the same run (Debian: python3-torch,
// python3-fastapi, uvicorn). Load comes from autocannon in its own process, bounded in time.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ready, tf } from '../src/backend/index.js'
import { buildModel, fashionSamples, type ModelKind } from './lib/models.js'
import { findPython } from './lib/python.js'

const SECONDS = Number(process.env.MALT_BENCH_SECONDS ?? 5)
const CONCURRENCY = [1, 16, 64]
const WORKERS = [1, 2]
const MODELS: ModelKind[] = ['mlp', 'cnn']
// 200 µs: TF.js runs a batch synchronously, so requests coalesce only while a batch waits (0 gave batches of 1;
// 200 µs gave ~5 requests per batch at concurrency 16 and nearly twice the requests/s of no batching, 1 ms ~16 with a worse p99).
const BATCHING = { maxBatchSize: 64, batchTimeoutMicros: 200, maxEnqueuedBatches: 1000 }
const TARGET_RATIO = 2

const root = fileURLToPath(new URL('..', import.meta.url))
const maltBin = join(root, 'bin', 'malt.js')
const autocannon = join(root, 'node_modules', 'autocannon', 'autocannon.js')
const anchorDir = fileURLToPath(new URL('./lib', import.meta.url))

/** One load run's figures. */
interface LoadResult {
  requestsPerSecond: number
  p50: number
  p99: number
  /** Non-2xx answers and socket errors: must be 0 for the row to count. */
  failed: number
}

interface Row {
  model: ModelKind
  server: string
  workers: number
  batching: boolean
  concurrency: number
  result: LoadResult
}

/** A running server under test. */
interface Server {
  url: string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
      child.once('exit', () => {
        clearTimeout(kill)
        resolve()
      })
      child.kill('SIGTERM')
    })
}

async function waitForHttp(url: string, body: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) before answering:\n${log()}`)
    try {
      const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
      await response.arrayBuffer()
      if (response.ok) return
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`server did not answer within 120 s:\n${log()}`)
}

async function startMalt(repo: string, config: string, workers: number, probeBody: string): Promise<Server> {
  const port = await freePort()
  const child = spawn(process.execPath, [maltBin, 'serve', '--models', repo, '--config', config, '--port', String(port), '--workers', String(workers), '--no-access-log'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  const url = `http://127.0.0.1:${port}`
  // Every worker must have loaded its models: wait for their announcements, then for an answer.
  const deadline = Date.now() + 120_000
  while ((log.match(/ on http/g) ?? []).length < workers && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 100))
  await waitForHttp(`${url}/v1/models/mlp:predict`, probeBody, child, () => log)
  return { url, stop: stopper(child) }
}

async function startAnchor(python: string, weights: string, workers: number, probeBody: string): Promise<Server> {
  const port = await freePort()
  const args = ['-m', 'uvicorn', 'serve_torch:app', '--app-dir', anchorDir, '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers), '--no-access-log', '--log-level', 'warning']
  // PyTorch's intra-op threads shared out as Malt's workers share them: OMP_NUM_THREADS per worker.
  const threads = String(Math.max(1, Math.floor(availableParallelism() / workers)))
  const child = spawn(python, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MALT_ANCHOR_WEIGHTS: weights, OMP_NUM_THREADS: threads } })
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()))
  const url = `http://127.0.0.1:${port}`
  await waitForHttp(`${url}/v1/models/mlp:predict`, probeBody, child, () => log)
  return { url, stop: stopper(child) }
}

/** What the sequential client measured (µs). */
interface Sequential {
  requests: number
  perSecond: number
  p50: number
  p90: number
  p99: number
  p999: number
}

const sequentialClient = fileURLToPath(new URL('./lib/sequential-client.mjs', import.meta.url))

/** Runs autocannon in its own process against one endpoint; bounded by `seconds`. */
function load(url: string, bodyFile: string, connections: number, seconds: number): Promise<LoadResult> {
  const args = [autocannon, '-c', String(connections), '-d', String(seconds), '-m', 'POST', '-H', 'content-type=application/json', '-i', bodyFile, '-j', url]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`))
      const report = JSON.parse(out) as { requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number; timeouts: number }
      resolve({ requestsPerSecond: report.requests.average, p50: report.latency.p50, p99: report.latency.p99, failed: report.non2xx + report.errors + report.timeouts })
    })
  })
}

/** Sub-millisecond latency at concurrency 1: one keep-alive connection, one request at a time, in its own process. */
function sequential(url: string, bodyFile: string, seconds: number): Promise<Sequential> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [sequentialClient, url, bodyFile, String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Sequential) : reject(new Error(`sequential client exited ${code}: ${err}`))))
  })
}

/** Saves both models into a TF Serving–style repository (plain and batched copies) and their weights for the anchor. */
async function prepare(dir: string): Promise<{ repo: string; config: string; weights: string; bodies: Record<ModelKind, string>; probe: string }> {
  await ready()
  const repo = join(dir, 'models')
  const weights = join(dir, 'weights')
  const samples = await fashionSamples(1)
  const image = Array.from(samples.images)
  const bodies = {} as Record<ModelKind, string>
  for (const kind of MODELS) {
    const model = buildModel(kind, 1)
    for (const name of [kind, `${kind}_batched`]) await model.save(`file://${join(repo, name, '1')}`)
    mkdirSync(join(weights, kind), { recursive: true })
    const manifest = model.getWeights().map((weight, i) => {
      const file = `w${i}.bin`
      writeFileSync(join(weights, kind, file), Buffer.from((weight.dataSync() as Float32Array).buffer))
      return { shape: weight.shape, file }
    })
    writeFileSync(join(weights, kind, 'manifest.json'), JSON.stringify(manifest))
    model.dispose()
    // One instance per request: online inference. The CNN takes [28, 28, 1] per instance.
    const instance = kind === 'mlp' ? image : Array.from({ length: 28 }, (_, y) => image.slice(y * 28, y * 28 + 28).map((pixel) => [pixel]))
    bodies[kind] = join(dir, `${kind}.json`)
    writeFileSync(bodies[kind], JSON.stringify({ instances: [instance] }))
  }
  const config = join(dir, 'config.json')
  writeFileSync(config, JSON.stringify({ models: { mlp_batched: { batching: BATCHING }, cnn_batched: { batching: BATCHING } } }))
  return { repo, config, weights, bodies, probe: JSON.stringify({ instances: [image] }) }
}

/** The anchor must compute what Malt computes: compare one prediction per model. */
async function checkSameAnswers(malt: Server, anchor: Server, bodies: Record<ModelKind, string>, read: (file: string) => string): Promise<void> {
  for (const kind of MODELS) {
    const ask = async (server: Server): Promise<number[]> => {
      const response = await fetch(`${server.url}/v1/models/${kind}:predict`, { method: 'POST', body: read(bodies[kind]), headers: { 'content-type': 'application/json' } })
      return ((await response.json()) as { predictions: number[][] }).predictions[0]
    }
    const [ours, theirs] = [await ask(malt), await ask(anchor)]
    const worst = Math.max(...ours.map((value, i) => Math.abs(value - theirs[i])))
    if (!(worst < 1e-4)) throw new Error(`${kind}: Malt and the PyTorch anchor disagree by ${worst} (Malt ${ours}, PyTorch ${theirs})`)
  }
}

const fixed = (value: number, digits = 0): string => value.toFixed(digits)

function printTable(rows: Row[]): void {
  console.log('\nmodel  server            workers  batching  conc     req/s   p50 ms   p99 ms  failed')
  for (const row of rows) {
    const { result } = row
    console.log(
      `${row.model.padEnd(6)} ${row.server.padEnd(17)} ${String(row.workers).padStart(7)}  ${(row.batching ? 'on' : 'off').padStart(8)}  ${String(row.concurrency).padStart(4)}  ${fixed(result.requestsPerSecond).padStart(8)}  ${fixed(result.p50, 1).padStart(7)}  ${fixed(result.p99, 1).padStart(7)}  ${String(result.failed).padStart(6)}`,
    )
  }
}

function printVerdicts(rows: Row[]): void {
  console.log(`\nMalt against the anchor at the same model, workers and concurrency (target: ≥ ${TARGET_RATIO}× requests/s at equal or lower p99):`)
  for (const model of MODELS) {
    for (const workers of WORKERS) {
      for (const concurrency of CONCURRENCY) {
        const at = (row: Row): boolean => row.model === model && row.workers === workers && row.concurrency === concurrency
        const anchor = rows.find((row) => at(row) && row.server !== 'malt')
        if (!anchor) continue
        const parts = rows
          .filter((row) => at(row) && row.server === 'malt')
          .map((row) => {
            const ratio = row.result.requestsPerSecond / anchor.result.requestsPerSecond
            const met = ratio >= TARGET_RATIO && row.result.p99 <= anchor.result.p99 && row.result.failed === 0
            return `batching ${row.batching ? 'on ' : 'off'} ${fixed(ratio, 2)}× req/s, p99 ${fixed(row.result.p99, 1)} vs ${fixed(anchor.result.p99, 1)} ms${met ? ' (met)' : ''}`
          })
        console.log(`  ${model} ${workers} worker${workers > 1 ? 's' : ''} c=${String(concurrency).padEnd(2)}: ${parts.join('; ')}`)
      }
    }
  }
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'malt-bench-serve-'))
  try {
    console.log(`${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${SECONDS} s per load run (MALT_BENCH_SECONDS)`)
    const { repo, config, weights, bodies, probe } = await prepare(dir)
    const read = (file: string): string => readFileSync(file, 'utf8')
    const python = findPython(['torch', 'fastapi', 'uvicorn'])
    if (!python) console.log('anchor: not found (a Python with torch, fastapi and uvicorn; Debian: apt-get install python3-torch python3-fastapi uvicorn)')
    else if (!findPython(['torch', 'fastapi', 'uvicorn', 'httptools', 'uvloop'])) {
      // Without them uvicorn falls back to h11 and asyncio: a weaker anchor (and, with --workers 2, 43 ms per request here).
      console.log("anchor: uvicorn without httptools and uvloop (its 'standard' extras; Debian: python3-httptools python3-uvloop): not a fair anchor")
    } else console.log(`anchor: FastAPI + uvicorn (httptools, uvloop) + PyTorch from ${python}`)
    const rows: Row[] = []
    const sequentialRows: { model: ModelKind; server: string; workers: number; result: Sequential }[] = []
    for (const workers of WORKERS) {
      const malt = await startMalt(repo, config, workers, probe)
      const anchor = python ? await startAnchor(python, weights, workers, probe) : undefined
      try {
        if (anchor) await checkSameAnswers(malt, anchor, bodies, read)
        for (const model of MODELS) {
          const targets: { server: string; batching: boolean; url: string }[] = [
            { server: 'malt', batching: false, url: `${malt.url}/v1/models/${model}:predict` },
            { server: 'malt', batching: true, url: `${malt.url}/v1/models/${model}_batched:predict` },
            ...(anchor ? [{ server: 'fastapi+pytorch', batching: false, url: `${anchor.url}/v1/models/${model}:predict` }] : []),
          ]
          for (const target of targets) {
            await load(target.url, bodies[model], 16, 1) // Warm-up: JIT, caches, connection pools.
            for (const concurrency of CONCURRENCY) {
              const result = await load(target.url, bodies[model], concurrency, SECONDS)
              rows.push({ model, server: target.server, workers, batching: target.batching, concurrency, result })
              process.stderr.write('.')
            }
            if (!target.batching) sequentialRows.push({ model, server: target.server, workers, result: await sequential(target.url, bodies[model], SECONDS) })
          }
        }
      } finally {
        await malt.stop()
        await anchor?.stop()
      }
    }
    process.stderr.write('\n')
    printTable(rows)
    if (python) printVerdicts(rows)
    console.log('\nConcurrency 1, batching off, timed per request in µs (one keep-alive connection, requests one after another):')
    console.log('model  server            workers    req/s     p50     p90     p99   p99.9')
    for (const { model, server, workers, result } of sequentialRows) {
      const cells = [result.perSecond, result.p50, result.p90, result.p99, result.p999].map((v) => v.toFixed(0).padStart(7))
      console.log(`${model.padEnd(6)} ${server.padEnd(17)} ${String(workers).padStart(7)}  ${cells.join(' ')}`)
    }
    console.log(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
    tf.disposeVariables()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
