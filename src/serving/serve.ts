// `malt serve` as a function: opens the model repository, builds the app, listens, and shuts
// down cleanly on SIGINT/SIGTERM. With `workers > 1` the primary forks that many processes
// that share the port (node:cluster); each loads the models itself.
import cluster from 'node:cluster'
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { MaltError, describeValue } from '../errors.js'
import { readServerConfig, type ServerConfigFile } from './config.js'
import { createInferenceLogger, type InferenceLogger } from './inference-log.js'
import { ServingMetrics, clusterMetricsText, shareWorkerMetrics } from './metrics.js'
import { ModelRepository } from './repository.js'
import { loadModelVersion } from './runtimes/index.js'
import { createServingApp } from './server.js'
import { ServingError } from './types.js'

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
  const config: ServerConfigFile = options.configPath ? await readServerConfig(options.configPath) : { models: {} }
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
      if (status.error) process.stderr.write(`malt serve: model ${name} version ${status.version} failed to load: ${status.error.message}\n`)
    },
    log: (message) => process.stderr.write(`malt serve: ${message}\n`),
  })
  let inferenceLog: InferenceLogger | undefined
  try {
    inferenceLog = options.logTo ? await createInferenceLogger({ target: options.logTo, sampleRate: options.logSampleRate }) : undefined
    const tls = options.tls ? { cert: await readPem(options.tls.certPath, '--tls-cert'), key: await readPem(options.tls.keyPath, '--tls-key') } : undefined
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
    })
    const address = await app.listen({ port: options.port ?? 8501, host: options.host ?? '127.0.0.1' })
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

/**
 * Runs the server until SIGINT/SIGTERM. With several workers this process becomes the cluster's
 * primary: it forks them, replaces one that dies, and stops them all on a signal.
 */
export async function serve(options: ServeOptions, announce: (message: string) => void): Promise<void> {
  const workers = options.workers ?? 1
  if (!Number.isSafeInteger(workers) || workers < 1) throw new MaltError('SERVING_BAD_OPTION', `--workers must be a positive integer; received ${describeValue(workers)}`)
  if (workers > 1 && cluster.isPrimary) return runPrimary(workers, announce)
  const server = await startServer(options)
  const models = server.repository.modelNames()
  announce(`malt serve: ${cluster.isWorker ? `worker ${process.pid}` : 'serving'} ${models.length} model(s) [${models.join(', ')}] on ${server.url}`)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      void server.close().finally(resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

async function runPrimary(count: number, announce: (message: string) => void): Promise<void> {
  let stopping = false
  const fork = (): void => {
    cluster.fork()
  }
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    announce(`malt serve: worker ${worker.process.pid} exited (${signal ?? code}); starting another`)
    fork()
  })
  cluster.on('message', (worker, message: { type?: unknown; id?: unknown }) => {
    if (message?.type !== METRICS_REQUEST) return
    clusterMetricsText().then(
      (text) => worker.send({ type: METRICS_REPLY, id: message.id, text }),
      (error: unknown) => worker.send({ type: METRICS_REPLY, id: message.id, error: (error as Error)?.message ?? String(error) }),
    )
  })
  for (let i = 0; i < count; i++) fork()
  announce(`malt serve: primary ${process.pid} started ${count} workers`)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      stopping = true
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
      const waitAll = (): void => {
        if (Object.keys(cluster.workers ?? {}).length === 0) resolve()
        else setTimeout(waitAll, 50)
      }
      waitAll()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
