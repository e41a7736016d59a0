// Prometheus metrics of the model server: requests, errors and latency per model, version,
// protocol and method; the batch sizes the batcher formed; each version's state. With
// `--workers N` every worker keeps its own registry and the primary sums them on a scrape.
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { VersionState } from './types.js'

/** The labels of one answered request. */
export interface RequestLabels {
  model: string
  version: string
  api: 'tfserving' | 'kserve'
  /** What was asked: 'predict', 'infer', 'metadata', 'status', … */
  method: string
  /** The HTTP status answered. */
  code: number
}

/** Options of {@link ServingMetrics}. */
export interface ServingMetricsOptions {
  /** Where the metrics are registered. @defaultValue a new registry */
  registry?: Registry
  /** Prepended to every metric name, default process metrics included. @defaultValue 'malt_serving_' */
  prefix?: string
}

const DEFAULTS = { prefix: 'malt_serving_' }

/** Latency buckets in seconds, 0.1 ms to 10 s in 1–2.5–5 steps: a cached MLP answers in well under 1 ms, a cold CNN batch in seconds. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Batch-size buckets in rows: powers of two up to 512 (batchers are configured in powers of two). */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]

const VERSION_STATES: readonly VersionState[] = ['START', 'LOADING', 'AVAILABLE', 'UNLOADING', 'END']

/**
 * The server's metrics on one registry, rendered in the Prometheus text format by
 * {@link ServingMetrics.metricsText}.
 *
 * @example
 * ```ts
 * const metrics = new ServingMetrics()
 * metrics.observeRequest({ model: 'mnist', version: '2', api: 'kserve', method: 'infer', code: 200 }, 0.0031)
 * reply.type(metrics.registry.contentType).send(await metrics.metricsText())
 * ```
 */
export class ServingMetrics {
  readonly registry: Registry
  private readonly requests: Counter<'model' | 'version' | 'api' | 'method' | 'code'>
  private readonly errors: Counter<'model' | 'version' | 'api' | 'method' | 'code'>
  private readonly duration: Histogram<'model' | 'version' | 'api' | 'method'>
  private readonly batchSize: Histogram<'model' | 'version'>
  private readonly versions: Gauge<'model' | 'version' | 'state'>
  private readonly loaded: Gauge
  /** The last state set per version, keyed `model\0version`: models_loaded counts the AVAILABLE ones. */
  private readonly states = new Map<string, VersionState>()

  constructor(options: ServingMetricsOptions = {}) {
    const prefix = options.prefix ?? DEFAULTS.prefix
    this.registry = options.registry ?? new Registry()
    const registers = [this.registry]
    const requestLabels = ['model', 'version', 'api', 'method', 'code'] as const
    this.requests = new Counter({ name: `${prefix}requests_total`, help: 'Requests answered, by model, version, protocol, method and HTTP status.', labelNames: requestLabels, registers })
    this.errors = new Counter({ name: `${prefix}errors_total`, help: 'Requests answered with an HTTP status of 400 or more.', labelNames: requestLabels, registers })
    // No `code` label on the histogram: 16 buckets per status would multiply its series for little insight.
    this.duration = new Histogram({ name: `${prefix}request_duration_seconds`, help: 'Time from the request read to the response sent, in seconds.', labelNames: ['model', 'version', 'api', 'method'], buckets: LATENCY_BUCKETS, registers })
    this.batchSize = new Histogram({ name: `${prefix}batch_size`, help: 'Rows per model call, after dynamic batching.', labelNames: ['model', 'version'], buckets: BATCH_SIZE_BUCKETS, registers })
    // Workers load the same repository, so summing their states would count each version N
    // times: across workers a state reads 1 when any worker is in it.
    this.versions = new Gauge({ name: `${prefix}model_versions`, help: 'Model version states (TF Serving\'s): 1 for the current state, 0 for the others.', labelNames: ['model', 'version', 'state'], registers, aggregator: 'max' })
    this.loaded = new Gauge({ name: `${prefix}models_loaded`, help: 'Model versions AVAILABLE for requests (the most any worker has).', registers, aggregator: 'max' })
    this.loaded.set(0)
    collectDefaultMetrics({ register: this.registry, prefix })
  }

  /** Counts one answered request and its latency (`seconds`); a status of 400 or more also counts as an error. */
  observeRequest(labels: RequestLabels, seconds: number): void {
    const { model, version, api, method } = labels
    const withCode = { model, version, api, method, code: String(labels.code) }
    this.requests.inc(withCode)
    if (labels.code >= 400) this.errors.inc(withCode)
    this.duration.observe({ model, version, api, method }, seconds)
  }

  /** Records one model call of `rows` rows (a batch the batcher formed, or one request when batching is off). */
  observeBatch(model: string, version: string, rows: number): void {
    this.batchSize.observe({ model, version }, rows)
  }

  /** Sets a version's state: its series for `state` reads 1, the other states 0; models_loaded follows. */
  setVersionState(model: string, version: string, state: VersionState): void {
    for (const each of VERSION_STATES) this.versions.set({ model, version, state: each }, each === state ? 1 : 0)
    this.states.set(`${model}\0${version}`, state)
    this.updateLoaded()
  }

  /** Forgets a version that will not come back (its directory was deleted), so that retired versions do not grow the series without bound. */
  removeVersion(model: string, version: string): void {
    for (const state of VERSION_STATES) this.versions.remove({ model, version, state })
    this.states.delete(`${model}\0${version}`)
    this.updateLoaded()
  }

  /** This process's metrics in the Prometheus text exposition format. */
  metricsText(): Promise<string> {
    return this.registry.metrics()
  }

  private updateLoaded(): void {
    let available = 0
    for (const state of this.states.values()) if (state === 'AVAILABLE') available++
    this.loaded.set(available)
  }
}

/** Created on first use: constructing one installs prom-client's listener for the workers' answers. */
let aggregator: AggregatorRegistry<typeof Registry.PROMETHEUS_CONTENT_TYPE> | undefined

/**
 * For `--workers N` (node:cluster): called in the primary, asks every connected worker for its
 * metrics and returns them aggregated (counters and histograms summed per label set; version
 * states and models_loaded as the maximum over workers), in the Prometheus text format.
 * Content type: `Registry.PROMETHEUS_CONTENT_TYPE`. Resolves '' when no worker is connected;
 * rejects when a worker does not answer within 5 s (prom-client's limit).
 *
 * Each worker must call {@link shareWorkerMetrics} with its {@link ServingMetrics} once, at
 * start-up: a worker that did not never answers, and the scrape fails.
 */
export function clusterMetricsText(): Promise<string> {
  aggregator ??= new AggregatorRegistry()
  return aggregator.clusterMetrics()
}

/**
 * Worker side of {@link clusterMetricsText}: answers the primary's metric requests with
 * `metrics.registry`. Call once per worker process (prom-client keeps one list of registries
 * per process; a second call replaces the first).
 */
export function shareWorkerMetrics(metrics: ServingMetrics): void {
  AggregatorRegistry.setRegistries([metrics.registry])
  // The constructor is what installs the worker's `process.on('message')` handler.
  aggregator ??= new AggregatorRegistry()
}
