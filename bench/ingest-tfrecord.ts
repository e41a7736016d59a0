// Benchmark: TFRecord (tf.train.Example) ingest into Float32Arrays, against pandas read_csv +
// float32 conversion of the same rows as CSV, measured in the same run (`npm run bench -- ingest`).
import { spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs'
import { once } from 'node:events'
import { join } from 'node:path'
import { readTfRecordTensors, tfrecord, writeTfRecord } from '../src/data/sources/tfrecord.js'
import type { Row } from '../src/data/types.js'
import { SeededRandom } from '../src/util/random.js'

const ROWS = Number(process.env.BENCH_TFRECORD_ROWS ?? 200_000)
const WIDTH = 50
const DATA_DIR = join(import.meta.dirname, '.data', 'tfrecord')
const SEED = 7

interface Result {
  name: string
  rows: number
  bytes: number
  seconds: number
}

/** One row's 50 feature values (4 decimals, as a CSV would hold them) and its label. */
function makeRow(random: SeededRandom): { values: number[]; label: number } {
  const values: number[] = []
  for (let j = 0; j < WIDTH; j++) values.push(Math.round((random.next() * 20 - 10) * 1e4) / 1e4)
  return { values, label: random.nextInt(10) }
}

function* rows(layout: 'list' | 'scalars'): Generator<Row> {
  const random = new SeededRandom(SEED)
  for (let i = 0; i < ROWS; i++) {
    const { values, label } = makeRow(random)
    if (layout === 'list') {
      yield { x: values, label }
    } else {
      const row: Row = {}
      for (let j = 0; j < WIDTH; j++) row[`f${j}`] = values[j]
      row.label = label
      yield row
    }
  }
}

async function writeCsv(path: string): Promise<void> {
  const out = createWriteStream(`${path}.tmp`)
  out.write(`${Array.from({ length: WIDTH }, (_, j) => `f${j}`).join(',')},label\n`)
  const random = new SeededRandom(SEED)
  for (let i = 0; i < ROWS; i++) {
    const { values, label } = makeRow(random)
    if (!out.write(`${values.join(',')},${label}\n`)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  renameSync(`${path}.tmp`, path)
}

/** Writes the three data files once; later runs reuse them from bench/.data/. */
async function prepare(): Promise<{ list: string; scalars: string; csv: string }> {
  mkdirSync(DATA_DIR, { recursive: true })
  const list = join(DATA_DIR, `list-${ROWS}.tfrecord`)
  const scalars = join(DATA_DIR, `scalars-${ROWS}.tfrecord`)
  const csv = join(DATA_DIR, `data-${ROWS}.csv`)
  // Scalar floats that happen to be integers must stay float features: say so with `types`.
  const types = Object.fromEntries(Array.from({ length: WIDTH }, (_, j) => [`f${j}`, 'float' as const]))
  if (!existsSync(list)) await writeTfRecord(list, rows('list'))
  if (!existsSync(scalars)) await writeTfRecord(scalars, rows('scalars'), { types })
  if (!existsSync(csv)) await writeCsv(csv)
  return { list, scalars, csv }
}

async function bestOf<T>(times: number, fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  let best = Infinity
  let value: T | undefined
  for (let i = 0; i < times; i++) {
    const start = performance.now()
    value = await fn()
    best = Math.min(best, (performance.now() - start) / 1000)
  }
  return { seconds: best, value: value as T }
}

/** Every how many values one is compared with the data written. */
const SAMPLE_STRIDE = 997

/** The values written (as float32), to check what each path read. */
const expected = (() => {
  let cached: { features: Float32Array; labels: Float32Array } | undefined
  return () => {
    if (cached) return cached
    const random = new SeededRandom(SEED)
    cached = { features: new Float32Array(ROWS * WIDTH), labels: new Float32Array(ROWS) }
    for (let i = 0; i < ROWS; i++) {
      const { values, label } = makeRow(random)
      cached.features.set(values, i * WIDTH)
      cached.labels[i] = label
    }
    return cached
  }
})()

/** Throws unless every SAMPLE_STRIDE-th value of `features` (and `labels`) is the one written. */
function check(name: string, features: Float32Array, labels?: Float32Array): void {
  const want = expected()
  for (let i = 0; i < want.features.length; i += SAMPLE_STRIDE) {
    if (features[i] !== want.features[i]) throw new Error(`${name}: value ${i} is ${features[i]}, expected ${want.features[i]}`)
  }
  for (let i = 0; labels && i < ROWS; i += SAMPLE_STRIDE) {
    if (labels[i] !== want.labels[i]) throw new Error(`${name}: label ${i} is ${labels[i]}, expected ${want.labels[i]}`)
  }
}

async function tensorsPath(name: string, file: string, features: string | string[]): Promise<Result> {
  const { seconds, value } = await bestOf(3, () => readTfRecordTensors(file, { features, label: 'label' }))
  if (value.rows !== ROWS || value.width !== WIDTH) throw new Error(`${name}: read ${value.rows}×${value.width}, expected ${ROWS}×${WIDTH}`)
  check(name, value.features, value.labels)
  return { name, rows: value.rows, bytes: statSync(file).size, seconds }
}

/** The general path: a row object per Example, copied into a Float32Array as a user would. */
async function datasetPath(name: string, file: string, names: string[] | undefined): Promise<Result> {
  const { seconds, value } = await bestOf(2, async () => {
    const features = new Float32Array(ROWS * WIDTH)
    let count = 0
    for await (const row of tfrecord(file)) {
      if (names) for (let j = 0; j < WIDTH; j++) features[count * WIDTH + j] = row[names[j]] as number
      else features.set(row.x as number[], count * WIDTH)
      count++
    }
    return { count, features }
  })
  if (value.count !== ROWS) throw new Error(`${name}: read ${value.count} rows, expected ${ROWS}`)
  check(name, value.features)
  return { name, rows: value.count, bytes: statSync(file).size, seconds }
}

const PANDAS_SCRIPT = `
import json, sys, time
import numpy as np, pandas as pd
best = float('inf')
for _ in range(3):
    t = time.perf_counter()
    df = pd.read_csv(sys.argv[1])
    x = df.drop(columns=['label']).to_numpy(dtype=np.float32)
    y = df['label'].to_numpy(dtype=np.float32)
    best = min(best, time.perf_counter() - t)
print(json.dumps({'seconds': best, 'rows': int(x.shape[0]), 'width': int(x.shape[1])}))
`

/** pandas read_csv + float32, best of 3, timed inside Python (interpreter start excluded). */
function pandasBaseline(csv: string): Result | string {
  for (const python of [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)) {
    const run = spawnSync(python, ['-c', PANDAS_SCRIPT, csv], { encoding: 'utf8' })
    if (run.status !== 0) continue
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { seconds: number; rows: number }
    return { name: 'pandas read_csv + float32 (CSV)', rows: out.rows, bytes: statSync(csv).size, seconds: out.seconds }
  }
  return 'no python3 with pandas found (set PYTHON=/path/to/python3)'
}

function table(results: Result[], baseline: Result | undefined): string {
  const header = ['path', 'MB', 'seconds', 'rows/s', 'MB/s', 'rows/s vs pandas']
  const lines = results.map((r) => [
    r.name,
    (r.bytes / 1e6).toFixed(1),
    r.seconds.toFixed(3),
    Math.round(r.rows / r.seconds).toLocaleString('en-US'),
    (r.bytes / 1e6 / r.seconds).toFixed(1),
    baseline ? `${(r.rows / r.seconds / (baseline.rows / baseline.seconds)).toFixed(2)}x` : 'n/a',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const format = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(format)].join('\n')
}

/** Runs the TFRecord ingest benchmark and prints its table. */
export async function run(): Promise<void> {
  console.log(`ingest-tfrecord: ${ROWS.toLocaleString('en-US')} tf.train.Examples, ${WIDTH} float features + int64 label`)
  const files = await prepare()
  const names = Array.from({ length: WIDTH }, (_, j) => `f${j}`)
  const baseline = pandasBaseline(files.csv)
  const results: Result[] = []
  if (typeof baseline !== 'string') results.push(baseline)
  results.push(await tensorsPath('readTfRecordTensors, 1 list feature', files.list, 'x'))
  results.push(await tensorsPath('readTfRecordTensors, 50 scalar features', files.scalars, names))
  results.push(await datasetPath('tfrecord() rows, 1 list feature', files.list, undefined))
  results.push(await datasetPath('tfrecord() rows, 50 scalar features', files.scalars, names))
  console.log(table(results, typeof baseline === 'string' ? undefined : baseline))
  console.log(`readTfRecordTensors and pandas: best of 3; tfrecord() rows (one object per Example, copied into a Float32Array): best of 2. CRCs verified; every ${SAMPLE_STRIDE}th value checked against the data written.`)
  if (typeof baseline === 'string') console.log(`baseline missing: ${baseline}`)
}
