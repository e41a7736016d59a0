// Ablation studies as Maggy runs them (leave one component out): one trial with everything,
// then one trial per left-out feature and per left-out layer (or group of layers), each
// reporting the metric's change against the full model.
import { MaltError, describeValue } from '../errors.js'
import { FixedList } from './algorithms/fixed-list.js'
import { inExecutor, offerFromExecutor } from './executor-hook.js'
import { resolveFunctionRef } from './locate.js'
import { SKIPPED_IN_EXECUTOR, runExperiment, storable, validateOptions, type ExperimentOptions, type ExperimentResult } from './session.js'
import type { FunctionRef } from './records.js'
import type { Params } from './types.js'
import type { AblationPlan, ModelBuilder } from './ablation-model.js'

export type { AblationContext, AblationPlan, ModelBuilder } from './ablation-model.js'

/** Options of {@link ablation}. */
export interface AblationOptions extends ExperimentOptions {
  /** Feature (column) names; one trial leaves out each. */
  features?: string[]
  /** Layer names, or groups of names removed together; one trial leaves out each. Needs `baseModel`. */
  layers?: (string | string[])[]
  /** The model with every layer; `ctx.ablation.model()` returns it without the left-out layers. */
  baseModel?: ModelBuilder | FunctionRef
}

/** One component's effect: `delta` is the trial's metric minus the full model's. */
export interface AblationEntry {
  /** `none` (the full model), `feature:<name>` or `layer:<name>[+<name>…]`. */
  component: string
  trialId: string
  state: string
  value?: number
  delta?: number
}

/** An ablation study's result: the experiment, and the components by their effect. */
export interface AblationResult extends ExperimentResult {
  /** The full model first, then components from the most harmful to leave out to the least. */
  ablation: AblationEntry[]
}

function checkNames(option: string, values: unknown): string[] {
  if (values === undefined) return []
  if (!Array.isArray(values)) throw new MaltError('EXPERIMENT_BAD_OPTION', `ablation option ${option}: expected a list of names; received ${describeValue(values)}`)
  const names = values.flat()
  for (const name of names) {
    if (typeof name !== 'string' || name === '' || name.includes('+')) {
      throw new MaltError('EXPERIMENT_BAD_OPTION', `ablation option ${option}: expected non-empty names without '+'; received ${describeValue(name)}`)
    }
  }
  if (new Set(names).size !== names.length) throw new MaltError('EXPERIMENT_BAD_OPTION', `ablation option ${option}: a name is listed twice in ${describeValue(values)}`)
  return names as string[]
}

/**
 * Runs a leave-one-component-out study. Trials receive `{ ablated: 'none' | 'feature:x' | 'layer:y' }`
 * and `ctx.ablation` (the features to use, and the base model without the left-out layers).
 * @example await experiment.ablation(train, { features: ['age', 'fare'], layers: ['dense_2'], baseModel: buildModel, metric: 'accuracy' })
 */
export async function ablation(fn: ((params: never, ctx: never) => unknown) | FunctionRef, options: AblationOptions): Promise<AblationResult> {
  if (inExecutor()) return offerFromExecutor(fn, 'ablation', { ...SKIPPED_IN_EXECUTOR, ablation: [] }, { baseModel: options?.baseModel })
  validateOptions(options)
  const features = checkNames('features', options.features)
  checkNames('layers', options.layers)
  const layerGroups = (options.layers ?? []).map((entry) => (Array.isArray(entry) ? entry : [entry]))
  if (features.length === 0 && layerGroups.length === 0) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', 'ablation: give `features` and/or `layers` to leave out (received neither)')
  }
  if (layerGroups.length > 0 && options.baseModel === undefined) {
    throw new MaltError('EXPERIMENT_BAD_OPTION', 'ablation: `layers` needs `baseModel`, the exported function that builds the full model')
  }
  const runs = ablationRuns(features, layerGroups)
  const plan: AblationPlan = { features, baseModel: options.baseModel === undefined ? undefined : await resolveFunctionRef(options.baseModel) }
  const { features: _features, layers: _layers, baseModel: _baseModel, ...rest } = options
  const result = await runExperiment(
    {
      kind: 'ablation',
      fn: await resolveFunctionRef(fn),
      algorithm: new FixedList(runs),
      space: { features, layers: layerGroups },
      storedOptions: { ...storable(rest), features, layers: layerGroups, baseModel: plan.baseModel },
      expectedTrials: runs.length,
      ablation: plan,
    },
    rest,
  )
  return { ...result, ablation: ablationTable(result) }
}

/** The trials of a study: the full model, then one per left-out feature and layer group. */
export function ablationRuns(features: readonly string[], layerGroups: readonly (readonly string[])[]): Params[] {
  return [
    { ablated: 'none' },
    ...features.map((name) => ({ ablated: `feature:${name}` })),
    ...layerGroups.map((group) => ({ ablated: `layer:${group.join('+')}` })),
  ]
}

/** Each component's metric against the full model's, most harmful removal first. */
export function ablationTable(result: ExperimentResult): AblationEntry[] {
  const base = result.trials.find((trial) => trial.params.ablated === 'none')
  const entries = result.trials.map((trial): AblationEntry => {
    const delta = trial.value !== undefined && base?.value !== undefined ? trial.value - base.value : undefined
    return { component: String(trial.params.ablated), trialId: trial.id, state: trial.state, value: trial.value, delta }
  })
  const sign = result.direction === 'max' ? 1 : -1
  // Leaving out an important component makes the metric worse: most negative improvement first.
  const rank = (entry: AblationEntry): number => (entry.delta === undefined ? Infinity : sign * entry.delta)
  return [entries[0], ...entries.slice(1).sort((a, b) => rank(a) - rank(b))].filter((entry) => entry !== undefined)
}
