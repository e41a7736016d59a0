// Runs one trial attempt inside an executor process: imports the user's training function
// from its module, gives it a `ctx`, and turns what it returns into metrics and artifacts.
// The driver reaches this file as a task runner (src/cluster/types.ts).
import { copyFile, cp, mkdir, stat } from 'node:fs/promises'
import { basename, isAbsolute, join, resolve } from 'node:path'
import { MaltError, describeValue } from '../errors.js'
import type { JsonValue, TaskChannel } from '../cluster/types.js'
import { createTrialContext, type TrialContext } from './context.js'
import { awaitOfferedFunction } from './executor-hook.js'
import { encodeMetrics } from './metrics-wire.js'
import { withoutLayers, type AblationContext, type AblationPlan, type ModelBuilder } from './ablation-model.js'
import type { FunctionRef } from './records.js'
import { EventWriter, sessionEndSummary, sessionStartSummary } from './tensorboard/index.js'
import type { Params } from './types.js'

/** What the driver sends for one attempt. */
export interface TrialPayload {
  trialId: string
  trialName: string
  params: Params
  logdir: string
  trialDir: string
  attempt: number
  fn: FunctionRef
  /** Name a bare number returned (or reported) by the function is recorded under. */
  metricName: string
  /** Set in ablation studies. */
  ablation?: AblationPlan
}

/** What an attempt returns to the driver. */
export interface TrialOutput {
  metrics: Record<string, number>
  /** Paths relative to the trial dir. */
  artifacts: string[]
  /** The function returned after `ctx.shouldStop()` became true. */
  stopped: boolean
}

/** A training function: hyperparameters in, a metric or an object of metrics (and file paths) out. */
export type TrainingFunction<P extends Params = Params> = (
  params: P,
  ctx: TrialContext,
) => Promise<TrainingReturn> | TrainingReturn

/** What a training function may return: a number, or metrics plus file paths that become artifacts. */
export type TrainingReturn = number | Record<string, number | string | readonly string[]> | undefined | void

// Functions by `module#export`; a script's `experiment.*` call may also hand over others (baseModel).
const loadedFunctions = new Map<string, unknown>()

async function loadFunction(ref: FunctionRef): Promise<TrainingFunction> {
  const key = `${ref.module}#${ref.export}`
  let fn = loadedFunctions.get(key)
  if (fn === undefined) {
    // A script that also launches the search hands the function over from its `experiment.*` call.
    const offer = awaitOfferedFunction(ref.export)
    try {
      fn = await Promise.race([
        import(ref.module).then((module: Record<string, unknown>) => module[ref.export]),
        offer.offered.then(({ fn: offered, extras }) => {
          for (const extra of Object.values(extras)) {
            if (typeof extra === 'function' && extra.name) loadedFunctions.set(`${ref.module}#${extra.name}`, extra)
          }
          return offered
        }),
      ])
    } finally {
      offer.cancel()
    }
  }
  if (typeof fn !== 'function') {
    throw new MaltError(
      'EXPERIMENT_FUNCTION_NOT_FOUND',
      `The executor could not find export ${JSON.stringify(ref.export)} as a function in ${ref.module}; received ${describeValue(fn)}`,
    )
  }
  loadedFunctions.set(key, fn)
  return fn as TrainingFunction
}

/** The task runner: one trial attempt. */
export async function runTrial(payloadJson: JsonValue, channel: TaskChannel): Promise<JsonValue> {
  const payload = payloadJson as unknown as TrialPayload
  await mkdir(payload.logdir, { recursive: true })
  const events = await EventWriter.create(payload.logdir)
  events.writeSummary(sessionStartSummary({ params: payload.params, groupName: payload.trialName, startTimeMs: Date.now() }), 0)
  const handle = createTrialContext({
    ...payload,
    ablation: payload.ablation && ablationContext(payload.ablation, String(payload.params.ablated ?? 'none')),
    executorId: channel.executorId,
    events,
    send: (message) => channel.send(message as unknown as JsonValue),
  })
  channel.onMessage((message) => {
    if ((message as { type?: string } | null)?.type === 'stop') handle.stop()
  })
  let status: 'success' | 'failure' = 'failure'
  try {
    const fn = await loadFunction(payload.fn)
    const returned = await fn(payload.params, handle.ctx)
    const output = await collectOutput(returned, payload)
    output.stopped = handle.ctx.shouldStop()
    // The HParams dashboard reads a session's metrics from its scalars: record the final ones.
    events.scalars(handle.lastStep(), output.metrics)
    status = 'success'
    return { ...output, metrics: encodeMetrics(output.metrics) } as unknown as JsonValue
  } finally {
    events.writeSummary(sessionEndSummary({ status, endTimeMs: Date.now() }), 0)
    await handle.flush().finally(() => events.close())
  }
}

function ablationContext(plan: AblationPlan, component: string): AblationContext {
  const leftOutFeature = component.startsWith('feature:') ? component.slice('feature:'.length) : undefined
  const leftOutLayers = component.startsWith('layer:') ? component.slice('layer:'.length).split('+') : []
  return {
    component,
    features: plan.features.filter((name) => name !== leftOutFeature),
    leftOutLayers,
    async model(options = {}) {
      if (plan.baseModel === undefined) {
        throw new MaltError('EXPERIMENT_ABLATION_MODEL', 'ctx.ablation.model() needs the study\'s `baseModel` option (the exported function building the full model)')
      }
      const build = (await loadFunction(plan.baseModel)) as unknown as ModelBuilder
      const backend = await import('../backend/index.js')
      await backend.ready()
      const features = plan.features.length
      const reshape = (batchInputShape: unknown): (number | null)[] | undefined => {
        if (options.inputShape) return [null, ...options.inputShape]
        const shape = batchInputShape as (number | null)[] | undefined
        // A flat input of every study feature loses the left-out one.
        if (leftOutFeature !== undefined && shape?.length === 2 && shape[1] === features) return [null, features - 1]
        return undefined
      }
      return withoutLayers(backend.tf, await build(), leftOutLayers, reshape)
    },
  }
}

async function collectOutput(returned: TrainingReturn, payload: TrialPayload): Promise<TrialOutput> {
  const output: TrialOutput = { metrics: {}, artifacts: [], stopped: false }
  if (returned === undefined || returned === null) return output
  if (typeof returned === 'number') {
    output.metrics[payload.metricName] = returned
    return output
  }
  if (typeof returned !== 'object' || Array.isArray(returned)) {
    throw new MaltError(
      'EXPERIMENT_BAD_RETURN',
      `The training function must return a number or an object of metrics; received ${describeValue(returned)}`,
    )
  }
  for (const [key, value] of Object.entries(returned)) {
    if (typeof value === 'number') output.metrics[key] = value
    else if (typeof value === 'string') output.artifacts.push(await keepArtifact(value, key, payload.trialDir))
    else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      for (const path of value as string[]) output.artifacts.push(await keepArtifact(path, key, payload.trialDir))
    } else {
      throw new MaltError(
        'EXPERIMENT_BAD_RETURN',
        `The training function returned ${describeValue(value)} for ${JSON.stringify(key)}: ` +
          'expected a number (a metric) or a file path / list of file paths (artifacts)',
      )
    }
  }
  return output
}

/** Copies a returned file into the trial's `artifacts/` unless it already lies inside the trial dir. */
async function keepArtifact(path: string, key: string, trialDir: string): Promise<string> {
  const absolute = isAbsolute(path) ? path : resolve(path)
  const found = await stat(absolute).catch(() => undefined)
  if (found === undefined || !(found.isFile() || found.isDirectory())) {
    throw new MaltError(
      'EXPERIMENT_BAD_RETURN',
      `The training function returned ${JSON.stringify(path)} for ${JSON.stringify(key)}, which is neither a metric (number) nor an existing file or directory`,
    )
  }
  const root = resolve(trialDir)
  if (absolute.startsWith(`${root}/`)) return absolute.slice(root.length + 1)
  const target = join(trialDir, 'artifacts', basename(absolute))
  await mkdir(join(trialDir, 'artifacts'), { recursive: true })
  if (found.isDirectory()) await cp(absolute, target, { recursive: true })
  else await copyFile(absolute, target)
  return `artifacts/${basename(absolute)}`
}
