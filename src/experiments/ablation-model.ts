// What a trial of an ablation study works with: the study's plan, `ctx.ablation`, and the base
// model rebuilt without the left-out layers. Kept apart from the study's API (ablation.ts) so
// that executors load it without the driver's modules.
import type * as tfjs from '@tensorflow/tfjs'
import { MaltError } from '../errors.js'
import type { FunctionRef } from './records.js'

/** Builds the base model of a layer ablation (exported from a module, as training functions are). */
export type ModelBuilder = () => tfjs.LayersModel | Promise<tfjs.LayersModel>

/** What a trial of an ablation study gets as `ctx.ablation`. */
export interface AblationContext {
  /** What this trial leaves out: `none`, `feature:<name>` or `layer:<name>[+<name>…]`. */
  readonly component: string
  /** The features this trial uses (all given minus the left-out one), in the given order. */
  readonly features: readonly string[]
  /** The layers this trial leaves out (empty unless a layer trial). */
  readonly leftOutLayers: readonly string[]
  /**
   * The base model without the left-out layers, uncompiled. In a feature trial a model whose
   * input is a flat vector of every study feature gets one input fewer; `inputShape` sets it.
   */
  model(options?: { inputShape?: number[] }): Promise<tfjs.LayersModel>
}

/** The constant part of an ablation study, sent to every trial. */
export interface AblationPlan {
  features: string[]
  baseModel?: FunctionRef
}

/** The base model rebuilt from its Keras JSON without the named layers (tf.Sequential only). */
export async function withoutLayers(
  tf: typeof tfjs,
  model: tfjs.LayersModel,
  names: readonly string[],
  inputShape?: (batchInputShape: unknown) => (number | null)[] | undefined,
): Promise<tfjs.LayersModel> {
  type LayerJson = { class_name: string; config: Record<string, unknown> }
  const topology = model.toJSON(null, false) as unknown as { class_name: string; config: { layers?: LayerJson[] } & Record<string, unknown> }
  if (topology.class_name !== 'Sequential' || !Array.isArray(topology.config.layers)) {
    if (names.length === 0) return model // a feature trial of a functional model: nothing to rebuild
    throw new MaltError('EXPERIMENT_ABLATION_MODEL', `Layer ablation needs a tf.Sequential base model; received a ${topology.class_name}`)
  }
  const layers = topology.config.layers
  const known = new Set(layers.map((layer) => String(layer.config.name)))
  const missing = names.filter((name) => !known.has(name))
  if (missing.length > 0) {
    throw new MaltError('EXPERIMENT_ABLATION_MODEL', `The base model has no layer ${missing.map((name) => JSON.stringify(name)).join(', ')}; its layers are ${[...known].join(', ')}`)
  }
  const kept = layers.filter((layer) => !names.includes(String(layer.config.name)))
  if (kept.length === 0) throw new MaltError('EXPERIMENT_ABLATION_MODEL', `Leaving out ${names.join(', ')} leaves no layer in the model`)
  // The input shape lives on the first layer: carry it over when that layer is the one removed.
  const original = layers[0].config.batch_input_shape
  delete layers[0].config.batch_input_shape
  kept[0].config.batch_input_shape = inputShape?.(original) ?? original
  return tf.models.modelFromJSON({ modelTopology: { ...topology, config: { ...topology.config, layers: kept } } } as unknown as tfjs.io.ModelJSON)
}
