// `file://` model IO for every backend, as tfjs-node has: `model.save('file://dir')` writes
// dir/model.json + dir/weights.bin, and `tf.loadLayersModel` / `tf.loadGraphModel` read
// `file://dir/model.json` with any number of weight shards. Paths go through `src/storage`.
import type * as tfjs from '@tensorflow/tfjs'
// Storage paths are URL-like (`/`-separated) on every scheme, hence posix joins.
import { posix } from 'node:path'
import { MaltError } from '../errors.js'
import { resolvePath } from '../storage/index.js'

type Tf = typeof tfjs
type ModelArtifacts = tfjs.io.ModelArtifacts
type ModelJSON = tfjs.io.ModelJSON
type WeightsManifestConfig = tfjs.io.WeightsManifestConfig

const { join, dirname, normalize, isAbsolute } = posix

const MODEL_JSON = 'model.json'
const WEIGHTS_BIN = 'weights.bin'

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

function joinWeightData(tf: Tf, data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0)
  return new Uint8Array(Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data)
}

/** Saves model artifacts to a directory: weights first, then model.json, each written atomically. */
function fileSaveHandler(tf: Tf, uri: string): tfjs.io.IOHandler {
  return {
    async save(artifacts: ModelArtifacts) {
      const { storage, path } = resolvePath(uri)
      const directory = path.endsWith(MODEL_JSON) ? dirname(path) : path
      await storage.mkdir(directory)
      const weights = joinWeightData(tf, artifacts.weightData)
      const manifest: WeightsManifestConfig = [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }]
      const modelJSON: ModelJSON = {
        modelTopology: artifacts.modelTopology as ModelJSON['modelTopology'],
        weightsManifest: manifest,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
      }
      if (artifacts.trainingConfig !== undefined) modelJSON.trainingConfig = artifacts.trainingConfig
      if (artifacts.signature !== undefined) modelJSON.signature = artifacts.signature
      if (artifacts.userDefinedMetadata !== undefined) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata
      if (artifacts.modelInitializer !== undefined) modelJSON.modelInitializer = artifacts.modelInitializer
      await storage.writeFile(join(directory, WEIGHTS_BIN), weights)
      await storage.writeFile(join(directory, MODEL_JSON), JSON.stringify(modelJSON))
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) }
    },
  }
}

/** Loads model.json (a path to it, or its directory) and every weight shard it lists. */
function fileLoadHandler(tf: Tf, uri: string): tfjs.io.IOHandler {
  return {
    async load() {
      const { storage, path } = resolvePath(uri)
      const jsonPath = (await storage.stat(path)).isDirectory ? join(path, MODEL_JSON) : path
      let modelJSON: ModelJSON
      try {
        modelJSON = JSON.parse(Buffer.from(await storage.readFile(jsonPath)).toString('utf8')) as ModelJSON
      } catch (error) {
        if (error instanceof MaltError) throw error
        throw new MaltError('MODEL_BAD_JSON', `${jsonPath} is not a valid model.json: ${(error as Error).message}`, {
          cause: error,
          location: { file: jsonPath },
        })
      }
      if (modelJSON.modelTopology === undefined && modelJSON.weightsManifest === undefined) {
        throw new MaltError('MODEL_BAD_JSON', `${jsonPath} has neither modelTopology nor weightsManifest; is it a TF.js model.json?`, {
          location: { file: jsonPath },
        })
      }
      const directory = dirname(jsonPath)
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = manifest.flatMap((group) => group.weights)
        const shards: ArrayBuffer[] = []
        for (const group of manifest) {
          for (const shard of group.paths) {
            // A weight path must stay inside the model directory: model.json may come from anyone.
            const relative = normalize(shard)
            if (isAbsolute(relative) || relative.startsWith('..')) {
              throw new MaltError('MODEL_BAD_WEIGHT_PATH', `${jsonPath}: weight file ${JSON.stringify(shard)} is outside the model directory`, {
                location: { file: jsonPath },
              })
            }
            shards.push(toArrayBuffer(await storage.readFile(join(directory, relative))))
          }
        }
        return [specs, tf.io.CompositeArrayBuffer.join(shards)]
      })
    },
  }
}

const registered = new WeakSet<object>()

/** Registers the `file://` save and load routers on a TF.js namespace (once per namespace). */
export function registerFileHandlers(tf: Tf): void {
  if (registered.has(tf.io)) return
  registered.add(tf.io)
  const matches = (url: string | string[]): url is string => typeof url === 'string' && url.startsWith('file://')
  // TF.js routers answer null for URLs they do not handle, though the IORouter type omits it.
  const notMine = null as unknown as tfjs.io.IOHandler
  tf.io.registerSaveRouter((url) => (matches(url) ? fileSaveHandler(tf, url) : notMine))
  tf.io.registerLoadRouter((url) => (matches(url) ? fileLoadHandler(tf, url) : notMine))
}
