// `malt serve` as a function: opens the model repository, builds the app, listens, and shuts
// down cleanly on SIGINT/SIGTERM. With `workers > 1` the primary forks that many processes
// that share the port (node:cluster); each loads the models itself.
import cluster, { type Worker } from 'node:cluster'
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import { sharedThreadsEnv } from '../backend/threads.js'
import { MaltError, describeValue } from '../errors.js'
import { parseServerConfig, readServerConfig, writeServerConfig, type ServerConfigFile } from './config.js'
import { createInferenceLogger, type InferenceLogger } from './inference-log.js'
import { ServingMetrics, clusterMetricsText, shareWorkerMetrics } from './metrics.js'
import { ModelRepository } from './repository.js'
import { loadModelVersion } from './runtimes/index.js'
import { createServingApp } from './server.js'
import { ServingError, type ModelConfig } from './types.js'

/** Options of {@link serve}. */
export interface ServeOptions {
  /** The model repository: `DIR/<name>/<version>/`. */
  models: string
  /** @defaultValue 8501 (TF Serving's REST port) */
  port?: number
  /** @defaultValue '127.0.0.1'; '0.0.0.0' to serve other machines */
  host?: string
  /** A JSON config file (version policies, batching, canaries, labels); admin changes are written back to it. */
  configPath?: string
  /** Processes sharing the port. @defaultValue 1 */
  workers?: number
  /** Seconds between scans of the repository for new and removed versions. @defaultValue 1; 0 = never */
  pollIntervalSeconds?: number
  apiKeys?: string[]
  tls?: { certPath: string; keyPath: string }
  bodyLimitBytes?: number
  /** Inference log target: a directory (JSON Lines) or `redis://…`. @defaultValue off */
  logTo?: string
  /** @defaultValue 1 */
  logSampleRate?: number
  allowNonFinite?: boolean
  accessLog?: boolean
  serverVersion?: string
}

/** A running server (one process; in a cluster, the worker's own). */
export interface RunningServer {
  app: FastifyInstance
  repository: ModelRepository
  /** The address it listens on, e.g. `http://127.0.0.1:8501`. */
  url: string
  close(): Promise<void>
}

/** Starts serving in this process and resolves once it listens. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  // Options first: a mistake in them must not wait for every model to load.
  const tls = options.tls ? await readTls(options.tls) : undefined
  const config = await initialConfig(options.configPath)
  // A worker listens for the primary's config changes before it loads models: a change made
  // while it starts is queued and applied once its app exists (a dropped one would hang the admin API).
  const attachConfigChanges = cluster.isWorker ? listenForConfigChanges() : undefined
  const metrics = new ServingMetrics()
  if (cluster.isWorker) shareWorkerMetrics(metrics)
  let app: FastifyInstance | undefined
  const repository = await ModelRepository.open({
    root: options.models,
    load: (dir) => loadModelVersion(dir),
    config,
    pollIntervalMs: (options.pollIntervalSeconds ?? 1) * 1000,
    onVersionState: (name, status) => {
      metrics.setVersionState(name, String(status.version), status.state)
      app?.versionStateChanged(name, status)
    },
    log: (message) => process.stderr.write(`malt serve: ${message}\n`),
  })
  let inferenceLog: InferenceLogger | undefined
  try {
    inferenceLog = options.logTo ? await createInferenceLogger({ target: options.logTo, sampleRate: options.logSampleRate }) : undefined
    app = await createServingApp({
      repository,
      metrics,
      inferenceLog,
      apiKeys: options.apiKeys,
      bodyLimitBytes: options.bodyLimitBytes,
      tls,
      accessLog: options.accessLog,
      configPath: options.configPath,
      config,
      allowNonFinite: options.allowNonFinite,
      serverVersion: options.serverVersion,
      metricsText: cluster.isWorker ? askPrimaryForMetrics : undefined,
      changeModelConfig: cluster.isWorker ? askPrimaryToChangeConfig : undefined,
    })
    attachConfigChanges?.(app)
    const address = await listen(app, options.port ?? 8501, options.host ?? '127.0.0.1')
    const served = app
    return {
      app: served,
      repository,
      url: address,
      async close() {
        await served.close()
        await repository.close()
        await inferenceLog?.close()
      },
    }
  } catch (error) {
    await app?.close()
    await repository.close()
    await inferenceLog?.close()
    throw error
  }
}

const METRICS_REQUEST = 'malt:metrics-request'
const METRICS_REPLY = 'malt:metrics-reply'
const METRICS_WAIT_MS = 5000
let metricsRequests = 0

/** A worker's /metrics: the primary aggregates every worker's registry (prom-client's cluster support). */
function askPrimaryForMetrics(): Promise<string> {
  const id = ++metricsRequests
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage)
      reject(new ServingError(503, 'SERVING_METRICS_TIMEOUT', `The primary process did not answer for the workers' metrics within ${METRICS_WAIT_MS} ms`))
    }, METRICS_WAIT_MS)
    const onMessage = (message: unknown): void => {
      const reply = message as { type?: unknown; id?: unknown; text?: unknown; error?: unknown }
      if (reply?.type !== METRICS_REPLY || reply.id !== id) return
      clearTimeout(timer)
      process.off('message', onMessage)
      if (typeof reply.text === 'string') resolve(reply.text)
      else reject(new ServingError(500, 'SERVING_METRICS_FAILED', `Aggregating the workers' metrics failed: ${String(reply.error)}`))
    }
    process.on('message', onMessage)
    process.send?.({ type: METRICS_REQUEST, id })
  })
}

async function readPem(path: string, option: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (error) {
    throw new MaltError('SERVING_BAD_TLS', `${option} ${describeValue(path)} cannot be read: ${(error as Error).message}`, { cause: error })
  }
}

/** Reads the key and certificate and checks that OpenSSL takes them (a file that is not PEM is the user's mistake, not a crash). */
async function readTls(paths: { certPath: string; keyPath: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const cert = await readPem(paths.certPath, '--tls-cert')
  const key = await readPem(paths.keyPath, '--tls-key')
  try {
    createSecureContext({ cert, key })
  } catch (error) {
    throw new MaltError(
      'SERVING_BAD_TLS',
      `--tls-cert ${describeValue(paths.certPath)} and --tls-key ${describeValue(paths.keyPath)}: expected a PEM certificate and its PEM private key; OpenSSL says: ${(error as Error).message}`,
      { cause: error },
    )
  }
  return { cert, key }
}

/** The config at start: a worker takes its primary's (admin changes included), others read the file. */
async function initialConfig(path: string | undefined): Promise<ServerConfigFile> {
  const fromPrimary = cluster.isWorker ? process.env[CONFIG_ENV] : undefined
  if (fromPrimary !== undefined) return parseServerConfig(JSON.parse(fromPrimary), "the primary process's config")
  return path ? readServerConfig(path) : { models: {} }
}

const CONFIG_ENV = 'MALT_SERVE_CONFIG'
const CONFIG_CHANGE_WAIT_MS = 120_000
const CONFIG_CHANGE = 'malt:config-change'
const CONFIG_CHANGED = 'malt:config-changed'
const CONFIG_APPLY = 'malt:config-apply'
const CONFIG_APPLIED = 'malt:config-applied'
let configRequests = 0

/** An error crossing the IPC channel: a ServingError keeps its status and code (a 400 stays a 400). */
interface WireError {
  status?: number
  code?: string
  message: string
}

const toWire = (error: unknown): WireError =>
  error instanceof ServingError ? { status: error.status, code: error.code, message: error.message } : { message: (error as Error)?.message ?? String(error) }
const fromWire = (error: WireError): Error =>
  error.status !== undefined ? new ServingError(error.status as 400, error.code ?? 'SERVING_CONFIG_FAILED', error.message) : new Error(error.message)

/** A worker's admin change: the primary applies it on every worker and writes the file, one change at a time. */
function askPrimaryToChangeConfig(name: string, config: ModelConfig): Promise<void> {
  const id = ++configRequests
  return new Promise((resolve, reject) => {
    // Applying a canary may load a model on every worker: generous, but never forever.
    const timer = setTimeout(() => {
      process.off('message', onMessage)
      reject(new ServingError(503, 'SERVING_CONFIG_TIMEOUT', `The workers did not apply the change to model ${name} within ${CONFIG_CHANGE_WAIT_MS / 1000} s; see the server's log`))
    }, CONFIG_CHANGE_WAIT_MS)
    const onMessage = (message: unknown): void => {
      const reply = message as { type?: unknown; id?: unknown; error?: WireError }
      if (reply?.type !== CONFIG_CHANGED || reply.id !== id) return
      clearTimeout(timer)
      process.off('message', onMessage)
      if (reply.error) reject(fromWire(reply.error))
      else resolve()
    }
    process.on('message', onMessage)
    process.send?.({ type: CONFIG_CHANGE, id, name, config })
  })
}

interface ConfigApply {
  type: typeof CONFIG_APPLY
  id: unknown
  name: string
  config: ModelConfig
}

/**
 * Worker side: applies the primary's changes (from any worker's admin request) in order. Returns
 * the function that hands over the app; changes arriving before it are queued.
 */
function listenForConfigChanges(): (app: FastifyInstance) => void {
  let target: FastifyInstance | undefined
  const queued: ConfigApply[] = []
  let chain: Promise<void> = Promise.resolve()
  const apply = (change: ConfigApply, app: FastifyInstance): void => {
    chain = chain.then(() =>
      app.applyModelConfig(change.name, change.config).then(
        () => void process.send?.({ type: CONFIG_APPLIED, id: change.id }),
        (error: unknown) => void process.send?.({ type: CONFIG_APPLIED, id: change.id, error: toWire(error) }),
      ),
    )
  }
  process.on('message', (message: unknown) => {
    const change = message as Partial<ConfigApply>
    if (change?.type !== CONFIG_APPLY || change.name === undefined || change.config === undefined) return
    if (target) apply(change as ConfigApply, target)
    else queued.push(change as ConfigApply)
  })
  return (app) => {
    target = app
    for (const change of queued.splice(0)) apply(change, app)
  }
}

/** Sends to a worker unless it is gone; never throws (a send to a dead worker would crash the primary). */
function sendTo(worker: Worker, message: object): void {
  if (worker.isDead() || !worker.isConnected()) return
  worker.send(message, undefined, undefined, () => undefined)
}

/** Listens, turning the usual mistakes (a port in use, no permission) into one clear line. */
async function listen(app: FastifyInstance, port: number, host: string): Promise<string> {
  try {
    return await app.listen({ port, host })
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code === 'EADDRINUSE') throw new MaltError('SERVING_PORT_IN_USE', `Port ${port} on ${host} is in use: stop what serves there or choose another --port`, { cause: error })
    if (code === 'EACCES') throw new MaltError('SERVING_PORT_DENIED', `No permission to listen on port ${port} of ${host} (ports below 1024 need privileges)`, { cause: error })
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new MaltError('SERVING_BAD_HOST', `Cannot listen on --host ${describeValue(host)}: ${(error as Error).message}`, { cause: error })
    throw error
  }
}

/** Primary side: asks one worker to apply a change; rejects with its error, or when it exits first. */
function applyOnWorker(worker: Worker, id: number, name: string, config: ModelConfig): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      worker.off('message', onMessage)
      worker.off('exit', onExit)
      worker.off('disconnect', onExit)
    }
    const onMessage = (message: { type?: unknown; id?: unknown; error?: WireError }): void => {
      if (message?.type !== CONFIG_APPLIED || message.id !== id) return
      done()
      if (message.error) reject(fromWire(message.error))
      else resolve()
    }
    const onExit = (): void => {
      done()
      reject(new Error(`worker ${worker.process.pid} exited before applying the change`))
    }
    if (worker.isDead() || !worker.isConnected()) return onExit()
    worker.on('message', onMessage)
    worker.on('exit', onExit)
    worker.on('disconnect', onExit)
    sendTo(worker, { type: CONFIG_APPLY, id, name, config })
  })
}

/**
 * Runs the server until SIGINT/SIGTERM. With several workers this process becomes the cluster's
 * primary: it forks them, replaces one that dies, and stops them all on a signal.
 */
export async function serve(options: ServeOptions, announce: (message: string) => void): Promise<void> {
  const workers = options.workers ?? 1
  if (!Number.isSafeInteger(workers) || workers < 1) throw new MaltError('SERVING_BAD_OPTION', `--workers must be a positive integer; received ${describeValue(workers)}`)
  if (workers > 1 && cluster.isPrimary) return runPrimary(workers, options.configPath, announce)
  let server: RunningServer
  try {
    server = await startServer(options)
  } catch (error) {
    // A worker's IPC channel would keep it alive after the error is printed: let go, so it exits and the primary sees why.
    if (cluster.isWorker) process.disconnect()
    throw error
  }
  const models = server.repository.modelNames()
  announce(`malt serve: ${cluster.isWorker ? `worker ${process.pid}` : 'serving'} ${models.length} model(s) [${models.join(', ')}] on ${server.url}`)
  await new Promise<void>((resolve) => {
    // Handlers stay installed: Ctrl-C reaches the whole process group and the primary's SIGTERM
    // follows; a second signal must not kill a worker in the middle of its clean close.
    let stopping = false
    const stop = (): void => {
      if (stopping) return
      stopping = true
      void server.close().finally(() => {
        // A worker's IPC channel to the primary (prom-client and the config changes listen on it)
        // keeps it alive: let go of it so that the process exits.
        if (cluster.isWorker) process.disconnect()
        resolve()
      })
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

async function runPrimary(count: number, configPath: string | undefined, announce: (message: string) => void): Promise<void> {
  // The kernel hands connections to the workers (one shared accept queue). Round-robin in the
  // primary loses a connection handed to a worker that has just died: that client waits forever.
  cluster.schedulingPolicy = cluster.SCHED_NONE
  let config = await initialConfig(configPath)
  let stopping = false
  // Each worker gets its share of the cores for its kernels (see sharedThreadsEnv).
  const threads = sharedThreadsEnv(count)
  // New workers (a replacement too) start from the config as changed so far.
  const fork = (): void => {
    cluster.fork({ ...threads, [CONFIG_ENV]: JSON.stringify(config) })
  }
  // Admin changes, one at a time: the worker that took the request first (it refuses what it
  // cannot serve), then the others, then the file; the worker answers its client after that.
  let changes: Promise<void> = Promise.resolve()
  let changeIds = 0
  cluster.on('message', (origin, message: { type?: unknown; id?: unknown; name?: string; config?: ModelConfig }) => {
    if (message?.type !== CONFIG_CHANGE || message.name === undefined || message.config === undefined) return
    const { name, config: modelConfig } = message
    changes = changes.then(async () => {
      try {
        await applyOnWorker(origin, ++changeIds, name, modelConfig)
        // Workers forked from now on start with the change (before the others are even asked).
        config = { ...config, models: { ...config.models, [name]: modelConfig } }
        const others = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker !== origin)
        const id = ++changeIds
        const results = await Promise.allSettled(others.map((worker) => applyOnWorker(worker, id, name, modelConfig)))
        for (const result of results) if (result.status === 'rejected') announce(`malt serve: a worker could not apply the config of model ${name}: ${(result.reason as Error).message}`)
        if (configPath) await writeServerConfig(configPath, config)
        sendTo(origin, { type: CONFIG_CHANGED, id: message.id })
      } catch (error) {
        sendTo(origin, { type: CONFIG_CHANGED, id: message.id, error: toWire(error) })
      }
    })
  })
  cluster.on('message', (worker, message: { type?: unknown; id?: unknown }) => {
    if (message?.type !== METRICS_REQUEST) return
    clusterMetricsText().then(
      (text) => sendTo(worker, { type: METRICS_REPLY, id: message.id, text }),
      (error: unknown) => sendTo(worker, { type: METRICS_REPLY, id: message.id, error: (error as Error)?.message ?? String(error) }),
    )
  })
  const listening = new Set<number>()
  cluster.on('listening', (worker) => listening.add(worker.id))
  await new Promise<void>((resolve, reject) => {
    let failure: Error | undefined
    const stop = (): void => {
      if (stopping) return
      stopping = true
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
      const waitAll = (): void => {
        if (Object.keys(cluster.workers ?? {}).length > 0) return void setTimeout(waitAll, 50)
        if (failure) reject(failure)
        else resolve()
      }
      waitAll()
    }
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return
      if (!listening.has(worker.id)) {
        // It never served: its options or models are wrong (its error is on stderr above), and so are its replacements'.
        failure = new MaltError('SERVING_WORKER_FAILED', `A worker stopped before it listened (${signal ?? `exit code ${code}`}); its error is printed above`)
        return stop()
      }
      announce(`malt serve: worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
      fork()
    })
    // Handlers stay installed: a second signal must not cut the workers' clean close short.
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    for (let i = 0; i < count; i++) fork()
    announce(`malt serve: primary ${process.pid} started ${count} workers`)
  })
}
