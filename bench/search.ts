// Search-quality benchmark: best value after 50 trials on Branin and Hartmann-6 (median, quartiles over 10
// seeds) for random, DE and TPE run in-process (no executors), with Optuna's TPESampler as the anchor.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DifferentialEvolution, RandomSearch, TPE } from '../src/experiments/algorithms/index.js'
import { runInMemory } from '../src/experiments/algorithms/in-memory.js'
import type { SearchAlgorithm } from '../src/experiments/types.js'
import { toolsPython } from '../test/helpers/python-tools.js'
import { TEST_FUNCTIONS, type TestFunction } from './lib/test-functions.js'

const TRIALS = 50
/** `MALT_BENCH_SEEDS=50` for a tighter comparison than the default 10. */
const SEEDS = Array.from({ length: Number(process.env.MALT_BENCH_SEEDS ?? 10) }, (_, i) => i)
const optunaScript = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'optuna_search.py')

/** The Malt algorithms measured, each set up to use 50 trials. */
const ALGORITHMS: Record<string, () => SearchAlgorithm> = {
  random: () => new RandomSearch({ trials: TRIALS }),
  // Generation 0 plus `generations` generations of `population`: 50 trials (fewer when DE reuses a result).
  'evolutionary (pop 10, gen 4)': () => new DifferentialEvolution({ population: 10, generations: 4 }),
  'evolutionary (pop 5, gen 9)': () => new DifferentialEvolution({ population: 5, generations: 9 }),
  tpe: () => new TPE({ trials: TRIALS }),
  'tpe (univariate)': () => new TPE({ trials: TRIALS, multivariate: false }),
}

interface Row {
  best: number[]
  seconds: number
  /** Trials run per seed (DE runs fewer when it reuses an evaluated combination). */
  trials?: number[]
}

interface OptunaReport {
  optuna: string
  results: Record<string, Row>
}

/** Linear-interpolation percentile (numpy's default). */
function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const position = ((sorted.length - 1) * q) / 100
  const low = Math.floor(position)
  const high = Math.min(low + 1, sorted.length - 1)
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low)
}

function measure(make: () => SearchAlgorithm, fn: TestFunction): Row {
  const start = performance.now()
  const counts: number[] = []
  const best = SEEDS.map((seed) => {
    const trials = runInMemory(make(), fn.space, (params) => fn.evaluate(params), { seed, direction: 'min' })
    if (trials.length > TRIALS) throw new Error(`expected at most ${TRIALS} trials, got ${trials.length}`)
    counts.push(trials.length)
    return Math.min(...trials.map((t) => t.value as number))
  })
  return { best, seconds: (performance.now() - start) / 1000, trials: counts }
}

/** Optuna's TPE (default settings, or multivariate off) via the tools venv or a python3 that has optuna. */
function runOptuna(univariate: boolean): OptunaReport | string {
  const candidates = [toolsPython('optuna'), process.env.MALT_BENCH_PYTHON, 'python3'].filter((p): p is string => Boolean(p))
  for (const python of candidates) {
    if (spawnSync(python, ['-c', 'import optuna'], { stdio: 'ignore' }).status !== 0) continue
    const args = [optunaScript, String(TRIALS), SEEDS.join(','), ...(univariate ? ['univariate'] : [])]
    const child = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 16 << 20 })
    if (child.status !== 0) return `Optuna run failed with ${python}: ${child.stderr.trim().split('\n').slice(-2).join(' ')}`
    return JSON.parse(child.stdout) as OptunaReport
  }
  return `no python with optuna found (tried ${candidates.join(', ')}); create .tools/venv (see test/helpers/python-tools.ts) or apt-get install python3-optuna`
}

/**
 * Mann-Whitney U as a z score (normal approximation, ties share ranks): below −2 the first
 * sample is significantly smaller (better, when minimising), above 2 significantly larger.
 */
function mannWhitneyZ(a: readonly number[], b: readonly number[]): number {
  const all = [...a.map((v) => ({ v, first: true })), ...b.map((v) => ({ v, first: false }))].sort((x, y) => x.v - y.v)
  let rankSum = 0
  for (let i = 0; i < all.length; ) {
    let j = i
    while (j < all.length && all[j].v === all[i].v) j++
    const rank = (i + 1 + j) / 2
    for (let k = i; k < j; k++) if (all[k].first) rankSum += rank
    i = j
  }
  const [n, m] = [a.length, b.length]
  const u = rankSum - (n * (n + 1)) / 2
  return (u - (n * m) / 2) / Math.sqrt((n * m * (n + m + 1)) / 12)
}

function cell(value: number, width: number): string {
  return (Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(4)).padStart(width)
}

export async function run(): Promise<void> {
  console.log(`search quality: best value after ${TRIALS} trials, minimising, seeds ${SEEDS[0]}..${SEEDS[SEEDS.length - 1]} (${SEEDS.length})`)
  const optuna = runOptuna(false)
  const optunaUni = runOptuna(true)
  if (SEEDS.length < 50) console.log(`(${SEEDS.length} seeds separate random from TPE, not two TPEs: MALT_BENCH_SEEDS=200 for a tighter Malt-vs-Optuna comparison)`)
  if (typeof optuna === 'string') console.log(`Optuna anchor: ${optuna}`)
  else console.log(`Optuna ${optuna.optuna} TPESampler(seed=s) (default settings) as the anchor`)

  for (const fn of TEST_FUNCTIONS) {
    const rows: [string, Row][] = Object.entries(ALGORITHMS).map(([name, make]) => [`malt ${name}`, measure(make, fn)])
    if (typeof optuna !== 'string') rows.push(['optuna tpe (default)', optuna.results[fn.name]])
    if (typeof optunaUni !== 'string') rows.push(['optuna tpe (multivariate=False)', optunaUni.results[fn.name]])
    console.log(`\n${fn.name} (global minimum ${fn.minimum})`)
    console.log(`${'algorithm'.padEnd(32)}${'median'.padStart(10)}${'Q1'.padStart(10)}${'Q3'.padStart(10)}${'gap'.padStart(10)}${'ms/trial'.padStart(10)}`)
    for (const [name, row] of rows) {
      const median = percentile(row.best, 50)
      const ran = row.trials ?? SEEDS.map(() => TRIALS)
      const msPerTrial = (row.seconds * 1000) / ran.reduce((a, b) => a + b, 0)
      const fewer = ran.some((n) => n < TRIALS) ? `  (trials run: ${Math.min(...ran)}..${Math.max(...ran)}, the rest reused)` : ''
      console.log(
        `${name.padEnd(32)}${cell(median, 10)}${cell(percentile(row.best, 25), 10)}${cell(percentile(row.best, 75), 10)}${cell(median - fn.minimum, 10)}${msPerTrial.toFixed(2).padStart(10)}${fewer}`,
      )
    }
    const find = (name: string) => rows.find(([n]) => n === name)?.[1]
    for (const [malt, anchor] of [['malt tpe', 'optuna tpe (default)'], ['malt tpe (univariate)', 'optuna tpe (multivariate=False)']]) {
      const [ours, theirs] = [find(malt), find(anchor)]
      if (ours === undefined || theirs === undefined) continue
      const [gapOurs, gapTheirs] = [percentile(ours.best, 50) - fn.minimum, percentile(theirs.best, 50) - fn.minimum]
      const z = mannWhitneyZ(ours.best, theirs.best)
      const verdict = z < -2 ? 'Malt significantly better' : z > 2 ? 'Malt significantly worse' : 'no significant difference'
      console.log(
        `  ${malt} vs ${anchor}: median gap to the minimum ${gapOurs.toFixed(4)} vs ${gapTheirs.toFixed(4)} ` +
          `(ratio ${(gapOurs / gapTheirs).toFixed(2)}, Malt − Optuna ${(gapOurs - gapTheirs).toFixed(4)}); Mann-Whitney z ${z.toFixed(2)}: ${verdict}`,
      )
    }
  }
}
