// The multi-process side of `malt serve --workers N` (node:cluster): the primary forks the
// workers and coordinates them over IPC — aggregated /metrics (prom-client's cluster registry)
// and admin config changes applied on every worker and written once — and each worker's end
// of those conversations.
import cluster, { type Worker } from 'node:cluster'
import type { FastifyInstance } from 'fastify'
import { sharedThreadsEnv } from '../backend/threads.js'
import { MaltError } from '../errors.js'
import { parseServerConfig, writeServerConfig, type ServerConfigFile } from './config.js'
import { clusterMetricsText } from './metrics.js'
import { ServingError, type ModelConfig } from './types.js'

const METRICS_REQUEST = 'malt:metrics-request'
const METRICS_REPLY = 'malt:metrics-reply'
const METRICS_WAIT_MS = 5000
let metricsRequests = 0

/** A worker's /metrics: the primary aggregates every worker's registry (prom-client's cluster support). */
export function askPrimaryForMetrics(): Promise<string> {
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
export function askPrimaryToChangeConfig(name: string, config: ModelConfig): Promise<void> {
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
export function listenForConfigChanges(): (app: FastifyInstance) => void {
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

/** The config a worker was started with by its primary (admin changes included); undefined outside a cluster. */
export function configFromPrimary(): ServerConfigFile | undefined {
  const fromPrimary = cluster.isWorker ? process.env[CONFIG_ENV] : undefined
  return fromPrimary === undefined ? undefined : parseServerConfig(JSON.parse(fromPrimary), "the primary process's config")
}

/**
 * The cluster's primary: forks `count` workers that share the port, replaces one that dies,
 * serialises admin changes across them, answers their /metrics, and stops them all on a signal.
 * Rejects when a worker fails before it listens (its options or models are wrong).
 */
export async function runPrimary(count: number, initial: ServerConfigFile, configPath: string | undefined, announce: (message: string) => void): Promise<void> {
  // The kernel hands connections to the workers (one shared accept queue). Round-robin in the
  // primary loses a connection handed to a worker that has just died: that client waits forever.
  cluster.schedulingPolicy = cluster.SCHED_NONE
  let config = initial
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
