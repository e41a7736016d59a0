// What an experiment leaves on disk, as types: `experiment.json` for the run, `result.json`,
// `params.json` and `metrics.jsonl` for each trial. The files are the source of truth (the
// SQLite index can be rebuilt from them); every JSON file is written atomically.
//
// Layout under MALT_HOME (default ./malt-home):
//   Experiments/<appId>/<runId>/experiment.json      this record, rewritten as trials end
//   Experiments/<appId>/<runId>/environment.json     Node version, lockfile hash, git commit
//   Experiments/<appId>/<runId>/resources/<file>     copies of the versioned resources
//   Experiments/<appId>/<runId>/events.out.tfevents.* the hparams plugin's experiment summary
//   Experiments/<appId>/<runId>/<trialName>/          one trial (name like `lr=0.01&dropout=0.5`)
//       params.json, result.json, metrics.jsonl, stdout.log, events.out.tfevents.*,
//       checkpoints/, model/  (attempt 1 writes here; a retry or speculative copy k writes
//       its logs in `<trialName>/attempt-<k>/`, and result.json names the attempt that won)
import type { Direction, Params, TrialState } from './types.js'

/** How a search was asked for. */
export type ExperimentKind = 'launch' | 'grid' | 'random' | 'evolutionary' | 'tpe' | 'ablation' | 'custom' | 'distributed'

/** State of a whole experiment. `killed`: interrupted (Ctrl-C, SIGTERM); resumable. */
export type ExperimentState = 'running' | 'finished' | 'failed' | 'killed'

/** Why a trial attempt failed. */
export type FailureReason = 'error' | 'crash' | 'timeout' | 'cancelled'

/** A failed attempt's cause; `stack` is the training function's stack trace when it threw. */
export interface TrialFailure {
  reason: FailureReason
  message: string
  stack?: string
  /** The executor the attempt ran on, e.g. `local-1`. */
  executor?: string
  attempt: number
}

/** Where the training function lives, so that executor processes can load it. */
export interface FunctionRef {
  /** A `file:` URL of the module. */
  module: string
  /** The export's name (`default` for a default export). */
  export: string
}

/** One trial as stored in `result.json` and inside `experiment.json`. */
export interface TrialRecord {
  /** Stable id within the run, `t0001`, `t0002`, … */
  id: string
  /** Readable, file-system safe, unique within the run: `lr=0.01&dropout=0.5`. */
  name: string
  params: Params
  state: TrialState
  /** The search metric's final value; absent when the trial failed. */
  value?: number
  /** Every final metric the training function returned. */
  metrics: Record<string, number>
  /** Files the training function returned, copied into the trial's `artifacts/`; paths relative to the trial dir. */
  artifacts: string[]
  /** Attempts made (1 when it worked the first time). */
  attempts: number
  /** The attempt whose result was kept. */
  attempt?: number
  /** Executor the kept attempt ran on. */
  executor?: string
  /** Failed attempts, oldest first (kept even when a later attempt succeeded). */
  failures: TrialFailure[]
  /** True when a stopping rule ended the trial early. */
  earlyStopped?: boolean
  /** True when the result was reused from an identical earlier trial instead of re-running it. */
  reused?: boolean
  startedAt?: string
  finishedAt?: string
  durationMs?: number
}

/** The best trial of a run. */
export interface BestTrial {
  trialId: string
  name: string
  value: number
  params: Params
}

/** `experiment.json`: one run of `launch` or a search. */
export interface ExperimentRecord {
  /** Integer id given by the index (what `malt experiments show ID` takes). */
  id: number
  appId: string
  runId: string
  name: string
  kind: ExperimentKind
  state: ExperimentState
  /** The metric the search optimises (absent for a plain launch that returns a number: `metric`). */
  metric: string
  direction: Direction
  /** The space as given (JSON), for display and resume. */
  space: unknown
  /** The options the search was called with (JSON), for resume. */
  options: Record<string, unknown>
  function: FunctionRef
  versionedResources: string[]
  startedAt: string
  finishedAt?: string
  /** The process running (or last running) the search: resume refuses a run whose driver is alive. */
  driver?: { host: string; pid: number }
  trials: TrialRecord[]
  best?: BestTrial
}

/** One line of `metrics.jsonl`: an intermediate result reported with `ctx.report`. */
export interface MetricsLine {
  step: number
  /** Milliseconds since the epoch. */
  time: number
  metrics: Record<string, number>
}
