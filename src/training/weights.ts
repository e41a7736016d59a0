// A model's weights as one flat Float32Array — what the trainers average, commit and pull — and
// the raw little-endian file form they travel in between the driver and the workers.
import { readFile } from 'node:fs/promises'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../backend/index.js'
import { MaltError } from '../errors.js'
import { writeFileAtomic } from '../storage/durable.js'

/** Element counts of the model's weights, in `getWeights()` order (trainable and not: batch-norm statistics travel too). */
export function weightSizes(model: tfjs.LayersModel): number[] {
  return model.weights.map((weight) => weight.shape.reduce<number>((product, size) => product * (size ?? 1), 1))
}

/** All of the model's weights, concatenated in `getWeights()` order. */
export function getFlatWeights(model: tfjs.LayersModel): Float32Array {
  const weights = model.getWeights()
  const flat = new Float32Array(weights.reduce((sum, weight) => sum + weight.size, 0))
  let offset = 0
  for (const weight of weights) {
    flat.set(weight.dataSync() as Float32Array, offset)
    offset += weight.size
  }
  return flat
}

/** Sets every weight of the model from a flat array made by {@link getFlatWeights} (same model topology). */
export function setFlatWeights(model: tfjs.LayersModel, flat: Float32Array): void {
  const sizes = weightSizes(model)
  const total = sizes.reduce((sum, size) => sum + size, 0)
  if (flat.length !== total) throw new MaltError('TRAIN_BAD_WEIGHTS', `expected ${total} weight values for this model, got ${flat.length}`)
  let offset = 0
  const tensors = model.weights.map((weight, i) => {
    const tensor = tf.tensor(flat.subarray(offset, offset + sizes[i]), weight.shape as number[], 'float32')
    offset += sizes[i]
    return tensor
  })
  model.setWeights(tensors)
  tf.dispose(tensors)
}

/** Writes a flat weight vector as raw little-endian float32, atomically. */
export async function writeWeightsFile(path: string, flat: Float32Array): Promise<void> {
  await writeFileAtomic(path, new Uint8Array(flat.buffer, flat.byteOffset, flat.byteLength))
}

/** Reads a file written by {@link writeWeightsFile}; `expected` checks the count. */
export async function readWeightsFile(path: string, expected?: number): Promise<Float32Array> {
  const bytes = await readFile(path)
  if (bytes.byteLength % 4 !== 0 || (expected !== undefined && bytes.byteLength !== expected * 4)) {
    throw new MaltError('TRAIN_BAD_WEIGHTS', `${path}: expected ${expected ?? 'a whole number of'} float32 values, the file has ${bytes.byteLength} bytes`, { location: { file: path } })
  }
  // A copy into an aligned buffer: Buffer pools may start at any byte offset.
  const flat = new Float32Array(bytes.byteLength / 4)
  new Uint8Array(flat.buffer).set(bytes)
  return flat
}
