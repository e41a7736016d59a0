// The files of one run (`Experiments/<appId>/<runId>/`): creates them, writes every record
// atomically, and reads a run back for resume, recovering trials whose result.json was written
// but that a crash kept out of experiment.json.
import { copyFile, cp, mkdir, readFile, readdir, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { MaltError, describeValue } from '../../errors.js'
import { storageError } from '../../storage/local.js'
import { bestTrial } from '../best.js'
import type { ExperimentKind, ExperimentRecord, MetricsLine, TrialRecord } from '../records.js'
import type { Params } from '../types.js'
import { captureEnvironment, type CaptureEnvironmentOptions, type EnvironmentRecord } from './environment.js'
import { writeJsonAtomic } from '../../storage/durable.js'
import { createRunDir, maltHome, newAppId, trialDir } from './layout.js'

/** File names inside a run and a trial directory. */
export const RUN_FILES = {
  experiment: 'experiment.json',
  environment: 'environment.json',
  resources: 'resources',
  params: 'params.json',
  result: 'result.json',
  metrics: 'metrics.jsonl',
} as const

/** Options of {@link RunStore.create}. */
export interface RunStoreCreateOptions {
  /** MALT_HOME. @defaultValue maltHome() ($MALT_HOME, else ./malt-home) */
  home?: string
  /** The experiment's name (kept on the store; written with the first experiment.json). */
  name: string
  kind: ExperimentKind
  /** The app the run belongs to. @defaultValue newAppId() (one per driver process) */
  appId?: string
}

/** A run read back from its files. */
export interface OpenedRun {
  store: RunStore
  /** experiment.json, with every trial's result.json merged in. */
  experiment: ExperimentRecord
  /** Ids of trials taken from a result.json because experiment.json lacked them or disagreed. */
  recovered: string[]
}

function parseJson<T>(text: string, path: string): T {
  try {
    return JSON.parse(text) as T
  } catch (error) {
    throw new MaltError('EXPERIMENT_FILE_CORRUPT', `${path}: expected JSON, but it does not parse: ${(error as Error).message}`, {
      cause: error,
      location: { file: path },
    })
  }
}

async function readJsonIfPresent<T>(path: string): Promise<T | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw storageError(error, path, 'read')
  }
  return parseJson<T>(text, path)
}

function byTrialId(a: TrialRecord, b: TrialRecord): number {
  return a.id.localeCompare(b.id, 'en', { numeric: true })
}

/**
 * Reads a run directory: experiment.json plus every `<trial>/result.json`. result.json is
 * written before experiment.json when a trial ends, so where the two disagree result.json wins.
 */
export async function loadExperiment(runDirectory: string): Promise<{ experiment: ExperimentRecord; recovered: string[] }> {
  const dir = resolve(runDirectory)
  const experimentPath = join(dir, RUN_FILES.experiment)
  const experiment = await readJsonIfPresent<ExperimentRecord>(experimentPath)
  if (!experiment) {
    throw new MaltError('EXPERIMENT_NOT_FOUND', `${dir} is not an experiment run: expected ${RUN_FILES.experiment} in it`, { location: { file: experimentPath } })
  }
  const trials = new Map(experiment.trials.map((trial) => [trial.id, trial]))
  const recovered: string[] = []
  const entries = await readdir(dir, { withFileTypes: true })
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name === RUN_FILES.resources) continue
    const resultPath = join(dir, entry.name, RUN_FILES.result)
    const result = await readJsonIfPresent<TrialRecord>(resultPath)
    if (!result) continue
    if (typeof result.id !== 'string' || typeof result.name !== 'string') {
      throw new MaltError('EXPERIMENT_FILE_CORRUPT', `${resultPath}: expected a trial record with string "id" and "name", received ${describeValue(result)}`, {
        location: { file: resultPath },
      })
    }
    const known = trials.get(result.id)
    if (!known || JSON.stringify(known) !== JSON.stringify(result)) {
      trials.set(result.id, result)
      recovered.push(result.id)
    }
  }
  experiment.trials = [...trials.values()].sort(byTrialId)
  // The driver's own rule, over the merged trials: a recovered trial may be the best.
  if (recovered.length > 0) experiment.best = bestTrial(experiment.trials, experiment.direction)
  return { experiment, recovered: recovered.sort() }
}

/** Reads a run's environment.json, or undefined when it was never written. */
export async function readEnvironment(runDirectory: string): Promise<EnvironmentRecord | undefined> {
  return readJsonIfPresent<EnvironmentRecord>(join(runDirectory, RUN_FILES.environment))
}

/**
 * The files of one run. The driver creates it, copies the versioned resources and the
 * environment before the first trial, then writes each trial's params.json when it starts and
 * result.json when it ends, and rewrites experiment.json after each trial. Every write is atomic.
 */
export class RunStore {
  /** MALT_HOME. */
  readonly home: string
  readonly appId: string
  /** `run.<n>`. */
  readonly runId: string
  /** The run directory (absolute). */
  readonly dir: string

  private constructor(home: string, appId: string, runId: string, dir: string) {
    this.home = home
    this.appId = appId
    this.runId = runId
    this.dir = dir
  }

  /** Makes `Experiments/<appId>/run.<n>/` for a new run (the next free n). */
  static async create(options: RunStoreCreateOptions): Promise<RunStore> {
    const home = resolve(options.home ?? maltHome())
    const appId = options.appId ?? newAppId()
    const { runId, dir } = await createRunDir(home, appId)
    return new RunStore(home, appId, runId, dir)
  }

  /** Reads an existing run for resume (see {@link loadExperiment}). */
  static async open(runDirectory: string): Promise<OpenedRun> {
    const { experiment, recovered } = await loadExperiment(runDirectory)
    const dir = resolve(runDirectory)
    const store = new RunStore(dirname(dirname(dirname(dir))), experiment.appId, experiment.runId, dir)
    return { store, experiment, recovered }
  }

  /** Parses a trial's metrics.jsonl; a torn last line (a write cut by a crash) is skipped. */
  static async readMetrics(trialDirectory: string): Promise<MetricsLine[]> {
    const path = join(trialDirectory, RUN_FILES.metrics)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw storageError(error, path, 'read')
    }
    const lines = text.split('\n')
    const lastComplete = text.endsWith('\n') ? lines.length - 1 : lines.length
    const metrics: MetricsLine[] = []
    for (let i = 0; i < lastComplete; i++) {
      const line = lines[i]!
      if (line.trim() === '') continue
      try {
        metrics.push(JSON.parse(line) as MetricsLine)
      } catch (error) {
        // Only the last line can be torn (appends are sequential); anything earlier is damage.
        if (i === lines.length - 1) break
        throw new MaltError('EXPERIMENT_FILE_CORRUPT', `${path}:${i + 1}: expected a JSON metrics line, received ${describeValue(line)}`, {
          cause: error,
          location: { file: path, line: i + 1 },
        })
      }
    }
    return metrics
  }

  /** The directory of a trial of this run. */
  trialDir(trialName: string): string {
    return trialDir(this.dir, trialName)
  }

  /** Rewrites experiment.json (atomically). */
  async writeExperiment(record: ExperimentRecord): Promise<void> {
    if (record.appId !== this.appId || record.runId !== this.runId) {
      throw new MaltError(
        'EXPERIMENT_WRONG_RUN',
        `writeExperiment: expected a record of ${this.appId}/${this.runId}, received one of ${describeValue(record.appId)}/${describeValue(record.runId)}`,
      )
    }
    await writeJsonAtomic(join(this.dir, RUN_FILES.experiment), record)
  }

  /** Creates the trial's directory and writes its params.json; returns the directory. */
  async writeTrialParams(trial: { name: string; params: Params }): Promise<string> {
    const dir = this.trialDir(trial.name)
    await writeJsonAtomic(join(dir, RUN_FILES.params), trial.params)
    return dir
  }

  /** Writes the trial's result.json (atomically). Call it before rewriting experiment.json. */
  async writeTrialResult(trial: TrialRecord): Promise<void> {
    await writeJsonAtomic(join(this.trialDir(trial.name), RUN_FILES.result), trial)
  }

  /**
   * Copies the versioned resources into `resources/`, keeping their paths relative to
   * `baseDir` (a file outside it keeps only its name). Every path is checked before anything is
   * copied, so a missing file fails the experiment before any trial runs. Returns the copies'
   * paths relative to `resources/`.
   */
  async copyVersionedResources(paths: readonly string[], baseDir: string = process.cwd()): Promise<string[]> {
    const sources: { from: string; to: string; directory: boolean }[] = []
    const targets = new Map<string, string>()
    for (const path of paths) {
      const from = resolve(baseDir, path)
      let directory: boolean
      try {
        directory = (await stat(from)).isDirectory()
      } catch (error) {
        throw new MaltError('EXPERIMENT_RESOURCE_NOT_FOUND', `versionedResources: ${describeValue(path)} does not exist (looked for ${from}); expected a file to copy into the run`, {
          cause: error,
          location: { file: from, field: 'versionedResources' },
        })
      }
      const inside = relative(resolve(baseDir), from)
      const to = inside === '' || inside.startsWith('..') || isAbsolute(inside) ? basename(from) : inside
      const earlier = targets.get(to)
      if (earlier !== undefined && earlier !== from) {
        throw new MaltError('EXPERIMENT_RESOURCE_CLASH', `versionedResources: ${describeValue(path)} and ${describeValue(earlier)} would both be copied to resources/${to}`, {
          location: { field: 'versionedResources' },
        })
      }
      targets.set(to, from)
      sources.push({ from, to, directory })
    }
    const root = join(this.dir, RUN_FILES.resources)
    for (const { from, to, directory } of sources) {
      const target = join(root, to)
      try {
        await mkdir(dirname(target), { recursive: true })
        if (directory) await cp(from, target, { recursive: true })
        else await copyFile(from, target)
      } catch (error) {
        throw storageError(error, target, 'write')
      }
    }
    return sources.map(({ to }) => to.split(sep).join('/'))
  }

  /** Captures the environment (see {@link captureEnvironment}) into environment.json. */
  async captureEnvironment(options: CaptureEnvironmentOptions = {}): Promise<EnvironmentRecord> {
    const environment = await captureEnvironment(options)
    await writeJsonAtomic(join(this.dir, RUN_FILES.environment), environment)
    return environment
  }
}
