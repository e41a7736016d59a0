// Tests of the serving metrics through what Prometheus would scrape: the text exposition format
// is parsed and counters, histogram buckets, labels and version states are checked. The cluster
// test forks this same file as two node:cluster workers (the `cluster.isWorker` branch below).
import assert from 'node:assert/strict'
import cluster, { type Worker } from 'node:cluster'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Registry } from 'prom-client'
import { ServingMetrics, clusterMetricsText, shareWorkerMetrics, type RequestLabels } from './metrics.js'

/** One sample line of the exposition format. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the text exposition format's sample lines (comments skipped), as a scraper would. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    assert.ok(match, `not a sample line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2]
    samples.push({ name: match[1], labels, value: Number(match[3]) })
  }
  return samples
}

/** The value of the one sample named `name` whose labels include `labels`; undefined when none. */
function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  assert.ok(found.length <= 1, `${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}

const predict = (code: number, version = '1'): RequestLabels => ({ model: 'mnist', version, api: 'tfserving', method: 'predict', code })

if (cluster.isWorker) {
  // A worker of the cluster test: observe what the primary says, report, then answer its scrape.
  const metrics = new ServingMetrics()
  shareWorkerMetrics(metrics)
  process.on('message', (message: { observe?: { codes: number[]; rows: number[] } }) => {
    if (!message.observe) return
    for (const code of message.observe.codes) metrics.observeRequest(predict(code), 0.002)
    for (const rows of message.observe.rows) metrics.observeBatch('mnist', '1', rows)
    metrics.setVersionState('mnist', '1', 'AVAILABLE')
    process.send?.({ observed: true })
  })
  // Said once the listener above is installed: a message sent before would be lost.
  process.send?.({ ready: true })
} else {
  test('requests and errors are counted per model, version, protocol, method and status', async () => {
    const metrics = new ServingMetrics()
    metrics.observeRequest(predict(200), 0.001)
    metrics.observeRequest(predict(200), 0.002)
    metrics.observeRequest(predict(400), 0.0001)
    metrics.observeRequest(predict(200, '2'), 0.003)
    metrics.observeRequest({ model: 'mnist', version: '2', api: 'kserve', method: 'infer', code: 503 }, 0.5)
    const samples = parseExposition(await metrics.metricsText())
    const v1 = { model: 'mnist', version: '1', api: 'tfserving', method: 'predict' }
    assert.equal(sample(samples, 'malt_serving_requests_total', { ...v1, code: '200' }), 2)
    assert.equal(sample(samples, 'malt_serving_requests_total', { ...v1, code: '400' }), 1)
    assert.equal(sample(samples, 'malt_serving_requests_total', { ...v1, version: '2', code: '200' }), 1)
    assert.equal(sample(samples, 'malt_serving_requests_total', { api: 'kserve', method: 'infer', code: '503' }), 1)
    // Only statuses >= 400 are errors.
    assert.equal(sample(samples, 'malt_serving_errors_total', { ...v1, code: '200' }), undefined)
    assert.equal(sample(samples, 'malt_serving_errors_total', { ...v1, code: '400' }), 1)
    assert.equal(sample(samples, 'malt_serving_errors_total', { api: 'kserve', code: '503' }), 1)
    assert.equal(samples.filter((s) => s.name === 'malt_serving_errors_total').length, 2)
  })

  test('the latency histogram has cumulative buckets from 0.1 ms to 10 s, a count and a sum', async () => {
    const metrics = new ServingMetrics()
    const seconds = [0.00005, 0.0003, 0.0003, 0.004, 0.2, 7, 30]
    for (const s of seconds) metrics.observeRequest(predict(200), s)
    const samples = parseExposition(await metrics.metricsText())
    const buckets = samples.filter((s) => s.name === 'malt_serving_request_duration_seconds_bucket' && s.labels.model === 'mnist')
    assert.equal(buckets[0].labels.le, '0.0001')
    assert.equal(buckets.at(-2)?.labels.le, '10')
    assert.equal(buckets.at(-1)?.labels.le, '+Inf')
    assert.ok(buckets.every((b) => b.labels.code === undefined), 'no status label on the histogram')
    const le = (bound: string): number | undefined => buckets.find((b) => b.labels.le === bound)?.value
    assert.equal(le('0.0001'), 1)
    assert.equal(le('0.00025'), 1)
    assert.equal(le('0.0005'), 3)
    assert.equal(le('0.005'), 4)
    assert.equal(le('0.25'), 5)
    assert.equal(le('5'), 5)
    assert.equal(le('10'), 6)
    assert.equal(le('+Inf'), 7)
    assert.equal(sample(samples, 'malt_serving_request_duration_seconds_count', { model: 'mnist' }), 7)
    const sum = sample(samples, 'malt_serving_request_duration_seconds_sum', { model: 'mnist' }) ?? NaN
    assert.ok(Math.abs(sum - seconds.reduce((a, b) => a + b, 0)) < 1e-9, `sum ${sum}`)
  })

  test('the batch-size histogram has power-of-two buckets up to 512', async () => {
    const metrics = new ServingMetrics()
    for (const rows of [1, 3, 8, 8, 100, 512, 600]) metrics.observeBatch('cnn', '4', rows)
    const samples = parseExposition(await metrics.metricsText())
    const buckets = samples.filter((s) => s.name === 'malt_serving_batch_size_bucket' && s.labels.model === 'cnn' && s.labels.version === '4')
    assert.deepEqual(buckets.map((b) => b.labels.le), ['1', '2', '4', '8', '16', '32', '64', '128', '256', '512', '+Inf'])
    assert.deepEqual(buckets.map((b) => b.value), [1, 1, 2, 4, 4, 4, 4, 5, 5, 6, 7])
    assert.equal(sample(samples, 'malt_serving_batch_size_sum', { model: 'cnn' }), 1232)
  })

  test('version states read 1 for the current state only, and models_loaded counts AVAILABLE versions', async () => {
    const metrics = new ServingMetrics()
    const loaded = async (): Promise<number | undefined> => sample(parseExposition(await metrics.metricsText()), 'malt_serving_models_loaded')
    const states = async (model: string, version: string): Promise<Record<string, number>> => {
      const found = parseExposition(await metrics.metricsText()).filter((s) => s.name === 'malt_serving_model_versions' && s.labels.model === model && s.labels.version === version)
      return Object.fromEntries(found.map((s) => [s.labels.state, s.value]))
    }
    assert.equal(await loaded(), 0)
    metrics.setVersionState('mnist', '1', 'LOADING')
    assert.deepEqual(await states('mnist', '1'), { START: 0, LOADING: 1, AVAILABLE: 0, UNLOADING: 0, END: 0 })
    assert.equal(await loaded(), 0)
    metrics.setVersionState('mnist', '1', 'AVAILABLE')
    metrics.setVersionState('cnn', '3', 'AVAILABLE')
    assert.equal(await loaded(), 2)
    // A hot swap: version 2 comes, version 1 goes.
    metrics.setVersionState('mnist', '2', 'AVAILABLE')
    assert.equal(await loaded(), 3)
    metrics.setVersionState('mnist', '1', 'UNLOADING')
    assert.equal(await loaded(), 2)
    metrics.setVersionState('mnist', '1', 'END')
    assert.deepEqual(await states('mnist', '1'), { START: 0, LOADING: 0, AVAILABLE: 0, UNLOADING: 0, END: 1 })
    assert.equal(await loaded(), 2)
    metrics.removeVersion('cnn', '3')
    assert.deepEqual(await states('cnn', '3'), {})
    assert.equal(await loaded(), 1)
  })

  test('default process metrics are on the registry with the prefix; a custom registry and prefix are used', async () => {
    const registry = new Registry()
    const metrics = new ServingMetrics({ registry, prefix: 'm_' })
    assert.equal(metrics.registry, registry)
    metrics.observeRequest(predict(200), 0.01)
    const names = new Set(parseExposition(await registry.metrics()).map((s) => s.name))
    assert.ok(names.has('m_requests_total'))
    assert.ok(names.has('m_process_cpu_user_seconds_total'), 'process metrics')
    assert.ok(names.has('m_nodejs_heap_size_used_bytes'), 'Node.js metrics')
    assert.ok([...names].every((name) => name.startsWith('m_')), [...names].filter((n) => !n.startsWith('m_')).join(', '))
  })

  test('with node:cluster, the primary serves the sum of its workers\' metrics', { timeout: 10_000 }, async () => {
    // This file is the workers' script; tsx loads it as it loads this test.
    cluster.setupPrimary({ exec: fileURLToPath(import.meta.url), execArgv: ['--import', 'tsx'], silent: false })
    const workers: Worker[] = [cluster.fork(), cluster.fork()]
    try {
      const observe = [{ codes: [200, 200, 200, 404], rows: [1, 4] }, { codes: [200, 200, 500], rows: [16] }]
      await Promise.all(workers.map((worker, i) => new Promise<void>((resolve, reject) => {
        worker.once('error', reject)
        worker.once('exit', (code) => reject(new Error(`worker ${i} exited with ${code}`)))
        worker.on('message', (message: { ready?: boolean; observed?: boolean }) => {
          if (message.ready) worker.send({ observe: observe[i] })
          if (message.observed) resolve()
        })
      })))
      const samples = parseExposition(await clusterMetricsText())
      const labels = { model: 'mnist', version: '1', api: 'tfserving', method: 'predict' }
      assert.equal(sample(samples, 'malt_serving_requests_total', { ...labels, code: '200' }), 5)
      assert.equal(sample(samples, 'malt_serving_requests_total', { ...labels, code: '404' }), 1)
      assert.equal(sample(samples, 'malt_serving_errors_total', { ...labels, code: '500' }), 1)
      assert.equal(sample(samples, 'malt_serving_request_duration_seconds_count', labels), 7)
      assert.equal(sample(samples, 'malt_serving_request_duration_seconds_bucket', { ...labels, le: '0.0025' }), 7)
      assert.equal(sample(samples, 'malt_serving_batch_size_count', { model: 'mnist' }), 3)
      assert.equal(sample(samples, 'malt_serving_batch_size_bucket', { model: 'mnist', le: '4' }), 2)
      // Both workers have the version: loaded once, not twice.
      assert.equal(sample(samples, 'malt_serving_models_loaded'), 1)
      assert.equal(sample(samples, 'malt_serving_model_versions', { model: 'mnist', version: '1', state: 'AVAILABLE' }), 1)
    } finally {
      for (const worker of workers) {
        worker.removeAllListeners('exit')
        worker.kill()
      }
    }
  })
}
