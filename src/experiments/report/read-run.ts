// Reads a run directory for the HTML report, on its own (no store): experiment.json, each
// trial's result.json (newer than experiment.json after a crash) and the trials' metrics.jsonl.
// Files are untrusted input: odd fields are normalised, never thrown on, so a report always renders.
import { readFile, readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { MaltError, describeValue } from '../../errors.js'
import { storageError } from '../../storage/local.js'
import type { ExperimentRecord, MetricsLine, TrialFailure, TrialRecord } from '../records.js'
import type { Params, ParamValue, TrialState } from '../types.js'

/** A run as the report shows it. */
export interface ReportRun {
  /** The run directory (absolute). */
  dir: string
  experiment: ExperimentRecord
  /** Intermediate results of each trial, by trial id, sorted by step (absent: none reported). */
  metrics: Map<string, MetricsLine[]>
  /** A few facts from environment.json (Node, Malt version, git commit…), when present. */
  environment: Record<string, string>
  /** What was skipped while reading (unreadable lines, corrupt result.json). */
  warnings: string[]
}

const TRIAL_STATES: readonly TrialState[] = ['pending', 'running', 'finished', 'failed', 'stopped']

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw storageError(error, path, 'read')
  }
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new MaltError('EXPERIMENT_FILE_CORRUPT', `${path}: expected JSON, but it does not parse: ${(error as Error).message}`, {
      cause: error,
      location: { file: path },
    })
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A number from JSON: NaN and ±Infinity were written as null (JSON has no NaN) or as strings. */
function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value
  if (value === null || value === 'NaN') return NaN
  if (value === 'Infinity' || value === '-Infinity') return Number(value)
  return undefined
}

function toParamValue(value: unknown): ParamValue {
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value
  return JSON.stringify(value) ?? String(value)
}

function toMetrics(value: unknown): Record<string, number> {
  const metrics: Record<string, number> = {}
  if (isObject(value)) for (const [key, v] of Object.entries(value)) {
    const n = toNumber(v)
    if (n !== undefined) metrics[key] = n
  }
  return metrics
}

function toFailure(value: unknown, index: number): TrialFailure {
  const raw = isObject(value) ? value : {}
  const reason = ['error', 'crash', 'timeout', 'cancelled'].includes(raw.reason as string) ? (raw.reason as TrialFailure['reason']) : 'error'
  return {
    reason,
    message: typeof raw.message === 'string' ? raw.message : describeValue(value),
    stack: typeof raw.stack === 'string' ? raw.stack : undefined,
    executor: typeof raw.executor === 'string' ? raw.executor : undefined,
    attempt: typeof raw.attempt === 'number' ? raw.attempt : index + 1,
  }
}

const optionalString = (value: unknown) => (typeof value === 'string' ? value : undefined)

/** A trial record with every field of the contract present and of the right type. */
export function normaliseTrial(value: unknown, index: number): TrialRecord {
  const raw = isObject(value) ? value : {}
  const id = typeof raw.id === 'string' ? raw.id : `#${index + 1}`
  const params: Params = {}
  if (isObject(raw.params)) for (const [key, v] of Object.entries(raw.params)) params[key] = toParamValue(v)
  const failures = Array.isArray(raw.failures) ? raw.failures.map(toFailure) : []
  const numberOrUndefined = (v: unknown) => (typeof v === 'number' ? v : undefined)
  return {
    id,
    name: typeof raw.name === 'string' ? raw.name : id,
    params,
    state: TRIAL_STATES.includes(raw.state as TrialState) ? (raw.state as TrialState) : 'pending',
    value: raw.value === undefined ? undefined : toNumber(raw.value),
    metrics: toMetrics(raw.metrics),
    artifacts: Array.isArray(raw.artifacts) ? raw.artifacts.map(String) : [],
    attempts: numberOrUndefined(raw.attempts) ?? Math.max(1, failures.length),
    attempt: numberOrUndefined(raw.attempt),
    executor: optionalString(raw.executor),
    failures,
    earlyStopped: raw.earlyStopped === true,
    reused: raw.reused === true,
    startedAt: optionalString(raw.startedAt),
    finishedAt: optionalString(raw.finishedAt),
    durationMs: numberOrUndefined(raw.durationMs),
  }
}

/** A trial name is one path segment; anything else must not be joined onto the run directory. */
function isSafeSegment(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name)
}

/** Parses metrics.jsonl leniently: unreadable lines are counted and skipped (a torn last line silently). */
export function parseMetricsLines(text: string): { lines: MetricsLine[]; skipped: number } {
  const rows = text.split('\n')
  const lines: MetricsLine[] = []
  let skipped = 0
  rows.forEach((row, i) => {
    if (row.trim() === '') return
    let parsed: unknown
    try {
      parsed = JSON.parse(row)
    } catch {
      if (i < rows.length - 1) skipped++ // the last line without a newline is a write cut short
      return
    }
    if (!isObject(parsed) || typeof parsed.step !== 'number' || !Number.isFinite(parsed.step) || !isObject(parsed.metrics)) {
      skipped++
      return
    }
    lines.push({ step: parsed.step, time: typeof parsed.time === 'number' ? parsed.time : 0, metrics: toMetrics(parsed.metrics) })
  })
  // Stable sort: a trial reports in step order, but a resumed one may append an earlier step.
  lines.sort((a, b) => a.step - b.step)
  return { lines, skipped }
}

/** Trial directories whose result.json may hold a newer record than experiment.json. */
async function readResults(dir: string, warnings: string[]): Promise<TrialRecord[]> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    throw storageError(error, dir, 'list')
  }
  const results: TrialRecord[] = []
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name === 'resources') continue
    const path = join(dir, entry.name, 'result.json')
    const text = await readText(path)
    if (text === undefined) continue
    try {
      const raw = parseJson(text, path)
      if (!isObject(raw) || typeof raw.id !== 'string') throw new Error(`expected a trial record with a string "id", received ${describeValue(raw)}`)
      results.push(normaliseTrial(raw, results.length))
    } catch (error) {
      warnings.push(`${entry.name}/result.json skipped: ${(error as Error).message}`)
    }
  }
  return results
}

function pickStrings(raw: unknown): Record<string, string> {
  if (!isObject(raw)) return {}
  const facts: Record<string, string> = {}
  if (typeof raw.node === 'string') facts.node = raw.node
  if (typeof raw.maltVersion === 'string') facts.malt = raw.maltVersion
  if (typeof raw.hostname === 'string') facts.host = raw.hostname
  if (typeof raw.backend === 'string') facts.backend = raw.backend
  if (isObject(raw.git) && typeof raw.git.commit === 'string') facts.git = `${raw.git.commit.slice(0, 12)}${raw.git.dirty === true ? ' (dirty)' : ''}`
  return facts
}

/**
 * Reads `<runDir>/experiment.json`, merges each `<trial>/result.json` (it wins where the two
 * differ: it is written first when a trial ends) and reads the metrics.jsonl of the attempt
 * each trial kept (`attempt-<k>/` for a retry).
 */
export async function readRunForReport(runDir: string): Promise<ReportRun> {
  const dir = resolve(runDir)
  const path = join(dir, 'experiment.json')
  const text = await readText(path)
  if (text === undefined) {
    throw new MaltError('EXPERIMENT_NOT_FOUND', `${dir} is not an experiment run: expected experiment.json in it`, { location: { file: path } })
  }
  const raw = parseJson(text, path)
  if (!isObject(raw) || !Array.isArray(raw.trials)) {
    throw new MaltError('EXPERIMENT_FILE_CORRUPT', `${path}: expected an experiment record with a "trials" array, received ${describeValue(raw)}`, {
      location: { file: path },
    })
  }
  const warnings: string[] = []
  const trials = new Map(raw.trials.map((t, i) => normaliseTrial(t, i)).map((t) => [t.id, t]))
  for (const result of await readResults(dir, warnings)) trials.set(result.id, result)
  const experiment: ExperimentRecord = {
    ...(raw as unknown as ExperimentRecord),
    name: typeof raw.name === 'string' ? raw.name : 'experiment',
    metric: typeof raw.metric === 'string' ? raw.metric : 'metric',
    direction: raw.direction === 'min' ? 'min' : 'max',
    trials: [...trials.values()].sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })),
  }
  const metrics = new Map<string, MetricsLine[]>()
  for (const trial of experiment.trials) {
    if (!isSafeSegment(trial.name)) {
      warnings.push(`${trial.id}: name ${describeValue(trial.name)} is not a file name; its metrics.jsonl was not read`)
      continue
    }
    const attempt = trial.attempt ?? trial.attempts
    const trialDir = join(dir, trial.name)
    const metricsPath = join(Number.isInteger(attempt) && attempt > 1 ? join(trialDir, `attempt-${attempt}`) : trialDir, 'metrics.jsonl')
    const content = await readText(metricsPath)
    if (content === undefined) continue
    const { lines, skipped } = parseMetricsLines(content)
    if (skipped > 0) warnings.push(`${trial.id}: ${skipped} unreadable line${skipped === 1 ? '' : 's'} of metrics.jsonl skipped`)
    if (lines.length > 0) metrics.set(trial.id, lines)
  }
  const environmentText = await readText(join(dir, 'environment.json'))
  let environment: Record<string, string> = {}
  if (environmentText !== undefined) {
    try {
      environment = pickStrings(JSON.parse(environmentText))
    } catch {
      warnings.push('environment.json does not parse; environment not shown')
    }
  }
  return { dir, experiment, metrics, environment, warnings }
}
