// Inference logging against real sinks: JSON Lines files in a temporary directory and a real
// Redis (a random stream per test, deleted afterwards). Checks completeness and order, sampling,
// rotation, flushing on close, bounded buffering, and that a dead sink never reaches the caller.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { createInferenceLogger, type InferenceLogger, type InferenceRecord } from '../../src/serving/inference-log.js'
import { rejectsWith } from '../helpers/errors.js'
import { TEST_REDIS_URL, randomKey, requireRedis } from '../helpers/redis.js'
import { useTempDir } from '../helpers/temp-dir.js'

const temp = useTempDir()
let dirCount = 0
/** A fresh, not yet existing directory under the test's temporary directory. */
const freshDir = (): string => temp.join(`logs-${++dirCount}`)

/** Record number `i`: its requestId carries `i` so order can be checked. */
function record(i: number): InferenceRecord {
  return {
    timestamp: new Date(1714564800000 + i).toISOString(),
    requestId: `req-${i}`,
    model: 'mnist',
    version: 3,
    api: i % 2 === 0 ? 'tfserving' : 'kserve',
    status: 200,
    latencyMs: 1.25,
    request: { instances: [[i, 0.5, 1]] },
    response: { predictions: [[0.1, 0.9]] },
  }
}

/** Logs records `from`..`to`-1, yielding to the event loop every `every` records so writes interleave with logging. */
async function logRange(log: InferenceLogger, from: number, to: number, every = 50): Promise<void> {
  for (let i = from; i < to; i++) {
    log.log(() => record(i))
    if (i % every === every - 1) await new Promise((resolve) => setImmediate(resolve))
  }
}

/** The records of every `.jsonl` file in `dir`, files in name order; every line must be complete JSON. */
function readLogDir(dir: string): { files: string[]; records: InferenceRecord[] } {
  const files = readdirSync(dir).filter((name) => name.endsWith('.jsonl')).sort()
  const records: InferenceRecord[] = []
  for (const file of files) {
    const text = readFileSync(`${dir}/${file}`, 'utf8')
    assert.ok(text.endsWith('\n'), `${file} ends with a whole line`)
    for (const line of text.slice(0, -1).split('\n')) records.push(JSON.parse(line) as InferenceRecord)
  }
  return { files, records }
}

const ids = (records: InferenceRecord[]): string[] => records.map((r) => r.requestId)
const range = (n: number): string[] => Array.from({ length: n }, (_, i) => `req-${i}`)

test('files: every record arrives complete and in order, in one file named after the process', async () => {
  const dir = freshDir()
  const log = await createInferenceLogger({ target: dir })
  await logRange(log, 0, 1500)
  await log.flush()
  const { files, records } = readLogDir(dir)
  assert.equal(files.length, 1)
  assert.match(files[0], new RegExp(`^inference-${process.pid}-\\d{8}T\\d{6}\\.\\d{3}Z\\.jsonl$`))
  assert.deepEqual(ids(records), range(1500))
  assert.deepEqual(records[7], record(7))
  assert.equal(log.dropped, 0)
  await log.close()
})

test('files: close() flushes what was logged just before; later records are dropped', async () => {
  const dir = freshDir()
  const warnings: string[] = []
  const log = await createInferenceLogger({ target: `file://${dir}`, warn: (m) => warnings.push(m) })
  for (let i = 0; i < 300; i++) log.log(() => record(i))
  await log.close()
  assert.deepEqual(ids(readLogDir(dir).records), range(300))
  log.log(() => record(300))
  log.log(() => record(301))
  assert.equal(log.dropped, 2)
  assert.deepEqual(warnings, ['malt serve: inference log: records logged after close() are dropped'])
  assert.equal(readLogDir(dir).records.length, 300)
})

test('files: rotation by size gives several files of whole lines, none past the limit', async () => {
  const dir = freshDir()
  const maxFileBytes = 4096
  const log = await createInferenceLogger({ target: dir, maxFileBytes })
  await logRange(log, 0, 400, 30)
  await log.close()
  const { files, records } = readLogDir(dir)
  assert.ok(files.length >= 10, `${files.length} files`)
  for (const file of files) assert.ok(statSync(`${dir}/${file}`).size <= maxFileBytes, `${file} is ${statSync(`${dir}/${file}`).size} bytes`)
  // Names sort in writing order, so reading them in name order gives the records in order.
  assert.deepEqual(ids(records), range(400))
})

test('sampling: a rate of 0.25 over 4000 requests logs about 1000, calling `record` only for those', async () => {
  // The sampler is a seeded PRNG (mulberry32 via SeededRandom): with the seed fixed the count is
  // the same on every run; the bounds (±3.6 standard deviations) hold for any seed anyway.
  const dir = freshDir()
  const log = await createInferenceLogger({ target: dir, sampleRate: 0.25, seed: 42 })
  let calls = 0
  for (let i = 0; i < 4000; i++) {
    log.log(() => {
      calls++
      return record(i)
    })
  }
  await log.close()
  const { records } = readLogDir(dir)
  assert.ok(records.length >= 900 && records.length <= 1100, `${records.length} records logged`)
  assert.equal(calls, records.length)
  const numbers = records.map((r) => Number(r.requestId.slice(4)))
  assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), 'in order')

  const none = await createInferenceLogger({ target: freshDir(), sampleRate: 0 })
  none.log(() => assert.fail('record must not be built at rate 0'))
  await none.close()
})

test('a full buffer drops new records, counts them and warns once', async () => {
  const warnings: string[] = []
  const line = JSON.stringify(record(0)).length
  const log = await createInferenceLogger({ target: freshDir(), maxBufferedBytes: 10 * line + 5, warn: (m) => warnings.push(m) })
  // All in one turn of the event loop: nothing is written in between.
  for (let i = 0; i < 100; i++) log.log(() => record(i))
  assert.equal(log.dropped, 90)
  assert.equal(warnings.length, 1)
  assert.match(warnings[0], /waiting for the inference log directory .* dropped/)
  await log.close()
})

test('records that cannot be built or serialised are dropped, never thrown; tensors become arrays', async () => {
  const dir = freshDir()
  const warnings: string[] = []
  const log = await createInferenceLogger({ target: dir, warn: (m) => warnings.push(m) })
  log.log(() => {
    throw new Error('boom')
  })
  const circular: Record<string, unknown> = {}
  circular.self = circular
  log.log(() => ({ ...record(0), request: circular }))
  log.log(() => ({ ...record(1), request: { f: new Float32Array([0.5, 2]), i: new BigInt64Array([3n, 2n ** 60n]), n: 7n } }))
  await log.close()
  assert.equal(log.dropped, 2)
  assert.equal(warnings.length, 1, 'one warning for the kind')
  assert.deepEqual(readLogDir(dir).records[0].request, { f: [0.5, 2], i: [3, '1152921504606846976'], n: 7 })
})

test('a bad target or option is a MaltError at creation that names it', async () => {
  await rejectsWith(createInferenceLogger({ target: 'kafka://broker:9092' }), 'INFERENCE_LOG_BAD_TARGET', ['kafka://broker:9092', 'unknown scheme'])
  await rejectsWith(createInferenceLogger({ target: '' }), 'INFERENCE_LOG_BAD_TARGET', ['""'])
  const notADir = temp.file('plain-file', 'x')
  await rejectsWith(createInferenceLogger({ target: `${notADir}/logs` }), 'INFERENCE_LOG_BAD_TARGET', [`${notADir}/logs`, 'cannot create the directory'])
  // A directory that takes no new files even for root (tests run as root, which ignores modes).
  await rejectsWith(createInferenceLogger({ target: '/proc/self' }), 'INFERENCE_LOG_BAD_TARGET', ['/proc/self', 'cannot create a file in'])
  mkdirSync(temp.join('ok'), { recursive: true })
  await rejectsWith(createInferenceLogger({ target: temp.join('ok'), maxFileBytes: 0 }), 'INFERENCE_LOG_BAD_OPTION', ['maxFileBytes', 'received 0'])
  await rejectsWith(createInferenceLogger({ target: temp.join('ok'), sampleRate: 1.5 }), 'INFERENCE_LOG_BAD_OPTION', ['sampleRate', 'from 0 to 1', 'received 1.5'])
  await rejectsWith(createInferenceLogger({ target: temp.join('ok'), sampleRate: NaN }), 'INFERENCE_LOG_BAD_OPTION', ['sampleRate', 'received NaN'])
  await rejectsWith(createInferenceLogger({ target: 'redis://127.0.0.1:6379/zero' }), 'INFERENCE_LOG_BAD_TARGET', ['database', '"zero"'])
  await rejectsWith(createInferenceLogger({ target: 'redis://127.0.0.1:6379?steam=x' }), 'INFERENCE_LOG_BAD_TARGET', ['unknown parameter "steam"'])
})

test('redis down: log() never throws nor waits, records are dropped and counted, one warning', async () => {
  const port = await closedPort()
  const warnings: string[] = []
  const log = await createInferenceLogger({ target: `redis://127.0.0.1:${port}?stream=x`, warn: (m) => warnings.push(m) })
  const started = performance.now()
  for (let i = 0; i < 500; i++) log.log(() => record(i))
  assert.ok(performance.now() - started < 200, 'log() returns at once')
  await logRange(log, 500, 1000)
  await log.flush()
  assert.equal(log.dropped, 1000)
  assert.equal(warnings.length, 1, warnings.join('\n'))
  assert.match(warnings[0], new RegExp(`Redis at 127\\.0\\.0\\.1:${port} is unreachable`))
  await log.close()
})

/** A port nothing listens on: one the OS just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('redis: records go to the stream complete and in order, one `record` field each, readable with XREAD', async (t) => {
  await requireRedis()
  const stream = randomKey('malt-test:inference')
  const reader = new Redis(TEST_REDIS_URL)
  t.after(async () => {
    await reader.del(stream)
    await reader.quit()
  })
  const log = await createInferenceLogger({ target: `${TEST_REDIS_URL}/0?stream=${encodeURIComponent(stream)}` })
  await logRange(log, 0, 2500)
  await log.close()
  assert.equal(log.dropped, 0)
  assert.equal(await reader.xlen(stream), 2500)
  const read = await reader.xread('COUNT', 5000, 'STREAMS', stream, '0')
  const entries = read?.[0][1] ?? []
  assert.equal(entries.length, 2500)
  assert.ok(entries.every(([, fields]) => fields.length === 2 && fields[0] === 'record'))
  const records = entries.map(([, fields]) => JSON.parse(fields[1]) as InferenceRecord)
  assert.deepEqual(ids(records), range(2500))
  assert.deepEqual(records[1234], record(1234))
})

test('redis: the stream is capped near maxStreamLength (approximate trimming)', async (t) => {
  await requireRedis()
  const stream = randomKey('malt-test:inference')
  const reader = new Redis(TEST_REDIS_URL)
  t.after(async () => {
    await reader.del(stream)
    await reader.quit()
  })
  const log = await createInferenceLogger({ target: TEST_REDIS_URL, stream, maxStreamLength: 200 })
  await logRange(log, 0, 3000)
  await log.close()
  const length = await reader.xlen(stream)
  // `MAXLEN ~` trims whole stream nodes (100 entries by default), so the length lands a little above the cap.
  assert.ok(length >= 200 && length < 600, `stream length ${length}`)
  const [last] = await reader.xrevrange(stream, '+', '-', 'COUNT', 1)
  assert.equal((JSON.parse(last[1][1]) as InferenceRecord).requestId, 'req-2999')
})
