// `malt experiments list|show|compare`: the tracked runs under MALT_HOME, read through the
// SQLite index (ids, filters) and the run files (every trial, failures, environment).
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { MaltError, describeValue } from '../../errors.js'
import type { ExperimentRecord, ExperimentState, TrialRecord } from '../../experiments/records.js'
import type { Direction } from '../../experiments/types.js'
import { ExperimentIndex, type ExperimentRow } from '../../experiments/store/index-db.js'
import { maltHome } from '../../experiments/store/layout.js'
import { RUN_FILES, loadExperiment, readEnvironment } from '../../experiments/store/run-store.js'
import type { EnvironmentRecord } from '../../experiments/store/environment.js'
import { integerOption } from '../options.js'
import { elapsedMs, formatDuration, formatNumber, formatParam, formatTime, renderTable, type Column } from './experiments-format.js'

/** Where the commands print; tests pass their own. */
export interface ExperimentsIo {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
}

const STATES: readonly ExperimentState[] = ['running', 'finished', 'failed', 'killed']

/** Adds `--home DIR` (default: $MALT_HOME, else ./malt-home) to a subcommand. */
export function withHome(command: Command): Command {
  return command.option('--home <dir>', 'the MALT_HOME directory (default: $MALT_HOME, else ./malt-home)')
}

/** The home a subcommand works on. */
export function homeOf(options: { home?: string }): string {
  return options.home !== undefined ? resolve(options.home) : maltHome()
}

/** Opens the index of `home` (rebuilt from the files when the database is missing); undefined when home does not exist. */
export async function openIndex(home: string): Promise<ExperimentIndex | undefined> {
  return existsSync(home) ? ExperimentIndex.open(home) : undefined
}

/** An experiment found by `ID`: its record and environment from the run files. */
export interface ResolvedExperiment {
  runDir: string
  experiment: ExperimentRecord
  environment?: EnvironmentRecord
  recovered: string[]
}

/**
 * Finds the experiment `ref` names (an id, `<appId>/<runId>` or a run directory) and reads its
 * files. An unknown ref is a MaltError that says how to list the ids.
 */
export async function resolveExperiment(home: string, ref: string): Promise<ResolvedExperiment> {
  const index = await openIndex(home)
  let row: ExperimentRow | undefined
  try {
    row = index?.getExperiment(ref)
  } finally {
    index?.close()
  }
  // A run directory that was never indexed (copied from another machine) is read as it is.
  const runDir = row?.runDir ?? (existsSync(join(resolve(ref), RUN_FILES.experiment)) ? resolve(ref) : undefined)
  if (runDir === undefined) {
    throw new MaltError(
      'EXPERIMENT_NOT_FOUND',
      `No experiment ${describeValue(ref)} in ${home}: expected an id, <appId>/<runId> or a run directory; run \`malt experiments list${home === maltHome() ? '' : ` --home ${home}`}\` to see them`,
    )
  }
  if (!existsSync(join(runDir, RUN_FILES.experiment))) {
    throw new MaltError('EXPERIMENT_FILES_MISSING', `Experiment ${describeValue(ref)} is indexed at ${runDir}, but its ${RUN_FILES.experiment} is gone; run \`malt experiments list --reindex\` to drop it`, {
      location: { file: join(runDir, RUN_FILES.experiment) },
    })
  }
  const { experiment, recovered } = await loadExperiment(runDir)
  return { runDir, experiment, environment: await readEnvironment(runDir), recovered }
}

function json(io: ExperimentsIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

function stateOption(value: string): ExperimentState {
  if (!(STATES as readonly string[]).includes(value)) {
    throw new MaltError('CLI_BAD_OPTION', `--state: expected one of ${STATES.join(', ')}, received ${describeValue(value)}`)
  }
  return value as ExperimentState
}

function directionOption(value: string): Direction {
  if (value !== 'max' && value !== 'min') throw new MaltError('CLI_BAD_OPTION', `--direction: expected "max" or "min", received ${describeValue(value)}`)
  return value
}

/** `malt experiments list`. */
export async function runList(options: { home?: string; name?: string; state?: ExperimentState; limit?: number; json?: boolean; reindex?: boolean }, io: ExperimentsIo): Promise<ExperimentRow[]> {
  const home = homeOf(options)
  const index = await openIndex(home)
  let rows: ExperimentRow[] = []
  try {
    if (index && options.reindex) {
      const result = await index.reindex()
      io.stderr.write(`reindexed ${result.experiments} experiments (${result.trials} trials) from ${home}${result.removed > 0 ? `; dropped ${result.removed} whose files are gone` : ''}\n`)
      for (const moved of result.renumbered) io.stderr.write(`  ${moved.runDir}: id ${moved.from} was taken, now ${moved.to}\n`)
    }
    rows = index?.listExperiments({ name: options.name, state: options.state, limit: options.limit }) ?? []
  } finally {
    index?.close()
  }
  if (options.json) {
    json(io, rows)
  } else if (rows.length === 0) {
    io.stdout.write(`no experiments in ${home}${options.name !== undefined || options.state !== undefined ? ' matching the filters' : ''}\n`)
  } else {
    const columns: Column[] = [{ header: 'ID', align: 'right' }, { header: 'NAME' }, { header: 'KIND' }, { header: 'STATE' }, { header: 'TRIALS', align: 'right' },
      { header: 'BEST' }, { header: 'STARTED' }, { header: 'DURATION', align: 'right' }]
    const cells = rows.map((row) => [
      String(row.id), row.name, row.kind, row.state,
      `${row.trialsDone}/${row.nTrials}${row.trialsFailed > 0 ? ` (${row.trialsFailed} failed)` : ''}`,
      row.bestValue !== undefined ? `${row.metric}=${formatNumber(row.bestValue)}` : '-',
      formatTime(row.startedAt), formatDuration(elapsedMs(row.startedAt, row.finishedAt, row.state === 'running')),
    ])
    io.stdout.write(renderTable(columns, cells))
  }
  return rows
}

function trialCounts(trials: readonly TrialRecord[]): string {
  const counts = new Map<string, number>()
  for (const trial of trials) counts.set(trial.state, (counts.get(trial.state) ?? 0) + 1)
  return [...counts].map(([state, n]) => `${n} ${state}`).join(', ') || 'none yet'
}

function paramsText(params: Record<string, unknown>): string {
  return Object.entries(params).map(([key, value]) => `${key}=${typeof value === 'number' ? formatNumber(value) : String(value)}`).join(', ')
}

/** `malt experiments show ID`. */
export async function runShow(ref: string, options: { home?: string; json?: boolean }, io: ExperimentsIo): Promise<ResolvedExperiment> {
  const resolved = await resolveExperiment(homeOf(options), ref)
  const { experiment: e, environment: env } = resolved
  if (options.json) {
    json(io, { runDir: resolved.runDir, experiment: e, environment: env ?? null })
    return resolved
  }
  const field = (label: string, value: string) => `  ${label.padEnd(11)} ${value}\n`
  const out: string[] = [`experiment ${e.id}: ${e.name} (${e.kind})\n`]
  out.push(field('state', e.state), field('run', `${e.appId}/${e.runId}`), field('directory', resolved.runDir))
  out.push(field('metric', `${e.metric} (${e.direction})`), field('started', formatTime(e.startedAt, true)))
  if (e.finishedAt !== undefined || e.state === 'running') {
    const took = formatDuration(elapsedMs(e.startedAt, e.finishedAt, e.state === 'running'))
    out.push(field(e.finishedAt !== undefined ? 'finished' : 'running for', e.finishedAt !== undefined ? `${formatTime(e.finishedAt, true)} (${took})` : took))
  }
  out.push(field('trials', `${e.trials.length}: ${trialCounts(e.trials)}`))
  out.push(field('function', `${e.function.export} from ${e.function.module}`))
  if (e.versionedResources.length > 0) out.push(field('resources', e.versionedResources.join(', ')))
  out.push(field('space', JSON.stringify(e.space)))
  if (env) {
    out.push('environment\n', field('node', `${env.node} on ${env.platform} ${env.arch}, ${env.cpus.count} CPUs${env.cpus.model ? ` (${env.cpus.model})` : ''}`))
    out.push(field('malt', env.maltVersion))
    if (env.backend !== undefined) out.push(field('backend', env.backend))
    out.push(field('git', env.git ? `${env.git.commit}${env.git.dirty ? ' (uncommitted changes)' : ''}` : 'not a git repository'))
    out.push(field('lockfile', env.lockfile ? `${env.lockfile.path} sha256:${env.lockfile.sha256}` : 'none'))
  }
  out.push('best trial\n', e.best ? `  ${e.best.trialId} ${e.best.name}: ${e.metric} = ${formatNumber(e.best.value)} (${paramsText(e.best.params)})\n` : '  none yet\n')
  if (e.trials.length > 0) {
    const columns: Column[] = [{ header: 'ID' }, { header: 'NAME' }, { header: 'STATE' }, { header: e.metric.toUpperCase(), align: 'right' },
      { header: 'ATTEMPTS', align: 'right' }, { header: 'DURATION', align: 'right' }]
    const cells = e.trials.map((t) => [t.id, t.name, `${t.state}${t.earlyStopped ? ' (early)' : ''}${t.reused ? ' (reused)' : ''}`, formatNumber(t.value), String(t.attempts), formatDuration(t.durationMs)])
    out.push('trials\n', renderTable(columns, cells, '  '))
  }
  const failures = e.trials.flatMap((t) => t.failures.map((f) => ({ trial: t, failure: f })))
  if (failures.length > 0) {
    out.push('failures\n')
    for (const { trial, failure } of failures) {
      const where = failure.executor !== undefined ? ` on ${failure.executor}` : ''
      out.push(`  ${trial.id} ${trial.name} attempt ${failure.attempt}${where}: ${failure.reason}: ${failure.message.split('\n')[0]}\n`)
    }
  }
  if (resolved.recovered.length > 0) out.push(`(trials ${resolved.recovered.join(', ')} were read from their result.json: experiment.json lagged behind)\n`)
  io.stdout.write(out.join(''))
  return resolved
}

/** One row of `compare`: a trial and the value it is sorted by. */
export interface ComparedTrial {
  id: string
  name: string
  state: TrialRecord['state']
  value?: number
  params: TrialRecord['params']
  metrics: Record<string, number>
  attempts: number
  durationMs?: number
}

/** The trials sorted by `metric` in `direction`: trials with a value first, then the rest, failed ones last. */
export function sortTrials(trials: readonly TrialRecord[], metric: string, direction: Direction, searchMetric: string): ComparedTrial[] {
  const rows = trials.map((t): ComparedTrial => {
    const value = t.metrics[metric] ?? (metric === searchMetric ? t.value : undefined)
    return { id: t.id, name: t.name, state: t.state, ...(value !== undefined ? { value } : {}), params: t.params, metrics: t.metrics, attempts: t.attempts,
      ...(t.durationMs !== undefined ? { durationMs: t.durationMs } : {}) }
  })
  const group = (t: ComparedTrial) => (t.state === 'failed' ? 2 : t.value === undefined ? 1 : 0)
  return rows.sort((a, b) => {
    const byGroup = group(a) - group(b)
    if (byGroup !== 0) return byGroup
    if (a.value !== undefined && b.value !== undefined && a.value !== b.value) return direction === 'max' ? b.value - a.value : a.value - b.value
    return a.id.localeCompare(b.id, 'en', { numeric: true })
  })
}

/** `malt experiments compare ID`. */
export async function runCompare(ref: string, options: { home?: string; metric?: string; direction?: Direction; json?: boolean }, io: ExperimentsIo): Promise<ComparedTrial[]> {
  const { experiment: e } = await resolveExperiment(homeOf(options), ref)
  const metric = options.metric ?? e.metric
  const direction = options.direction ?? e.direction
  const metricNames = [...new Set([e.metric, ...e.trials.flatMap((t) => Object.keys(t.metrics))])]
  if (!metricNames.includes(metric)) {
    throw new MaltError('EXPERIMENT_UNKNOWN_METRIC', `--metric: experiment ${e.id} has no metric ${describeValue(metric)}; expected one of ${metricNames.join(', ')}`)
  }
  const paramNames = [...new Set(e.trials.flatMap((t) => Object.keys(t.params)))]
  const shownMetrics = [metric, ...metricNames.filter((name) => name !== metric && e.trials.some((t) => name in t.metrics))]
  const trials = sortTrials(e.trials, metric, direction, e.metric)
  if (options.json) {
    json(io, { id: e.id, name: e.name, metric, direction, params: paramNames, metrics: shownMetrics, trials })
    return trials
  }
  io.stdout.write(`experiment ${e.id} ${e.name}: ${trials.length} trials by ${metric} (${direction === 'max' ? 'highest' : 'lowest'} first)\n`)
  if (trials.length === 0) return trials
  const columns: Column[] = [
    { header: 'TRIAL' }, { header: 'STATE' },
    ...paramNames.map((name): Column => ({ header: name, align: 'right' })),
    ...shownMetrics.map((name): Column => ({ header: name === metric ? `${name} ${direction === 'max' ? '↓' : '↑'}` : name, align: 'right' })),
    { header: 'ATTEMPTS', align: 'right' }, { header: 'DURATION', align: 'right' },
  ]
  const cells = trials.map((t) => [
    t.id, t.state,
    ...paramNames.map((name) => formatParam(t.params[name])),
    ...shownMetrics.map((name) => formatNumber(name === metric ? t.value : t.metrics[name])),
    String(t.attempts), formatDuration(t.durationMs),
  ])
  io.stdout.write(renderTable(columns, cells))
  return trials
}

/** Adds `malt experiments` and its subcommands; `io` is where they print (tests pass their own). */
export function registerExperiments(program: Command, io: ExperimentsIo = process): Command {
  const experiments = program.command('experiments').description('list, inspect and compare the tracked experiment runs under MALT_HOME')
  withHome(experiments.command('list'))
    .description('one line per experiment: id, name, kind, state, trials done/total, best metric, start, duration')
    .option('--name <name>', 'only experiments with this name')
    .option('--state <state>', `only experiments in this state (${STATES.join(', ')})`, stateOption)
    .option('--limit <n>', 'only the latest N experiments', integerOption('--limit'))
    .option('--reindex', 'rebuild the index from the files under MALT_HOME first')
    .option('--json', 'print the rows as JSON')
    .action(async (options: Parameters<typeof runList>[0]) => {
      await runList(options, io)
    })
  withHome(experiments.command('show'))
    .description('an experiment: summary, environment, best trial, every trial with its state, value, attempts and failures')
    .argument('<id>', 'experiment id, <appId>/<runId>, or run directory')
    .option('--json', 'print experiment.json (with recovered trials) and environment.json as one JSON document')
    .action(async (ref: string, options: Parameters<typeof runShow>[1]) => {
      await runShow(ref, options, io)
    })
  withHome(experiments.command('compare'))
    .description("the trials as a table, one column per hyperparameter and final metric, sorted by the metric; failed trials last")
    .argument('<id>', 'experiment id, <appId>/<runId>, or run directory')
    .option('--metric <name>', "sort by this metric (default: the experiment's)")
    .option('--direction <dir>', "max or min (default: the experiment's)", directionOption)
    .option('--json', 'print the sorted trials as JSON')
    .action(async (ref: string, options: Parameters<typeof runCompare>[1]) => {
      await runCompare(ref, options, io)
    })
  return experiments
}
