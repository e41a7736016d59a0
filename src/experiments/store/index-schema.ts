// The experiment index's schema as a list of migrations, and the runner that applies the missing
// ones. The SQL is kept portable (TEXT, INTEGER, BIGINT, DOUBLE PRECISION; JSON as TEXT; ids
// given by the writer, not an auto-increment type) so that the PostgreSQL store shares it; and
// the rows as the index returns them.
import type Database from 'better-sqlite3'
import { MaltError } from '../../errors.js'
import type { ExperimentRecord, ExperimentState, TrialRecord } from '../records.js'
import type { Params } from '../types.js'

/**
 * The schema, one step per version: step `i` takes the database from version `i` to `i + 1`.
 * Append new steps; never edit a released one.
 */
export const INDEX_MIGRATIONS: readonly string[] = [
  `CREATE TABLE experiments (
    id INTEGER NOT NULL PRIMARY KEY,
    app_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    metric TEXT NOT NULL,
    direction TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    best_trial TEXT,
    best_value DOUBLE PRECISION,
    n_trials INTEGER NOT NULL DEFAULT 0,
    UNIQUE (app_id, run_id)
  );
  CREATE INDEX experiments_by_name ON experiments (name);
  CREATE INDEX experiments_by_run_dir ON experiments (run_dir);
  CREATE TABLE trials (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id),
    trial_id TEXT NOT NULL,
    name TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    value DOUBLE PRECISION,
    metrics TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    duration_ms BIGINT,
    started_at TEXT,
    finished_at TEXT,
    PRIMARY KEY (experiment_id, trial_id)
  );`,
]

/**
 * Brings `db` to `migrations.length`, applying the missing steps in one IMMEDIATE transaction
 * (two processes opening a new database at once: the second waits, then finds nothing to do).
 * Returns the version. A database newer than this code is refused rather than misread.
 */
export function migrate(db: Database.Database, migrations: readonly string[]): number {
  return db
    .transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL)')
      const current = (db.prepare('SELECT MAX(version) AS version FROM schema_version').get() as { version: number | null }).version ?? 0
      if (current > migrations.length) {
        throw new MaltError(
          'INDEX_SCHEMA_TOO_NEW',
          `The experiment index ${db.name} has schema version ${current}; this Malt knows versions up to ${migrations.length}. Upgrade Malt, or delete the file to rebuild it from the experiment files`,
          { location: { file: db.name } },
        )
      }
      for (let version = current; version < migrations.length; version++) {
        db.exec(migrations[version]!)
        db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(version + 1, new Date().toISOString())
      }
      return migrations.length
    })
    .immediate()
}

/** One experiment as the index returns it. */
export interface ExperimentRow {
  id: number
  appId: string
  runId: string
  name: string
  kind: ExperimentRecord['kind']
  state: ExperimentState
  metric: string
  direction: ExperimentRecord['direction']
  runDir: string
  startedAt: string
  finishedAt?: string
  bestTrial?: string
  bestValue?: number
  /** Planned trials when known, else the trials recorded. */
  nTrials: number
  /** Trials that ended (finished, failed or stopped). */
  trialsDone: number
  trialsFailed: number
}

/** One trial as the index returns it. */
export interface TrialRow {
  experimentId: number
  trialId: string
  name: string
  params: Params
  state: TrialRecord['state']
  value?: number
  metrics: Record<string, number>
  attempts: number
  durationMs?: number
  startedAt?: string
  finishedAt?: string
}

/** A row of `experiments` with the trial counts of the index's SELECT. */
export interface ExperimentDbRow {
  id: number
  app_id: string
  run_id: string
  name: string
  kind: string
  state: string
  metric: string
  direction: string
  run_dir: string
  started_at: string
  finished_at: string | null
  best_trial: string | null
  best_value: number | null
  n_trials: number
  trials_done: number
  trials_failed: number
}

/** A row of `trials`. */
export interface TrialDbRow {
  experiment_id: number
  trial_id: string
  name: string
  params: string
  state: string
  value: number | null
  metrics: string
  attempts: number
  duration_ms: number | null
  started_at: string | null
  finished_at: string | null
}

/** Maps a database row to the public shape (camelCase, absent instead of null). */
export function toExperimentRow(row: ExperimentDbRow): ExperimentRow {
  return {
    id: row.id,
    appId: row.app_id,
    runId: row.run_id,
    name: row.name,
    kind: row.kind as ExperimentRow['kind'],
    state: row.state as ExperimentState,
    metric: row.metric,
    direction: row.direction as ExperimentRow['direction'],
    runDir: row.run_dir,
    startedAt: row.started_at,
    ...(row.finished_at !== null ? { finishedAt: row.finished_at } : {}),
    ...(row.best_trial !== null ? { bestTrial: row.best_trial } : {}),
    ...(row.best_value !== null ? { bestValue: row.best_value } : {}),
    nTrials: row.n_trials,
    trialsDone: row.trials_done,
    trialsFailed: row.trials_failed,
  }
}

/** Maps a `trials` row, parsing its JSON columns. */
export function toTrialRow(row: TrialDbRow): TrialRow {
  return {
    experimentId: row.experiment_id,
    trialId: row.trial_id,
    name: row.name,
    params: JSON.parse(row.params) as Params,
    state: row.state as TrialRow['state'],
    ...(row.value !== null ? { value: row.value } : {}),
    metrics: JSON.parse(row.metrics) as Record<string, number>,
    attempts: row.attempts,
    ...(row.duration_ms !== null ? { durationMs: row.duration_ms } : {}),
    ...(row.started_at !== null ? { startedAt: row.started_at } : {}),
    ...(row.finished_at !== null ? { finishedAt: row.finished_at } : {}),
  }
}
