// The HTTP face of the model server (fastify): TF Serving's REST API under /v1, the Open
// Inference Protocol (KServe v2) under /v2, Prometheus /metrics, and an admin API for canaries.
// Every error is a JSON `{"error": …}` with a 4xx for the client's mistakes; the server stays up.
import { randomUUID, timingSafeEqual } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { MaltError, describeValue } from '../errors.js'
import { BatchQueue } from './batching.js'
import { parseServerConfig, writeServerConfig, type ServerConfigFile } from './config.js'
import type { InferenceLogger, InferenceRecord } from './inference-log.js'
import type { ServingMetrics } from './metrics.js'
import { parseJsonBody } from './protocols/json-body.js'
import * as kserve from './protocols/kserve.js'
import * as tfserving from './protocols/tfserving.js'
import type { ModelRepository, ServableLease } from './repository.js'
import { ServingError, type ModelConfig, type Tensor, type VersionStatus } from './types.js'

/** Default request body limit: 32 MiB, beyond it 413. */
export const DEFAULT_BODY_LIMIT_BYTES = 32 * 1024 * 1024

/** Options of {@link createServingApp}. */
export interface ServingAppOptions {
  repository: ModelRepository
  metrics?: ServingMetrics
  inferenceLog?: InferenceLogger
  /** Bearer keys; when given, every route but the health probes needs one. @defaultValue none: open */
  apiKeys?: readonly string[]
  /** @defaultValue {@link DEFAULT_BODY_LIMIT_BYTES} */
  bodyLimitBytes?: number
  /** PEM key and certificate: serve HTTPS. */
  tls?: { key: Buffer; cert: Buffer }
  /** Structured access logs (pino, one JSON line per request) to stdout. @defaultValue true */
  accessLog?: boolean
  /** The config file admin changes are written to (atomically); without it they last until restart. */
  configPath?: string
  /** The config as read at start (models not listed get the defaults). */
  config?: ServerConfigFile
  /** Let NaN/±Infinity reach the models. @defaultValue false: 400 */
  allowNonFinite?: boolean
  /** Server version in KServe's server metadata. */
  serverVersion?: string
  /** What /metrics serves. @defaultValue `metrics.metricsText()` (a cluster worker asks its primary for every worker's) */
  metricsText?: () => Promise<string>
  /**
   * Makes an admin change of a model's config. A cluster worker passes it to its primary, which
   * applies it on every worker (`app.applyModelConfig`) and writes the file, one change at a time.
   * @defaultValue applied here and written to `configPath`
   */
  changeModelConfig?: (name: string, config: ModelConfig) => Promise<void>
}

type Api = 'tfserving' | 'kserve'

/** What a request did, for metrics and the access log (set by the handlers). */
interface RequestFacts {
  api?: Api
  method?: string
  model?: string
  version?: number
  /** For the inference log: the parsed body and the response text. */
  body?: unknown
  responseText?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    malt: RequestFacts
  }
  interface FastifyInstance {
    /** Tell the app a version changed state: a version going away drops its batcher (after its queue drains). */
    versionStateChanged(name: string, status: VersionStatus): void
    /** Applies a model's config here (repository and admin view), without writing the file: a cluster primary's change. */
    applyModelConfig(name: string, config: ModelConfig): Promise<void>
  }
}

const TF_SERVING_POST = /^([^/:]+)(?:\/versions\/(\d+)|\/labels\/([^/:]+))?:(predict|classify|regress)$/
const TF_SERVING_GET = /^([^/:]+)(?:\/versions\/(\d+)|\/labels\/([^/:]+))?(\/metadata)?$/

/** Builds the app (not listening); `app.listen({ port, host })` serves it. */
export async function createServingApp(options: ServingAppOptions): Promise<FastifyInstance> {
  const { repository, metrics, inferenceLog } = options
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    logger: options.accessLog === false ? false : { level: 'info' },
    // One access line per request, written by the onResponse hook below (with model and version).
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (request) => headerValue(request.headers['x-request-id']) ?? randomUUID(),
    ...(options.tls ? { https: options.tls } : {}),
  })
  const batchers = new Map<string, BatchQueue>()
  let config: ServerConfigFile = options.config ?? { models: {} }

  // Bodies are parsed by the protocols (TF Serving's JSON allows NaN tokens); any content type is
  // accepted, as TF Serving does (`curl -d` sends application/x-www-form-urlencoded).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  app.decorateRequest('malt', null as unknown as RequestFacts)
  app.addHook('onRequest', async (request) => {
    request.malt = {}
    if (options.apiKeys && options.apiKeys.length > 0 && !request.url.startsWith('/v2/health/')) authorize(request, options.apiKeys)
  })
  app.addHook('onResponse', async (request, reply) => {
    const facts = request.malt
    const seconds = reply.elapsedTime / 1000
    if (facts?.api !== undefined && facts.model !== undefined) {
      metrics?.observeRequest(
        { model: facts.model, version: facts.version === undefined ? '' : String(facts.version), api: facts.api, method: facts.method ?? '', code: reply.statusCode },
        seconds,
      )
      if (inferenceLog && facts.body !== undefined && facts.version !== undefined && (facts.method === 'predict' || facts.method === 'infer')) {
        const record = (): InferenceRecord => ({
          timestamp: new Date(Date.now() - reply.elapsedTime).toISOString(), // when the request arrived
          requestId: String(request.id),
          model: facts.model as string,
          version: facts.version as number,
          api: facts.api as Api,
          status: reply.statusCode,
          latencyMs: reply.elapsedTime,
          request: facts.body,
          response: facts.responseText === undefined ? undefined : safeParse(facts.responseText),
        })
        inferenceLog.log(record)
      }
    }
    if (options.accessLog !== false) {
      request.log.info(
        { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100, model: facts?.model, version: facts?.version },
        'request',
      )
    }
  })

  app.setErrorHandler((error, request, reply) => {
    const failure = toServingError(error, request)
    // The inference log keeps bad requests too (what clients send wrong matters for monitoring), with the error.
    if (request.malt) request.malt.responseText = JSON.stringify({ error: failure.message })
    return sendError(reply, failure)
  })
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ServingError(404, 'SERVING_NO_ROUTE', `Malformed request: ${request.method} ${request.url.split('?')[0]} is not an endpoint of this server`)),
  )

  // ---- TF Serving REST API (v1) ----
  app.get('/v1/models/*', async (request, reply) => {
    const rest = (request.params as { '*': string })['*']
    const match = TF_SERVING_GET.exec(rest)
    if (!match) throw new ServingError(404, 'SERVING_NO_ROUTE', `Malformed request: GET /v1/models/${rest}`)
    const [, name, version, label, metadata] = match
    Object.assign(request.malt, { api: 'tfserving', model: name, method: metadata ? 'metadata' : 'status' })
    if (metadata) {
      // Unversioned metadata describes the primary version: only predicts take the canary's share.
      const lease = repository.acquire(name, selector(version, label) ?? { canary: false })
      try {
        request.malt.version = lease.version
        return sendJson(reply, tfserving.modelMetadataResponse(name, lease.version, lease.model))
      } finally {
        lease.release()
      }
    }
    let statuses = repository.statuses(name)
    if (version !== undefined) {
      statuses = statuses.filter((status) => status.version === Number(version))
      if (statuses.length === 0) throw new ServingError(404, 'SERVING_VERSION_NOT_FOUND', `Could not find version ${version} of model ${name}`)
    } else if (label !== undefined) {
      const labelled = repository.modelConfig(name).labels?.[label]
      if (labelled === undefined) throw new ServingError(400, 'SERVING_UNKNOWN_LABEL', `Unrecognized servable version label: ${label}`)
      statuses = statuses.filter((status) => status.version === labelled)
      if (statuses.length === 0) throw new ServingError(404, 'SERVING_VERSION_NOT_FOUND', `Could not find version ${labelled} (label ${label}) of model ${name}`)
    }
    return sendJson(reply, tfserving.modelStatusResponse(statuses))
  })

  app.post('/v1/models/*', async (request, reply) => {
    const rest = (request.params as { '*': string })['*']
    const match = TF_SERVING_POST.exec(rest)
    if (!match) throw new ServingError(404, 'SERVING_NO_ROUTE', `Malformed request: POST /v1/models/${rest}`)
    const [, name, version, label, verb] = match
    Object.assign(request.malt, { api: 'tfserving', model: name, method: verb })
    if (verb !== 'predict') {
      throw new ServingError(501, 'SERVING_NOT_SUPPORTED', `${verb} is not supported for model ${name}: it has no tensorflow/serving/${verb} signature; use :predict`)
    }
    const lease = repository.acquire(name, selector(version, label))
    try {
      request.malt.version = lease.version
      const body = parseJsonBody(bodyOf(request), { nonFiniteTokens: true })
      request.malt.body = body
      const decoded = tfserving.decodePredictRequest(body, lease.model, { allowNonFinite: options.allowNonFinite })
      const outputs = await predict(lease, decoded.inputs, decoded.batchSize)
      const text = tfserving.encodePredictResponse(decoded.format, outputs, lease.model)
      request.malt.responseText = text
      return sendText(reply, text)
    } finally {
      lease.release()
    }
  })

  // ---- Open Inference Protocol / KServe v2 ----
  app.get('/v2/health/live', async (_request, reply) => sendJson(reply, { live: true }))
  app.get('/v2/health/ready', async (_request, reply) => {
    const ready = repository.modelNames().every((name) => repository.statuses(name).some((status) => status.state === 'AVAILABLE'))
    return sendJson(reply.code(ready ? 200 : 503), { ready })
  })
  app.get('/v2', async (_request, reply) => sendJson(reply, kserve.serverMetadataResponse(options.serverVersion ?? '0.0.0')))

  const kserveMetadata = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const { name, version } = request.params as { name: string; version?: string }
    Object.assign(request.malt, { api: 'kserve', model: name, method: 'metadata' })
    const lease = repository.acquire(name, selector(kserveVersion(version)) ?? { canary: false })
    try {
      request.malt.version = lease.version
      const versions = repository
        .statuses(name)
        .filter((status) => status.state === 'AVAILABLE')
        .map((status) => String(status.version))
      return sendJson(reply, kserve.modelMetadataResponse(name, versions, lease.model.platform, lease.model))
    } finally {
      lease.release()
    }
  }
  app.get('/v2/models/:name', kserveMetadata)
  app.get('/v2/models/:name/versions/:version', kserveMetadata)

  const kserveReady = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const { name, version } = request.params as { name: string; version?: string }
    Object.assign(request.malt, { api: 'kserve', model: name, method: 'ready' })
    const statuses = repository.statuses(name)
    const wanted = kserveVersion(version)
    const ready = statuses.some((status) => status.state === 'AVAILABLE' && (wanted === undefined || status.version === wanted))
    if (wanted !== undefined && !statuses.some((status) => status.version === wanted)) {
      throw new ServingError(404, 'SERVING_VERSION_NOT_FOUND', `Model ${name} has no version ${wanted}`)
    }
    return sendJson(reply.code(ready ? 200 : 503), { name, ready })
  }
  app.get('/v2/models/:name/ready', kserveReady)
  app.get('/v2/models/:name/versions/:version/ready', kserveReady)

  const kserveInfer = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const { name, version } = request.params as { name: string; version?: string }
    Object.assign(request.malt, { api: 'kserve', model: name, method: 'infer' })
    const lease = repository.acquire(name, selector(kserveVersion(version)))
    try {
      request.malt.version = lease.version
      const body = parseJsonBody(bodyOf(request), { nonFiniteTokens: false })
      request.malt.body = body
      const decoded = kserve.decodeInferRequest(body, lease.model, { allowNonFinite: options.allowNonFinite })
      const outputs = await predict(lease, decoded.inputs, decoded.batchSize)
      const text = kserve.encodeInferResponse({
        modelName: name,
        modelVersion: String(lease.version),
        id: decoded.id,
        outputs,
        requestedOutputs: decoded.requestedOutputs,
      })
      request.malt.responseText = text
      return sendText(reply, text)
    } finally {
      lease.release()
    }
  }
  app.post('/v2/models/:name/infer', kserveInfer)
  app.post('/v2/models/:name/versions/:version/infer', kserveInfer)

  // ---- Operations ----
  app.get('/metrics', async (_request, reply) => {
    const text = options.metricsText ?? (metrics ? () => metrics.metricsText() : undefined)
    if (!text) throw new ServingError(404, 'SERVING_NO_METRICS', 'Metrics are off on this server')
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(await text())
  })

  app.get('/admin/models/:name/config', async (request, reply) => {
    const { name } = request.params as { name: string }
    repository.statuses(name) // 404 for an unknown model
    return sendJson(reply, repository.modelConfig(name))
  })
  app.put('/admin/models/:name/canary', async (request, reply) => {
    const { name } = request.params as { name: string }
    repository.statuses(name)
    const body = parseJsonBody(bodyOf(request), { nonFiniteTokens: false })
    const current = repository.modelConfig(name)
    const candidate = validatedModelConfig(name, { ...current, canary: body as ModelConfig['canary'] })
    await changeModelConfig(name, candidate)
    return sendJson(reply, repository.modelConfig(name))
  })
  app.delete('/admin/models/:name/canary', async (request, reply) => {
    const { name } = request.params as { name: string }
    repository.statuses(name)
    const { canary: _removed, ...rest } = repository.modelConfig(name)
    await changeModelConfig(name, rest)
    return sendJson(reply, repository.modelConfig(name))
  })

  app.decorate('applyModelConfig', (name: string, modelConfig: ModelConfig) => inOrder(() => applyHere(name, modelConfig)))
  app.decorate('versionStateChanged', (name: string, status: VersionStatus) => {
    if (status.state !== 'UNLOADING' && status.state !== 'END') return
    const key = `${name}/${status.version}`
    const batcher = batchers.get(key)
    batchers.delete(key)
    void batcher?.close()
  })
  app.addHook('onClose', async () => {
    await Promise.all([...batchers.values()].map((batcher) => batcher.close()))
  })

  /** Runs the model directly or through the version's batcher when its model has batching on. */
  async function predict(lease: ServableLease, inputs: Map<string, Tensor>, rows: number): Promise<Map<string, Tensor>> {
    const batching = repository.modelConfig(lease.name).batching
    if (batching === undefined) return lease.model.predict(inputs)
    const key = `${lease.name}/${lease.version}`
    let batcher = batchers.get(key)
    if (batcher === undefined) {
      const model = lease.model
      batcher = new BatchQueue({ ...batching, model: lease.name }, (joined) => model.predict(joined), {
        onBatch: (batchRows) => metrics?.observeBatch(lease.name, String(lease.version), batchRows),
      })
      batchers.set(key, batcher)
    }
    return batcher.submit(inputs, rows)
  }

  function validatedModelConfig(name: string, candidate: ModelConfig): ModelConfig {
    try {
      return parseServerConfig({ models: { [name]: candidate } }, `the admin request for model ${name}`).models[name]
    } catch (error) {
      if (error instanceof MaltError) throw new ServingError(400, error.code, error.message, { cause: error })
      throw error
    }
  }

  // Config changes run one at a time, each from the config the previous one left: two admin
  // requests at once must both reach the file (building both from the same old config loses one).
  let configChanges: Promise<unknown> = Promise.resolve()
  function inOrder(change: () => Promise<void>): Promise<void> {
    const run = configChanges.then(change)
    configChanges = run.catch(() => undefined)
    return run
  }

  async function applyHere(name: string, modelConfig: ModelConfig): Promise<void> {
    // The repository refuses what it cannot serve (a canary version with no directory): only then is it kept.
    await repository.setModelConfig(name, modelConfig)
    config = { ...config, models: { ...config.models, [name]: modelConfig } }
  }

  function changeModelConfig(name: string, modelConfig: ModelConfig): Promise<void> {
    if (options.changeModelConfig) return options.changeModelConfig(name, modelConfig)
    return inOrder(async () => {
      await applyHere(name, modelConfig)
      if (options.configPath) await writeServerConfig(options.configPath, config)
    })
  }

  return app
}

function selector(version?: string | number, label?: string): { version?: number; label?: string } | undefined {
  if (version !== undefined) return { version: Number(version) }
  if (label !== undefined) return { label }
  return undefined
}

/** KServe versions are strings; Malt's are positive integers. */
function kserveVersion(version: string | undefined): number | undefined {
  if (version === undefined) return undefined
  if (!/^\d+$/.test(version)) throw new ServingError(400, 'SERVING_BAD_VERSION', `Model version must be a positive integer; received ${describeValue(version)}`)
  return Number(version)
}

function bodyOf(request: FastifyRequest): Buffer {
  const body = request.body
  if (!Buffer.isBuffer(body) || body.length === 0) throw new ServingError(400, 'SERVING_EMPTY_BODY', 'The request has no body; expected a JSON object')
  return body
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value
  return first !== undefined && /^[\w.:-]{1,128}$/.test(first) ? first : undefined
}

function authorize(request: FastifyRequest, keys: readonly string[]): void {
  const header = request.headers.authorization
  const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header) : null
  if (!match) throw new ServingError(401, 'SERVING_UNAUTHENTICATED', 'This server needs an API key: send "Authorization: Bearer <key>"')
  const given = Buffer.from(match[1].trim())
  const known = keys.some((key) => {
    const expected = Buffer.from(key)
    return expected.length === given.length && timingSafeEqual(expected, given)
  })
  if (!known) throw new ServingError(403, 'SERVING_FORBIDDEN', 'The API key is not valid for this server')
}

function toServingError(error: unknown, request: FastifyRequest): ServingError {
  if (error instanceof ServingError) return error
  const fastifyError = error as { code?: string; statusCode?: number; message?: string }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new ServingError(413, 'SERVING_BODY_TOO_LARGE', `The request body is larger than this server's limit (${request.routeOptions.bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES} bytes)`)
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new ServingError(fastifyError.statusCode as 400, fastifyError.code ?? 'SERVING_BAD_REQUEST', fastifyError.message ?? 'Bad request')
  }
  request.log.error({ err: error }, 'internal error')
  return new ServingError(500, 'SERVING_INTERNAL', `Internal error: ${(error as Error)?.message ?? String(error)}`)
}

function sendError(reply: FastifyReply, error: ServingError): FastifyReply {
  return reply.code(error.status).type('application/json').send(JSON.stringify({ error: error.message }))
}

function sendJson(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.type('application/json').send(JSON.stringify(value))
}

function sendText(reply: FastifyReply, text: string): FastifyReply {
  return reply.type('application/json').send(text)
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text // NaN tokens (TF Serving's JSON): keep the text as it was sent.
  }
}
