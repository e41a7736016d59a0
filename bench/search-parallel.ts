// Parallel-efficiency benchmark of experiment searches: 8 identical CPU-bound trials of ~5 s as a
// grid search on 1 executor (the baseline) and on 2, then 40 empty trials on 2 executors (Malt's
// per-trial cost: scheduling plus persistence), and the persistence writes timed on their own.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { experiment } from '../src/index.js'
import type { ExperimentResult, TrialRecord } from '../src/experiments/index.js'
import { ExperimentIndex } from '../src/experiments/store/index-db.js'
import { RunStore } from '../src/experiments/store/run-store.js'
import { ITERATIONS_PER_BLOCK, busyWork, cpuTrial, emptyTrial, epochMs } from './lib/search-trials.js'

const CPU_TRIALS = 8
const EMPTY_TRIALS = 40
/** Target compute time of one CPU-bound trial; `MALT_BENCH_TRIAL_MS=1000` for a quick run. */
const TRIAL_MS = Number(process.env.MALT_BENCH_TRIAL_MS ?? 5000)
/** Rounds of the 1- and 2-executor searches (interleaved); the verdicts use each one's median round. */
const ROUNDS = Number(process.env.MALT_BENCH_ROUNDS ?? 3)
const TARGET_SPEEDUP = 1.8
const TARGET_OVERHEAD = 0.03

/** One search, timed from the driver's side and from inside its trials. */
interface Measured {
  executors: number
  trials: number
  wallMs: number
  /** Σ in-function compute time. */
  computeMs: number
  /** Σ CPU time the trial processes got while computing. */
  cpuMs: number
  /** (wall × executors − Σ compute) / trials. */
  overheadMs: number
  /** Call of gridSearch → the first trial's function starts (run set-up, executor start-up, first dispatch). */
  firstStartMs: number
  /** Of which: call → the executor processes start (driver set-up), mean over executors. */
  driverSetupMs: number
  /** Of which: an executor process starts → its first trial's function starts (Node, loader, trial runner, module), mean. */
  executorStartMs: number
  /** Per executor: mean gap between one trial's function ending and the next one's starting there. */
  meanGapMs: number
  /** The last trial's function ends → gridSearch resolves (result back, persistence drained, pool closed). */
  tailMs: number
  /**
   * The overhead split per trial (each part summed over executors, divided by trials): start-up, gaps
   * between trials, waiting for another executor's last trial (uneven finish), and wind-down.
   */
  split: { startMs: number; gapsMs: number; unevenMs: number; windDownMs: number }
  /** Share of the machine's CPU time stolen by the hypervisor during the search (a VM's neighbours). */
  steal: number
  /** Driver-side: median durationMs of a trial, and its median excess over the in-function compute time. */
  durationMs: number
  durationExcessMs: number
}

function metric(trial: TrialRecord, name: string): number {
  const value = trial.metrics[name]
  if (typeof value !== 'number') throw new Error(`trial ${trial.name} (${trial.state}) returned no ${name}: ${JSON.stringify(trial.failures)}`)
  return value
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)
const mean = (values: number[]): number => (values.length ? sum(values) / values.length : Number.NaN)

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

function analyse(result: ExperimentResult, executors: number, callStart: number, callEnd: number, steal: number): Measured {
  const trials = result.trials
  if (trials.some((trial) => trial.state !== 'finished')) throw new Error(`not every trial finished: ${trials.map((t) => `${t.name} ${t.state}`).join(', ')}`)
  const computeMs = sum(trials.map((t) => metric(t, 'computeMs')))
  const wallMs = callEnd - callStart
  const byExecutor = new Map<string, TrialRecord[]>()
  for (const trial of trials) byExecutor.set(trial.executor ?? '?', [...(byExecutor.get(trial.executor ?? '?') ?? []), trial])
  let [startMs, gapsMs, tailMs, gapCount] = [0, 0, 0, 0]
  const [driverSetup, executorStart]: number[][] = [[], []]
  for (const list of byExecutor.values()) {
    list.sort((a, b) => metric(a, 'startedAtMs') - metric(b, 'startedAtMs'))
    driverSetup.push(metric(list[0], 'processStartMs') - callStart)
    executorStart.push(metric(list[0], 'startedAtMs') - metric(list[0], 'processStartMs'))
    startMs += metric(list[0], 'startedAtMs') - callStart
    tailMs += callEnd - metric(list[list.length - 1], 'endedAtMs')
    for (let k = 1; k < list.length; k++) gapsMs += metric(list[k], 'startedAtMs') - metric(list[k - 1], 'endedAtMs')
    gapCount += list.length - 1
  }
  // An executor that ran nothing still counts for the whole wall time.
  const unused = executors - byExecutor.size
  const lastEndToResult = callEnd - Math.max(...trials.map((t) => metric(t, 'endedAtMs')))
  const n = trials.length
  return {
    executors,
    trials: n,
    steal,
    wallMs,
    computeMs,
    cpuMs: sum(trials.map((t) => optionalMetric(t, 'cpuMs'))),
    overheadMs: (wallMs * executors - computeMs) / n,
    firstStartMs: Math.min(...trials.map((t) => metric(t, 'startedAtMs'))) - callStart,
    driverSetupMs: mean(driverSetup),
    executorStartMs: mean(executorStart),
    meanGapMs: gapCount ? gapsMs / gapCount : Number.NaN,
    tailMs: lastEndToResult,
    split: {
      startMs: startMs / n,
      gapsMs: gapsMs / n,
      unevenMs: (tailMs - byExecutor.size * lastEndToResult + unused * wallMs) / n,
      windDownMs: (byExecutor.size * lastEndToResult) / n,
    },
    // Medians: an executor's first trial also waits for its process to start.
    durationMs: median(trials.map((t) => t.durationMs ?? Number.NaN)),
    durationExcessMs: median(trials.map((t) => (t.durationMs ?? Number.NaN) - metric(t, 'computeMs'))),
  }
}

/** A metric that only some trial functions return (0 when absent). */
function optionalMetric(trial: TrialRecord, name: string): number {
  return trial.metrics[name] ?? 0
}

async function measure(fn: typeof cpuTrial, space: Record<string, number[]>, executors: number, home: string): Promise<{ measured: Measured; trials: TrialRecord[] }> {
  const [callStart, before] = [epochMs(), cpuTimes()]
  const result = await experiment.gridSearch(fn, space, { executors, home, progress: false, speculative: false, metric: 'computeMs', direction: 'min' })
  const [callEnd, after] = [epochMs(), cpuTimes()]
  const steal = after.total > before.total ? (after.steal - before.steal) / (after.total - before.total) : 0
  return { measured: analyse(result, executors, callStart, callEnd, steal), trials: result.trials }
}

/** Blocks of busy work that take `TRIAL_MS` on one core here, measured once after a warm-up (the JIT's). */
function calibrate(): { blocks: number; msPerBlock: number } {
  busyWork(50)
  let blocks = 20
  for (;;) {
    const start = performance.now()
    busyWork(blocks)
    const elapsed = performance.now() - start
    if (elapsed >= 1000) return { blocks: Math.max(1, Math.round((TRIAL_MS * blocks) / elapsed)), msPerBlock: elapsed / blocks }
    blocks *= 2
  }
}

/** CPU time the hypervisor gave other machines (`steal` of /proc/stat), in jiffies, with the total; zeros off Linux. */
function cpuTimes(): { steal: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number)
    return { steal: fields[7] ?? 0, total: sum(fields) }
  } catch {
    return { steal: 0, total: 0 }
  }
}

/** The run's persistence as the driver does it per trial, timed write by write (ms per trial, mean). */
async function measurePersistence(home: string, trials: TrialRecord[]): Promise<Record<string, number>> {
  const times = { setUp: 0, params: 0, result: 0, indexTrial: 0, experiment: 0, indexSync: 0, lastExperiment: 0, lastIndexSync: 0 }
  let start = performance.now()
  const store = await RunStore.create({ home, name: 'persistence', kind: 'grid' })
  await store.captureEnvironment()
  const index = await ExperimentIndex.open(store.home)
  const record = {
    id: 0, appId: store.appId, runId: store.runId, name: 'persistence', kind: 'grid' as const, state: 'running' as const,
    metric: 'computeMs', direction: 'min' as const, space: {}, options: {}, function: { module: 'file:///bench', export: 'emptyTrial' },
    versionedResources: [], startedAt: new Date().toISOString(), trials: [] as TrialRecord[],
  }
  record.id = index.syncExperiment({ ...record, runDir: store.dir, plannedTrials: trials.length })
  await store.writeExperiment(record)
  times.setUp = performance.now() - start
  const lap = (key: keyof typeof times): void => {
    const now = performance.now()
    times[key] += now - start
    start = now
  }
  try {
    for (const trial of trials) {
      start = performance.now()
      await store.writeTrialParams(trial)
      lap('params')
      record.trials.push(trial)
      await store.writeTrialResult(trial)
      lap('result')
      index.upsertTrial(record.id, trial)
      lap('indexTrial')
      await store.writeExperiment(structuredClone(record))
      lap('experiment')
      index.syncExperiment({ ...record, runDir: store.dir, plannedTrials: trials.length })
      lap('indexSync')
    }
    start = performance.now()
    await store.writeExperiment(structuredClone(record))
    lap('lastExperiment')
    index.syncExperiment({ ...record, runDir: store.dir, plannedTrials: trials.length })
    lap('lastIndexSync')
  } finally {
    index.close()
  }
  const perTrial = (key: keyof typeof times): number => times[key] / trials.length
  return {
    setUp: times.setUp,
    params: perTrial('params'),
    result: perTrial('result'),
    indexTrial: perTrial('indexTrial'),
    experiment: perTrial('experiment'),
    indexSync: perTrial('indexSync'),
    lastExperiment: times.lastExperiment,
    lastIndexSync: times.lastIndexSync,
  }
}

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ')
}

const ms = (value: number): string => value.toFixed(1)
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met')

function overheadParts(run: Measured): string {
  const { startMs, gapsMs, unevenMs, windDownMs } = run.split
  return `start-up ${ms(startMs)} + between trials ${ms(gapsMs)} + uneven finish ${ms(unevenMs)} + wind-down ${ms(windDownMs)}`
}

/** The run with the median overhead (of an odd count; the lower middle of an even one). */
function medianRun(runs: Measured[]): Measured {
  const sorted = [...runs].sort((a, b) => a.overheadMs / a.computeMs - b.overheadMs / b.computeMs)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

function printCpuRuns(rounds: Measured[][], blocks: number, msPerBlock: number): void {
  const base = medianRun(rounds.map((round) => round[0]))
  const two = medianRun(rounds.map((round) => round[1]))
  const runs = [base, two]
  const widths = [14, 8, 8, 8, 9, 7, 8, 7, 12]
  console.log(`\n${CPU_TRIALS} CPU-bound trials: ${blocks} blocks × ${ITERATIONS_PER_BLOCK / 1e6}M iterations each (calibrated here: ${msPerBlock.toFixed(2)} ms/block)`)
  console.log(`${rounds.length} rounds, 1 and 2 executors interleaved; speedups against the same round's baseline; * = the median round`)
  console.log(row(['executors', 'wall s', 'speedup', 'trial s', 'cpu/wall', 'steal', 'ovh ms', 'ovh %', 'first start'], widths))
  for (const [index, run] of rounds.flat().entries()) {
    const trialMs = run.computeMs / run.trials
    const roundBase = rounds[Math.floor(index / 2)][0]
    const cells = [
      `${run.executors === 1 ? '1 (baseline)' : String(run.executors)}${runs.includes(run) ? ' *' : ''}`,
      (run.wallMs / 1000).toFixed(2),
      `${(roundBase.wallMs / run.wallMs).toFixed(2)}×`,
      (trialMs / 1000).toFixed(2),
      (run.cpuMs / run.computeMs).toFixed(3),
      `${(100 * run.steal).toFixed(1)}%`,
      ms(run.overheadMs),
      `${((100 * run.overheadMs) / trialMs).toFixed(2)}%`,
      ms(run.firstStartMs),
    ]
    console.log(row(cells, widths))
  }
  console.log(
    '  trial s: mean in-function compute; cpu/wall: CPU time the trials got over their in-function time; steal: CPU time the VM lost to its host;\n' +
      '  ovh: (wall × executors − Σ in-function compute) / trials; first start: ms from the call to the first trial\'s function starting',
  )
  for (const run of runs) {
    console.log(
      `  ${run.executors} executor${run.executors > 1 ? 's' : ''}: ovh = ${overheadParts(run)} ms per trial; ` +
        `start-up = driver set-up ${ms(run.driverSetupMs)} + executor process ${ms(run.executorStartMs)} ms; gap between trials on an executor ${ms(run.meanGapMs)} ms; ` +
        `driver-side durationMs median ${ms(run.durationMs)} (${ms(run.durationExcessMs)} over in-function)`,
    )
  }
  // The median of the rounds' speedups: each round's 2-executor search against its own baseline.
  const speedups = rounds.map(([one, pair]) => one.wallMs / pair.wallMs).sort((a, b) => a - b)
  const speedup = speedups[Math.floor((speedups.length - 1) / 2)]
  const overhead = two.overheadMs / (two.computeMs / two.trials)
  console.log(
    `  median round: speedup 2 vs 1 executor ${speedup.toFixed(2)}× (target ≥ ${TARGET_SPEEDUP}×: ${verdict(speedup >= TARGET_SPEEDUP)}); ` +
      `overhead on 2 executors ${(100 * overhead).toFixed(2)}% of a trial (target ≤ ${100 * TARGET_OVERHEAD}%: ${verdict(overhead <= TARGET_OVERHEAD)})`,
  )
  // A trial sharing its core with other processes runs longer in-function; dividing each wall time by the
  // in-function time leaves the speedup Malt's scheduling allows (the raw one, on an idle machine).
  const normalised = base.wallMs / base.computeMs / (two.wallMs / two.computeMs)
  console.log(`  speedup with each wall time divided by its Σ in-function compute: ${normalised.toFixed(2)}×`)
  const shared = rounds.flat().filter((run) => run.cpuMs / run.computeMs < 0.97 || run.steal > 0.03)
  if (shared.length > 0) console.log('  the trials did not have their cores to themselves (cpu/wall < 0.97 or steal > 3%): rerun on an idle machine')
}

function printEmptyRun(run: Measured, persistence: Record<string, number>): void {
  const perTrial = (run.wallMs * run.executors) / run.trials
  console.log(`\n${run.trials} empty trials on ${run.executors} executors: wall ${ms(run.wallMs)} ms, ${(run.trials / (run.wallMs / 1000)).toFixed(1)} trials/s`)
  console.log(`  per-trial overhead (wall × executors / trials) ${ms(perTrial)} ms = ${overheadParts(run)}`)
  console.log(`  steady state: gap between trials on an executor ${ms(run.meanGapMs)} ms (the per-trial cost of scheduling); driver-side durationMs median ${ms(run.durationMs)} ms`)
  console.log(
    `  first trial starts ${ms(run.firstStartMs)} ms after the call (driver set-up ${ms(run.driverSetupMs)} + executor process ${ms(run.executorStartMs)} ms); ` +
      `${ms(run.tailMs)} ms from the last trial's end to the result`,
  )
  const write = persistence.params + persistence.result + persistence.indexTrial + persistence.experiment + persistence.indexSync
  console.log(`  persistence alone, timed write by write as the driver does it per trial (fsync'd JSON, SQLite WAL): ${ms(write)} ms =`)
  console.log(
    `    params.json ${ms(persistence.params)} + result.json ${ms(persistence.result)} + index trial row ${ms(persistence.indexTrial)} + ` +
      `experiment.json (all trials so far) ${ms(persistence.experiment)} + index sync (all trials so far) ${ms(persistence.indexSync)}`,
  )
  console.log(`    with all ${run.trials} trials: experiment.json ${ms(persistence.lastExperiment)} ms, index sync ${ms(persistence.lastIndexSync)} ms; run set-up (dir, environment, index) ${ms(persistence.setUp)} ms`)
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ')

export async function run(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'malt-bench-search-'))
  const previousHome = process.env.MALT_HOME
  process.env.MALT_HOME = home
  try {
    console.log(`${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${load()}; MALT_HOME ${home}`)
    // The process's first search also starts the inspector (to find the function's module) and JIT-compiles
    // the driver: measured here, so that neither timed search below carries it.
    const cold = (await measure(emptyTrial, { trial: [0] }, 1, home)).measured
    console.log(
      `first search in this process: its trial starts ${ms(cold.firstStartMs)} ms after the call ` +
        `(driver set-up ${ms(cold.driverSetupMs)} + executor process start-up ${ms(cold.executorStartMs)} ms)`,
    )
    const { blocks, msPerBlock } = calibrate()
    const space = { trial: Array.from({ length: CPU_TRIALS }, (_, i) => i), blocks: [blocks] }
    const rounds: Measured[][] = []
    for (let round = 0; round < ROUNDS; round++) {
      rounds.push([(await measure(cpuTrial, space, 1, home)).measured, (await measure(cpuTrial, space, 2, home)).measured])
    }
    printCpuRuns(rounds, blocks, msPerBlock)
    const empty = await measure(emptyTrial, { trial: Array.from({ length: EMPTY_TRIALS }, (_, i) => i) }, 2, home)
    printEmptyRun(empty.measured, await measurePersistence(home, empty.trials))
    console.log(`load average at the end ${load()}`)
  } finally {
    if (previousHome === undefined) delete process.env.MALT_HOME
    else process.env.MALT_HOME = previousHome
    rmSync(home, { recursive: true, force: true })
  }
}
