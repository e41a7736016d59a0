// `malt serve` as a function: opens the model repository, builds the app, listens, and shuts
// down cleanly on SIGINT/SIGTERM. With `workers > 1` the primary forks that many processes
// that share the port (node:cluster); each loads the models itself.
import cluster from 'node:cluster'
import { readFile } from 'node:fs/promises'
import { createSecureContext } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import { MaltError, describeValue } from '../errors.js'
import { askPrimaryForMetrics, askPrimaryToChangeConfig, configFromPrimary, listenForConfigChanges, runPrimary } from './cluster.js'
import { readServerConfig, type ServerConfigFile } from './config.js'
import { createInferenceLogger, type InferenceLogger } from './inference-log.js'
import { ServingMetrics, shareWorkerMetrics } from './metrics.js'
import { ModelRepository } from './repository.js'
import { loadModelVersion } from './runtimes/index.js'
import { createServingApp } from './server.js'

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
  const fromPrimary = configFromPrimary()
  if (fromPrimary !== undefined) return fromPrimary
  return path ? readServerConfig(path) : { models: {} }
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

/**
 * Runs the server until SIGINT/SIGTERM. With several workers this process becomes the cluster's
 * primary: it forks them, replaces one that dies, and stops them all on a signal.
 */
export async function serve(options: ServeOptions, announce: (message: string) => void): Promise<void> {
  const workers = options.workers ?? 1
  if (!Number.isSafeInteger(workers) || workers < 1) throw new MaltError('SERVING_BAD_OPTION', `--workers must be a positive integer; received ${describeValue(workers)}`)
  if (workers > 1 && cluster.isPrimary) return runPrimary(workers, await initialConfig(options.configPath), options.configPath, announce)
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
