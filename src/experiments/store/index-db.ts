// The experiment index: an SQLite database (`<home>/malt.db`) of experiments and trials for
// queries (`malt experiments list`). The files are the truth; `reindex` rebuilds rows from them.
import { existsSync, mkdirSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import Database from 'better-sqlite3'
import { MaltError, describeValue } from '../../errors.js'
import type { ExperimentRecord, ExperimentState, TrialRecord } from '../records.js'
import { writeJsonAtomic } from '../../storage/durable.js'
import { experimentsRoot, runNumber } from './layout.js'
import { RUN_FILES, loadExperiment } from './run-store.js'
import { INDEX_MIGRATIONS, migrate, toExperimentRow, toTrialRow, type ExperimentDbRow, type ExperimentRow, type TrialDbRow, type TrialRow } from './index-schema.js'
export { INDEX_MIGRATIONS, migrate, type ExperimentRow, type TrialRow } from './index-schema.js'

/** Options of {@link ExperimentIndex}. */
export interface ExperimentIndexOptions {
  /** The database file. @defaultValue `<home>/malt.db` */
  path?: string
  /** How long a write waits for another process's lock before failing. @defaultValue 10000 ms */
  busyTimeoutMs?: number
}

/** What creating or syncing an experiment row needs: an ExperimentRecord (id optional) and its directory. */
export type ExperimentInput = Pick<ExperimentRecord, 'appId' | 'runId' | 'name' | 'kind' | 'state' | 'metric' | 'direction' | 'startedAt'> &
  Partial<Pick<ExperimentRecord, 'id' | 'finishedAt' | 'best' | 'trials'>> & {
    runDir: string
    /** Trials the search will run, when known (grid: the product); else the trials recorded. */
    plannedTrials?: number
  }

/** Fields `updateExperiment` may change; `best: null` clears it. */
export interface ExperimentUpdate {
  state?: ExperimentState
  finishedAt?: string | null
  best?: { trialId: string; value: number } | null
  plannedTrials?: number
  runDir?: string
}

/** Filters of {@link ExperimentIndex.listExperiments}. */
export interface ExperimentFilter {
  /** Exact experiment name. */
  name?: string
  state?: ExperimentState
  /** Only the latest N experiments (by id). @defaultValue all */
  limit?: number
}

/** What {@link ExperimentIndex.reindex} did. */
export interface ReindexResult {
  experiments: number
  trials: number
  /** Rows whose run directory is gone. */
  removed: number
  /** Runs whose recorded id was taken by another run; experiment.json was rewritten with the new id. */
  renumbered: { runDir: string; from: number; to: number }[]
}

const SELECT_EXPERIMENTS = `SELECT e.*,
  (SELECT COUNT(*) FROM trials t WHERE t.experiment_id = e.id AND t.state IN ('finished', 'failed', 'stopped')) AS trials_done,
  (SELECT COUNT(*) FROM trials t WHERE t.experiment_id = e.id AND t.state = 'failed') AS trials_failed
  FROM experiments e`

/**
 * The index of every experiment under one MALT_HOME. Several processes may write it at once
 * (WAL mode; writers wait up to `busyTimeoutMs` for each other, and every read-then-write runs
 * as an IMMEDIATE transaction so that none fails on a lock upgrade). Ids are given here.
 */
export class ExperimentIndex {
  static readonly FILE = 'malt.db'
  readonly home: string
  readonly path: string
  /** True when this open created the database file (so it may lack runs made without it). */
  readonly created: boolean
  private readonly db: Database.Database

  constructor(home: string, options: ExperimentIndexOptions = {}) {
    this.home = resolve(home)
    this.path = resolve(options.path ?? join(this.home, ExperimentIndex.FILE))
    this.created = !existsSync(this.path)
    try {
      mkdirSync(this.home, { recursive: true })
      this.db = new Database(this.path, { timeout: options.busyTimeoutMs ?? 10_000 })
      this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = NORMAL')
      migrate(this.db, INDEX_MIGRATIONS)
    } catch (error) {
      if (error instanceof MaltError) throw error
      throw new MaltError('INDEX_OPEN_FAILED', `Cannot open the experiment index ${this.path}: ${(error as Error).message}`, {
        cause: error,
        location: { file: this.path },
      })
    }
  }

  /** Opens the index of `home`, rebuilding it from the files when the database was missing. */
  static async open(home: string, options: ExperimentIndexOptions = {}): Promise<ExperimentIndex> {
    const index = new ExperimentIndex(home, options)
    if (index.created && existsSync(experimentsRoot(index.home))) await index.reindex()
    return index
  }

  close(): void {
    this.db.close()
  }

  /** The schema version of the database (the number of migrations applied). */
  schemaVersion(): number {
    return (this.db.prepare('SELECT MAX(version) AS version FROM schema_version').get() as { version: number | null }).version ?? 0
  }

  /**
   * Adds an experiment and returns its id (`input.id` when given and free, else the next one).
   * Idempotent per run: a second call for the same appId/runId updates that row.
   */
  createExperiment(input: ExperimentInput): number {
    return this.db.transaction(() => this.syncRow(input)).immediate()
  }

  /** Changes some fields of an experiment. */
  updateExperiment(id: number, update: ExperimentUpdate): void {
    const sets: string[] = []
    const values: (string | number | null)[] = []
    const set = (column: string, value: string | number | null): void => {
      sets.push(`${column} = ?`)
      values.push(value)
    }
    if (update.state !== undefined) set('state', update.state)
    if (update.finishedAt !== undefined) set('finished_at', update.finishedAt)
    if (update.best !== undefined) {
      set('best_trial', update.best?.trialId ?? null)
      set('best_value', update.best?.value ?? null)
    }
    if (update.plannedTrials !== undefined) set('n_trials', update.plannedTrials)
    if (update.runDir !== undefined) set('run_dir', resolve(update.runDir))
    if (sets.length === 0) return
    const changed = this.db.prepare(`UPDATE experiments SET ${sets.join(', ')} WHERE id = ?`).run(...values, id).changes
    if (changed === 0) throw this.notFound(id)
  }

  /** Inserts or replaces one trial of an experiment. */
  upsertTrial(experimentId: number, trial: TrialRecord): void {
    this.db.transaction(() => this.upsertTrialRow(experimentId, trial)).immediate()
  }

  /** Writes an experiment and all its trials in one transaction (what the driver calls after each trial). */
  syncExperiment(record: ExperimentInput): number {
    return this.db
      .transaction(() => {
        const id = this.syncRow(record)
        for (const trial of record.trials ?? []) this.upsertTrialRow(id, trial)
        return id
      })
      .immediate()
  }

  /** Experiments, oldest first (the latest `limit` when given). */
  listExperiments(filter: ExperimentFilter = {}): ExperimentRow[] {
    const where: string[] = []
    const values: (string | number)[] = []
    if (filter.name !== undefined) {
      where.push('e.name = ?')
      values.push(filter.name)
    }
    if (filter.state !== undefined) {
      where.push('e.state = ?')
      values.push(filter.state)
    }
    const limit = filter.limit !== undefined ? ' LIMIT ?' : ''
    if (filter.limit !== undefined) values.push(filter.limit)
    const sql = `${SELECT_EXPERIMENTS}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY e.id DESC${limit}`
    return (this.db.prepare(sql).all(...values) as ExperimentDbRow[]).map(toExperimentRow).reverse()
  }

  /** An experiment by integer id, `<appId>/<runId>`, or run directory path; undefined when unknown. */
  getExperiment(ref: number | string): ExperimentRow | undefined {
    const text = String(ref).trim()
    let row: ExperimentDbRow | undefined
    if (/^\d+$/.test(text)) {
      row = this.db.prepare(`${SELECT_EXPERIMENTS} WHERE e.id = ?`).get(Number(text)) as ExperimentDbRow | undefined
    } else {
      const parts = text.split('/')
      if (parts.length === 2 && runNumber(parts[1]!) !== undefined) {
        row = this.db.prepare(`${SELECT_EXPERIMENTS} WHERE e.app_id = ? AND e.run_id = ?`).get(parts[0], parts[1]) as ExperimentDbRow | undefined
      }
      row ??= this.db.prepare(`${SELECT_EXPERIMENTS} WHERE e.run_dir = ?`).get(resolve(text)) as ExperimentDbRow | undefined
    }
    return row ? toExperimentRow(row) : undefined
  }

  /** The trials of an experiment, by trial id. */
  listTrials(experimentId: number): TrialRow[] {
    const rows = this.db.prepare('SELECT * FROM trials WHERE experiment_id = ?').all(experimentId) as TrialDbRow[]
    return rows.map(toTrialRow).sort((a, b) => a.trialId.localeCompare(b.trialId, 'en', { numeric: true }))
  }

  /**
   * Rebuilds the rows from the files under `<home>/Experiments`: every run with an
   * experiment.json is written (keeping its recorded id unless another run holds it), and rows
   * whose run directory is gone are removed.
   */
  async reindex(home: string = this.home): Promise<ReindexResult> {
    const root = experimentsRoot(resolve(home))
    const runs: { dir: string; record: ExperimentRecord }[] = []
    for (const app of await listDirectories(root)) {
      for (const run of await listDirectories(join(root, app))) {
        const dir = join(root, app, run)
        if (runNumber(run) === undefined || !existsSync(join(dir, RUN_FILES.experiment))) continue
        runs.push({ dir, record: (await loadExperiment(dir)).experiment })
      }
    }
    // Every run whose recorded id no earlier run claims keeps it; the others get new ids after them.
    const claimed = new Set<number>()
    const keep: typeof runs = []
    const renumber: typeof runs = []
    for (const run of runs) {
      const { id } = run.record
      if (Number.isInteger(id) && id > 0 && !claimed.has(id)) {
        claimed.add(id)
        keep.push(run)
      } else renumber.push(run)
    }
    const ordered = [...keep, ...renumber]
    const result: ReindexResult = { experiments: 0, trials: 0, removed: 0, renumbered: [] }
    this.db
      .transaction(() => {
        const known = this.db.prepare('SELECT id, run_dir FROM experiments').all() as { id: number; run_dir: string }[]
        for (const { id, run_dir } of known) {
          if (existsSync(join(run_dir, RUN_FILES.experiment))) continue
          this.db.prepare('DELETE FROM trials WHERE experiment_id = ?').run(id)
          this.db.prepare('DELETE FROM experiments WHERE id = ?').run(id)
          result.removed += 1
        }
        for (const { dir, record } of ordered) {
          const id = this.syncRow({ ...record, runDir: dir })
          for (const trial of record.trials) this.upsertTrialRow(id, trial)
          if (id !== record.id) result.renumbered.push({ runDir: dir, from: record.id, to: id })
          result.experiments += 1
          result.trials += record.trials.length
        }
      })
      .immediate()
    for (const { runDir, to } of result.renumbered) {
      const run = runs.find((r) => r.dir === runDir)!
      await writeJsonAtomic(join(runDir, RUN_FILES.experiment), { ...run.record, id: to })
    }
    return result
  }

  private notFound(id: number): MaltError {
    return new MaltError('EXPERIMENT_NOT_FOUND', `No experiment with id ${describeValue(id)} in ${this.path}`)
  }

  /** Inserts or updates the row of one run; call inside an IMMEDIATE transaction. */
  private syncRow(input: ExperimentInput): number {
    const runDir = resolve(input.runDir)
    const planned = Math.max(input.plannedTrials ?? 0, input.trials?.length ?? 0)
    const fields = [input.name, input.kind, input.state, input.metric, input.direction, runDir, input.startedAt, input.finishedAt ?? null,
      input.best?.trialId ?? null, input.best?.value ?? null]
    const existing = this.db.prepare('SELECT id, n_trials FROM experiments WHERE app_id = ? AND run_id = ?').get(input.appId, input.runId) as
      | { id: number; n_trials: number }
      | undefined
    if (existing) {
      this.db
        .prepare(`UPDATE experiments SET name = ?, kind = ?, state = ?, metric = ?, direction = ?, run_dir = ?, started_at = ?,
          finished_at = ?, best_trial = ?, best_value = ?, n_trials = ? WHERE id = ?`)
        .run(...fields, Math.max(planned, input.plannedTrials === undefined ? existing.n_trials : 0), existing.id)
      return existing.id
    }
    const wanted = input.id !== undefined && Number.isInteger(input.id) && input.id > 0 ? input.id : undefined
    const free = wanted !== undefined && this.db.prepare('SELECT 1 FROM experiments WHERE id = ?').get(wanted) === undefined
    // MAX + 1 rather than an auto-increment type: the same SQL works on PostgreSQL.
    const id = free ? wanted! : (this.db.prepare('SELECT COALESCE(MAX(id), 0) + 1 AS id FROM experiments').get() as { id: number }).id
    this.db
      .prepare(`INSERT INTO experiments (id, app_id, run_id, name, kind, state, metric, direction, run_dir, started_at, finished_at,
        best_trial, best_value, n_trials) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(id, input.appId, input.runId, ...fields, planned)
    return id
  }

  private upsertTrialRow(experimentId: number, trial: TrialRecord): void {
    if (this.db.prepare('SELECT 1 FROM experiments WHERE id = ?').get(experimentId) === undefined) throw this.notFound(experimentId)
    this.db
      .prepare(`INSERT INTO trials (experiment_id, trial_id, name, params, state, value, metrics, attempts, duration_ms, started_at, finished_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (experiment_id, trial_id) DO UPDATE SET name = excluded.name, params = excluded.params, state = excluded.state,
          value = excluded.value, metrics = excluded.metrics, attempts = excluded.attempts, duration_ms = excluded.duration_ms,
          started_at = excluded.started_at, finished_at = excluded.finished_at`)
      .run(experimentId, trial.id, trial.name, JSON.stringify(trial.params), trial.state, trial.value ?? null, JSON.stringify(trial.metrics ?? {}),
        trial.attempts ?? 1, trial.durationMs ?? null, trial.startedAt ?? null, trial.finishedAt ?? null)
    // The total shown as "done/total" never falls below the trials recorded.
    this.db
      .prepare(`UPDATE experiments SET n_trials = (SELECT COUNT(*) FROM trials WHERE experiment_id = ?)
        WHERE id = ? AND n_trials < (SELECT COUNT(*) FROM trials WHERE experiment_id = ?)`)
      .run(experimentId, experimentId, experimentId)
  }
}

async function listDirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true })
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}
