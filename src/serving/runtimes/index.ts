// The model runtimes Malt serves with, and the one function that loads a version directory
// with whichever of them recognises its files.
import { readdir } from 'node:fs/promises'
import { MaltError, describeValue } from '../../errors.js'
import type { LoadedModel, ModelRuntime } from '../types.js'
import { withServingPipeline } from '../pipeline.js'
import { onnxRuntime } from './onnx.js'
import { tfjsRuntime } from './tfjs.js'

export { onnxRuntime } from './onnx.js'
export { tfjsRuntime } from './tfjs.js'

/** The runtimes tried, in order: a directory with both `model.json` and `model.onnx` is served by TF.js. */
export const defaultRuntimes: readonly ModelRuntime[] = [tfjsRuntime, onnxRuntime]

/** The file each built-in runtime looks for, for the "no model here" message. */
const LOOKS_FOR: ReadonlyMap<ModelRuntime, string> = new Map([
  [tfjsRuntime, 'model.json'],
  [onnxRuntime, 'model.onnx'],
])

/** What `dir` holds, for an error message: its entries, or why it cannot be listed. */
async function describeDir(dir: string): Promise<string> {
  try {
    const entries = await readdir(dir)
    return entries.length === 0 ? 'it is empty' : `it holds ${describeValue(entries.sort())}`
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : `it cannot be read (${(error as Error).message})`
  }
}

/**
 * Loads the model in a version directory with the first runtime that accepts it.
 *
 * @example
 * const model = await loadModelVersion('models/mnist/3')
 * const outputs = await model.predict(new Map([[model.inputs[0].name, tensor]]))
 */
export async function loadModelVersion(dir: string, runtimes: readonly ModelRuntime[] = defaultRuntimes): Promise<LoadedModel> {
  for (const runtime of runtimes) {
    if (!(await runtime.accepts(dir))) continue
    try {
      // A fitted data pipeline beside the model (pipeline.json) goes in front of it.
      return await withServingPipeline(dir, await runtime.load(dir))
    } catch (error) {
      if (error instanceof MaltError) throw error
      // A runtime's library failing on its own terms (TF.js on a model.json that is JSON but not a model).
      throw new MaltError('MODEL_LOAD_FAILED', `the ${runtime.name} runtime could not load the model in ${dir}: ${(error as Error).message}`, { cause: error, location: { file: dir } })
    }
  }
  const wanted = runtimes.map((runtime) => `${LOOKS_FOR.get(runtime) ?? 'its files'} (${runtime.name})`).join(' or ')
  throw new MaltError('MODEL_NOT_FOUND', `no model in ${dir}: expected ${wanted}; ${await describeDir(dir)}`, { location: { file: dir } })
}
