// The hparams plugin's records, so that TensorBoard's HParams dashboard compares the trials of a
// search: the experiment (hyperparameters, metrics) in the run dir, a session start/end per trial.
import { MaltError, describeValue } from '../../errors.js'
import type { ParamValue, Params, SearchSpace } from '../types.js'
import { EventWriter, type SummaryValueInput } from './event-writer.js'
import { encodeMessage, tensorBoardSchemas } from './protos.js'

/** The plugin's name and the version of its data, as TensorBoard expects them. */
export const HPARAMS_PLUGIN_NAME = 'hparams'
export const HPARAMS_DATA_VERSION = 0
export const EXPERIMENT_TAG = '_hparams_/experiment'
export const SESSION_START_TAG = '_hparams_/session_start_info'
export const SESSION_END_TAG = '_hparams_/session_end_info'

/** The type of a hyperparameter's values: number → FLOAT64, string → STRING, boolean → BOOL. */
export type HparamType = 'number' | 'string' | 'boolean'

/** Where a hyperparameter's values lie: a list of values or a numeric interval. */
export type HparamDomain = { values: readonly ParamValue[] } | { min: number; max: number }

/** One hyperparameter of the experiment (`HParamInfo`). */
export interface HparamConfig {
  name: string
  /** Derived from the domain when absent; a domain of mixed types then leaves it unset. */
  type?: HparamType
  domain?: HparamDomain
  displayName?: string
  description?: string
}

/** One metric the dashboard shows per session (`MetricInfo`): a scalar tag of the trial's run. */
export interface MetricConfig {
  tag: string
  /** The sub-directory of the trial's run dir holding the tag. @defaultValue '' (the run itself) */
  group?: string
  displayName?: string
  description?: string
}

/** What {@link writeHparamsExperiment} records. */
export interface HparamsExperimentConfig {
  hparams: readonly HparamConfig[]
  metrics: readonly MetricConfig[]
  name?: string
  description?: string
  user?: string
  /** @defaultValue now */
  timeCreatedMs?: number
}

/** A trial's start (`SessionStartInfo`). */
export interface SessionStart {
  params: Params
  /** Sessions of one group are aggregated (repeats of one trial). @defaultValue '' (one group per session) */
  groupName?: string
  startTimeMs: number
}

/** A trial's end (`SessionEndInfo`). */
export interface SessionEnd {
  status: 'success' | 'failure' | 'running' | 'unknown'
  endTimeMs: number
}

/**
 * Where to write: an open writer, or a directory (a new `*.hparams` event file is created, written
 * and closed). For a trial, pass its open writer: TensorBoard (without `--reload_multifile`) polls
 * only the last event file of a directory, so a second file would stop the live scalar updates.
 */
export type HparamsTarget = string | EventWriter

const TYPE_NAMES: Record<HparamType, string> = { number: 'DATA_TYPE_FLOAT64', string: 'DATA_TYPE_STRING', boolean: 'DATA_TYPE_BOOL' }
const STATUS_NAMES: Record<SessionEnd['status'], string> = {
  success: 'STATUS_SUCCESS',
  failure: 'STATUS_FAILURE',
  running: 'STATUS_RUNNING',
  unknown: 'STATUS_UNKNOWN',
}

/** The `_hparams_/experiment` summary value, for {@link EventWriter.writeSummary}. */
export function experimentSummary(config: HparamsExperimentConfig): SummaryValueInput[] {
  if (!Array.isArray(config.hparams)) bad('hparams', 'a list', config.hparams)
  if (!Array.isArray(config.metrics)) bad('metrics', 'a list', config.metrics)
  if (config.timeCreatedMs !== undefined) checkTime('timeCreatedMs', config.timeCreatedMs)
  const experiment = {
    name: config.name ?? '',
    description: config.description ?? '',
    user: config.user ?? '',
    time_created_secs: (config.timeCreatedMs ?? Date.now()) / 1000,
    hparam_infos: config.hparams.map(hparamInfo),
    metric_infos: config.metrics.map(metricInfo),
  }
  return [hparamsSummaryValue(EXPERIMENT_TAG, { experiment })]
}

/** A trial's `_hparams_/session_start_info` summary value (its hyperparameter values). */
export function sessionStartSummary(start: SessionStart): SummaryValueInput[] {
  const hparams: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(start.params)) hparams[name] = protoValue(value, `params.${name}`)
  checkTime('startTimeMs', start.startTimeMs)
  const info = { hparams, group_name: start.groupName ?? '', start_time_secs: start.startTimeMs / 1000 }
  return [hparamsSummaryValue(SESSION_START_TAG, { session_start_info: info })]
}

/** A trial's `_hparams_/session_end_info` summary value (its status). */
export function sessionEndSummary(end: SessionEnd): SummaryValueInput[] {
  if (!Object.hasOwn(STATUS_NAMES, end.status)) bad('status', "'success', 'failure', 'running' or 'unknown'", end.status)
  checkTime('endTimeMs', end.endTimeMs)
  const info = { status: STATUS_NAMES[end.status], end_time_secs: end.endTimeMs / 1000 }
  return [hparamsSummaryValue(SESSION_END_TAG, { session_end_info: info })]
}

/**
 * Writes the experiment summary into `runDir` (the parent of the trials' dirs): the dashboard's
 * columns. Without it TensorBoard guesses them from the sessions.
 */
export async function writeHparamsExperiment(runDir: HparamsTarget, config: HparamsExperimentConfig): Promise<void> {
  await writeValues(runDir, experimentSummary(config))
}

/** Writes a trial's session start into its dir (or its open writer). */
export async function writeSessionStart(trialDir: HparamsTarget, start: SessionStart): Promise<void> {
  await writeValues(trialDir, sessionStartSummary(start))
}

/** Writes a trial's session end into its dir (or its open writer). */
export async function writeSessionEnd(trialDir: HparamsTarget, end: SessionEnd): Promise<void> {
  await writeValues(trialDir, sessionEndSummary(end))
}

/** The experiment's hyperparameters from a validated search space: ranges become intervals. */
export function hparamsFromSpace(space: SearchSpace): HparamConfig[] {
  return Object.entries(space).map(([name, spec]) =>
    spec.type === 'categorical' ? { name, domain: { values: spec.choices } } : { name, type: 'number', domain: { min: spec.min, max: spec.max } },
  )
}

/** The summary value carrying one piece of plugin data, as TensorBoard's own hparams API writes it. */
export function hparamsSummaryValue(tag: string, data: Record<string, unknown>): SummaryValueInput {
  const content = encodeMessage(tensorBoardSchemas.hparamsPluginData, { version: HPARAMS_DATA_VERSION, ...data })
  // An empty float tensor: TensorBoard's loaders keep only values that hold data.
  return { tag, metadata: { pluginName: HPARAMS_PLUGIN_NAME, content }, tensor: { dtype: 'float32', shape: [0], values: [] } }
}

/** Step 0, as TensorBoard's own hparams API writes these records. */
async function writeValues(target: HparamsTarget, values: SummaryValueInput[]): Promise<void> {
  if (target instanceof EventWriter) {
    target.writeSummary(values, 0)
    await target.flush()
    return
  }
  const writer = await EventWriter.create(target, { filenameSuffix: '.hparams' })
  try {
    writer.writeSummary(values, 0)
  } finally {
    await writer.close()
  }
}

function hparamInfo(config: HparamConfig, index: number): Record<string, unknown> {
  const at = `hparams[${index}]`
  if (typeof config.name !== 'string' || config.name === '') bad(`${at}.name`, 'a non-empty string', config.name)
  if (config.type !== undefined && !Object.hasOwn(TYPE_NAMES, config.type)) bad(`${at}.type (${config.name})`, "'number', 'string' or 'boolean'", config.type)
  const info: Record<string, unknown> = { name: config.name, display_name: config.displayName ?? '', description: config.description ?? '' }
  let type = config.type
  const domain = config.domain
  if (domain !== undefined && 'values' in domain) {
    if (!Array.isArray(domain.values) || domain.values.length === 0) bad(`${at}.domain.values (${config.name})`, 'a non-empty list', domain.values)
    const values = domain.values.map((v, i) => protoValue(v, `${at}.domain.values[${i}]`))
    const kinds = new Set(domain.values.map((v) => typeof v as HparamType))
    if (type === undefined && kinds.size === 1) type = [...kinds][0]
    else if (type !== undefined && (kinds.size > 1 || !kinds.has(type))) bad(`${at}.domain.values (${config.name})`, `values of type ${type}`, domain.values)
    info.domain_discrete = { values }
  } else if (domain !== undefined) {
    const { min, max } = domain
    if (typeof min !== 'number' || typeof max !== 'number' || Number.isNaN(min) || Number.isNaN(max) || min > max) {
      bad(`${at}.domain (${config.name})`, '{ min, max } numbers with min <= max', domain)
    }
    if (type !== undefined && type !== 'number') bad(`${at}.type (${config.name})`, "'number' for an interval domain", type)
    type = 'number'
    info.domain_interval = { min_value: min, max_value: max }
  }
  if (type !== undefined) info.type = TYPE_NAMES[type]
  return info
}

function metricInfo(config: MetricConfig, index: number): Record<string, unknown> {
  if (typeof config.tag !== 'string' || config.tag === '') bad(`metrics[${index}].tag`, 'a non-empty string', config.tag)
  return {
    name: { group: config.group ?? '', tag: config.tag },
    display_name: config.displayName ?? '',
    description: config.description ?? '',
  }
}

/** A hyperparameter value as google.protobuf.Value. */
function protoValue(value: ParamValue, field: string): Record<string, unknown> {
  if (typeof value === 'number') return { number_value: value }
  if (typeof value === 'string') return { string_value: value }
  if (typeof value === 'boolean') return { bool_value: value }
  return bad(field, 'a number, string or boolean', value)
}

function checkTime(field: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) bad(field, 'a finite number of milliseconds since the epoch', ms)
}

function bad(field: string, expected: string, received: unknown): never {
  throw new MaltError('TENSORBOARD_BAD_ARGUMENT', `hparams: expected ${field} to be ${expected}, received ${describeValue(received)}`, { location: { field } })
}
