// CSV ingest benchmark: a numeric CSV (200,000 × 51, ~110 MB) into a float32 feature matrix and
// label vector, Malt's readCsvTensors against pandas read_csv + to_numpy(float32), same file, same run.
import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SeededRandom } from '../src/util/random.js'
import { resolvePath } from '../src/storage/index.js'
import { csv } from '../src/data/sources/csv.js'
import { readCsvTensors } from '../src/data/sources/csv-fast.js'

const ROWS = 200_000
const FEATURES = 50
const RUNS = 3
/** Every how many flattened feature values one is compared with pandas. */
const SAMPLE_STRIDE = 997
const thisFile = fileURLToPath(import.meta.url)
const dataFile = join(dirname(thisFile), '.data', `numeric-${ROWS}x${FEATURES + 1}-v2.csv`)
const MB = 1e6

/** One value in the style of column `column`: decimals, exponents, negatives, integers. */
function formatValue(random: SeededRandom, column: number): string {
  const u = random.next() * 2 - 1
  switch (column % 5) {
    case 0:
      return (u * 100).toFixed(6) // -31.415927
    case 1:
      return (u * 1000).toFixed(6) // 523.123456
    case 2:
      return `${(u * 100).toFixed(1 + random.nextInt(5))}e-${1 + random.nextInt(5)}` // -12.5e-3
    case 3:
      return (Math.abs(u) * 10000).toFixed(6) // 4213.123456
    default:
      return String(Math.round(u * 1e9)) // -482113202
  }
}

/** Writes the benchmark file once (deterministic for the seed); later runs reuse it. */
async function ensureData(): Promise<void> {
  if (existsSync(dataFile)) return
  console.log(`generating ${dataFile} (once) ...`)
  const { storage, path } = resolvePath(dataFile)
  const writer = await storage.createWriter(path)
  const random = new SeededRandom(20_240_601)
  const header = [...Array.from({ length: FEATURES }, (_v, i) => `f${i}`), 'label'].join(',')
  let block: string[] = [header]
  for (let row = 0; row < ROWS; row++) {
    const fields = Array.from({ length: FEATURES }, (_v, column) => formatValue(random, column))
    fields.push(String(random.nextInt(10)))
    block.push(fields.join(','))
    if (block.length === 2000) {
      await writer.write(`${block.join('\n')}\n`)
      block = []
    }
  }
  if (block.length > 0) await writer.write(`${block.join('\n')}\n`)
  await writer.commit()
}

interface Timed {
  best: number
  runs: number[]
}

async function bestOf<T>(runs: number, fn: () => Promise<T>): Promise<Timed & { result: T }> {
  const times: number[] = []
  let result: T | undefined
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint()
    result = await fn()
    times.push(Number(process.hrtime.bigint() - started) / 1e9)
  }
  return { best: Math.min(...times), runs: times, result: result as T }
}

interface RssReport {
  before: number
  peak: number
  rows: number
}

/** Reads the file once in a fresh process and reports its peak RSS over its RSS before the read. */
function measureRss(): RssReport | string {
  const child = spawnSync(process.execPath, ['--import', 'tsx', thisFile, '--rss-child', dataFile], { encoding: 'utf8' })
  if (child.status !== 0) return `child failed: ${child.stderr.trim().split('\n').slice(-3).join(' ')}`
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as RssReport
}

const PANDAS_SCRIPT = `
import json, resource, sys, time
import numpy as np, pandas as pd
path, runs, stride = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(runs):
    t = time.perf_counter()
    df = pd.read_csv(path)
    x = df.iloc[:, :-1].to_numpy(dtype='float32')
    y = df.iloc[:, -1].to_numpy(dtype='float32')
    times.append(time.perf_counter() - t)
    del df
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({'times': times, 'rows': x.shape[0], 'cols': x.shape[1], 'pandas': pd.__version__,
  'xsum': float(x.sum(dtype=np.float64)), 'ysum': float(y.sum(dtype=np.float64)),
  'samples': [float(v) for v in x.ravel()[::stride]], 'peakDelta': (peak - before) * 1024}))
`

interface PandasReport {
  times: number[]
  rows: number
  cols: number
  pandas: string
  xsum: number
  ysum: number
  samples: number[]
  peakDelta: number
}

/** Runs the pandas baseline with the first interpreter that has pandas, or says why not. */
function runPandas(): { report: PandasReport; python: string } | string {
  const candidates = [process.env.MALT_BENCH_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter((c): c is string => Boolean(c))
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import pandas'], { encoding: 'utf8' })
    if (probe.status !== 0) continue
    const child = spawnSync(python, ['-c', PANDAS_SCRIPT, dataFile, String(RUNS), String(SAMPLE_STRIDE)], { encoding: 'utf8', maxBuffer: 64 << 20 })
    if (child.status !== 0) return `pandas run failed with ${python}: ${child.stderr.trim().split('\n').slice(-2).join(' ')}`
    return { report: JSON.parse(child.stdout) as PandasReport, python }
  }
  return `no python with pandas found (tried ${candidates.join(', ')}); install Debian's python3-pandas`
}

function sumFloat64(values: Float32Array): number {
  let sum = 0
  for (let i = 0; i < values.length; i++) sum += values[i]
  return sum
}

const fmt = (value: number, digits = 1): string => value.toFixed(digits)
const mb = (bytes: number): string => `${fmt(bytes / MB, 0)} MB`

/** The benchmark entry point (see bench/run.ts). */
export async function run(): Promise<void> {
  await ensureData()
  const bytes = statSync(dataFile).size
  const options = { label: 'label' }
  console.log(`file: ${dataFile}\n      ${ROWS.toLocaleString('en')} rows × ${FEATURES + 1} columns, ${fmt(bytes / MB)} MB; best of ${RUNS} after a warm-up`)

  await readCsvTensors(dataFile, options) // warm-up: JIT and page cache
  const malt = await bestOf(RUNS, () => readCsvTensors(dataFile, options))
  const data = malt.result
  const rss = measureRss()

  const stats = { rows: 0 }
  const general = await bestOf(1, async () => {
    for await (const _row of csv(dataFile)) stats.rows++
  })

  const pandas = runPandas()
  const maltMBs = bytes / MB / malt.best
  const rows: string[][] = [
    ['reader', 'best (s)', 'runs (s)', 'MB/s', 'rows/s', 'peak RSS Δ'],
    ['malt readCsvTensors', fmt(malt.best, 3), malt.runs.map((t) => fmt(t, 3)).join(' '), fmt(maltMBs), fmt(data.rows / malt.best, 0),
      typeof rss === 'string' ? rss : mb(rss.peak - rss.before)],
  ]
  if (typeof pandas !== 'string') {
    const best = Math.min(...pandas.report.times)
    rows.push([`pandas ${pandas.report.pandas} read_csv+to_numpy`, fmt(best, 3), pandas.report.times.map((t) => fmt(t, 3)).join(' '), fmt(bytes / MB / best),
      fmt(pandas.report.rows / best, 0), mb(pandas.report.peakDelta)])
  }
  rows.push(['malt csv() Dataset rows (1 run)', fmt(general.best, 3), fmt(general.best, 3), fmt(bytes / MB / general.best), fmt(stats.rows / general.best, 0), '-'])
  const widths = rows[0].map((_c, i) => Math.max(...rows.map((r) => r[i].length)))
  for (const r of rows) console.log(`  ${r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')}`)
  console.log(`  output: ${data.rows} rows × ${data.featureColumns.length} features (${mb(data.features.byteLength)} float32) + labels`)

  if (typeof pandas === 'string') {
    console.log(`\nbaseline missing: ${pandas}\nmalt readCsvTensors: ${fmt(maltMBs)} MB/s (no ratio without the baseline)`)
    return
  }
  const { report } = pandas
  const pandasMBs = bytes / MB / Math.min(...report.times)
  const xsum = sumFloat64(data.features)
  const ysum = sumFloat64(data.labels!)
  let mismatches = 0
  let maxRelative = 0
  report.samples.forEach((expected, i) => {
    const actual = data.features[i * SAMPLE_STRIDE]
    if (actual !== expected) mismatches++
    maxRelative = Math.max(maxRelative, Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-30))
  })
  const sumOk = Math.abs(xsum - report.xsum) <= 1e-9 * Math.abs(report.xsum) + 1e-6 && ysum === report.ysum
  const shapeOk = report.rows === data.rows && report.cols === data.featureColumns.length
  console.log(`\n  check vs pandas (${pandas.python}): shape ${shapeOk ? 'same' : `DIFFERS (${report.rows}×${report.cols})`}; ` +
    `sum(features) ${xsum} vs ${report.xsum}; sum(labels) ${ysum} vs ${report.ysum}: ${sumOk ? 'match' : 'DIFFER'}`)
  console.log(`  ${report.samples.length} sampled values: ${mismatches} differ (max relative difference ${maxRelative.toExponential(1)})`)
  console.log(`\n  ratio malt/pandas: ${fmt(maltMBs / pandasMBs, 2)}x  (${fmt(maltMBs)} MB/s vs ${fmt(pandasMBs)} MB/s)`)
  if (!shapeOk || !sumOk) process.exitCode = 1
}

/** The child of measureRss: one read, then its memory figures as JSON on stdout. */
async function rssChild(file: string): Promise<void> {
  const before = process.memoryUsage().rss
  const data = await readCsvTensors(file, { label: 'label' })
  const peak = process.resourceUsage().maxRSS * 1024
  console.log(JSON.stringify({ before, peak, rows: data.rows }))
}

if (process.argv[1] === thisFile && process.argv[2] === '--rss-child') await rssChild(process.argv[3])
