// `malt models export`: copies a trained model into a model repository as the model's next
// version, atomically (a hidden temporary directory renamed into place, so a server scanning
// the repository never sees half a version).
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, normalize, resolve } from 'node:path'
import { MaltError, describeValue } from '../errors.js'
import { isFile, pathExists } from '../util/files.js'
import { PIPELINE_FILE, planServing, readPipelineFile } from './pipeline.js'

const MODEL_JSON = 'model.json'
const MODEL_ONNX = 'model.onnx'
// Not ending in .tmp: the repository skips such directories as exports in progress.
const NAME = /^(?!.*\.tmp$)[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/

/** Options of {@link exportModel}. */
export interface ExportModelOptions {
  /** A model: a directory with model.json or model.onnx (a trial directory with model/ too), or the file itself. */
  source: string
  /** The repository root: the model goes to `<repository>/<name>/<version>/`. */
  repository: string
  name: string
  /** @defaultValue one above the newest version there */
  version?: number
  /**
   * A fitted pipeline JSON (Pipeline.save) the server runs on raw request columns before the model
   * (and whose label LabelIndexer maps the scores back to names); copied as `pipeline.json`.
   * @defaultValue none: requests carry the model's own inputs
   */
  pipeline?: string
}

/** Where a model was exported. */
export interface ExportedModel {
  name: string
  version: number
  dir: string
  /** The files copied, relative to `dir`. */
  files: string[]
}

/** The model files of `source`: model.json and its weight shards, or model.onnx. */
async function modelFiles(source: string): Promise<{ dir: string; files: string[] }> {
  const path = resolve(source)
  let info
  try {
    info = await stat(path)
  } catch {
    throw new MaltError('EXPORT_SOURCE_NOT_FOUND', `Model source ${describeValue(source)} does not exist`)
  }
  if (info.isFile()) {
    const name = basename(path)
    if (name === MODEL_ONNX || name.endsWith('.onnx')) return { dir: dirname(path), files: [name] }
    if (name.endsWith('.json')) return tfjsFiles(dirname(path), name)
    throw new MaltError('EXPORT_BAD_SOURCE', `Model source ${describeValue(source)} is neither a TF.js model.json nor an ONNX file`)
  }
  for (const dir of [path, join(path, 'model')]) {
    if (await isFile(join(dir, MODEL_JSON))) return tfjsFiles(dir, MODEL_JSON)
    if (await isFile(join(dir, MODEL_ONNX))) return { dir, files: [MODEL_ONNX] }
  }
  throw new MaltError('EXPORT_BAD_SOURCE', `${describeValue(source)} holds no model.json or model.onnx (nor a model/ directory with one, as a trial saves)`)
}

async function tfjsFiles(dir: string, jsonName: string): Promise<{ dir: string; files: string[] }> {
  const path = join(dir, jsonName)
  let manifest: unknown
  try {
    manifest = (JSON.parse(await readFile(path, 'utf8')) as { weightsManifest?: unknown }).weightsManifest
  } catch (error) {
    throw new MaltError('EXPORT_BAD_SOURCE', `${path} is not valid JSON: ${(error as Error).message}`, { location: { file: path } })
  }
  if (!Array.isArray(manifest)) throw new MaltError('EXPORT_BAD_SOURCE', `${path} has no weightsManifest: is it a TF.js model.json?`, { location: { file: path } })
  const shards = manifest.flatMap((group: unknown) => {
    const paths = group !== null && typeof group === 'object' ? (group as { paths?: unknown }).paths : undefined
    if (!Array.isArray(paths)) throw new MaltError('EXPORT_BAD_SOURCE', `${path}: each weightsManifest entry needs a list of paths; received ${describeValue(group)}`, { location: { file: path } })
    return paths as unknown[]
  })
  for (const shard of shards) {
    const relative = typeof shard === 'string' ? normalize(shard) : ''
    if (relative === '' || isAbsolute(relative) || relative.startsWith('..')) {
      throw new MaltError('EXPORT_BAD_SOURCE', `${path}: weight file ${describeValue(shard)} is not a path inside the model directory`, { location: { file: path } })
    }
    if (!(await isFile(join(dir, relative)))) throw new MaltError('EXPORT_BAD_SOURCE', `${path}: weight file ${relative} is missing`, { location: { file: path } })
  }
  return { dir, files: [jsonName, ...shards.map((shard) => normalize(shard as string))] }
}


/** The versions already in `<repository>/<name>/` (numeric directory names). */
export async function existingVersions(modelDir: string): Promise<number[]> {
  let names: string[]
  try {
    names = await readdir(modelDir)
  } catch {
    return []
  }
  return names.filter((name) => /^\d+$/.test(name)).map(Number)
}

/** Copies a model into the repository as a new version. */
export async function exportModel(options: ExportModelOptions): Promise<ExportedModel> {
  if (typeof options.name !== 'string' || !NAME.test(options.name)) {
    throw new MaltError('EXPORT_BAD_NAME', `Model name must be letters, digits, '_', '.', '-' (starting with a letter or digit, not ending in .tmp); received ${describeValue(options.name)}`)
  }
  if (options.version !== undefined && (!Number.isSafeInteger(options.version) || options.version < 1)) {
    throw new MaltError('EXPORT_BAD_VERSION', `Version must be a positive integer; received ${describeValue(options.version)}`)
  }
  const { dir: sourceDir, files } = await modelFiles(options.source)
  // Checked before anything is written: a pipeline the server could not plan would fail the version's load.
  if (options.pipeline !== undefined) planServing(await readPipelineFile(resolve(options.pipeline)), options.pipeline)
  const modelDir = join(resolve(options.repository), options.name)
  // The first directory mkdir created, if any: removed again when this export fails (an empty model dir is served as a model with no versions).
  const created = await mkdir(modelDir, { recursive: true })
  const servedName = (file: string, index: number): string => (index === 0 ? (file.endsWith('.onnx') ? MODEL_ONNX : MODEL_JSON) : file)
  // A temporary directory of its own (hidden from the server's scans), so concurrent exports never share one.
  const temporary = await mkdtemp(join(modelDir, '.export-'))
  try {
    for (const [index, file] of files.entries()) {
      await mkdir(dirname(join(temporary, servedName(file, index))), { recursive: true })
      await copyFile(join(sourceDir, file), join(temporary, servedName(file, index)))
    }
    if (options.pipeline !== undefined) await copyFile(resolve(options.pipeline), join(temporary, PIPELINE_FILE))
    for (let attempt = 0; ; attempt++) {
      const version = options.version ?? Math.max(0, ...(await existingVersions(modelDir))) + 1
      const target = join(modelDir, String(version))
      if (await pathExists(target)) {
        if (options.version !== undefined || attempt >= 10) throw versionExists(target)
        continue // Another export took this number since the scan: take the next one.
      }
      try {
        // rename refuses a non-empty target: an export that won the race keeps its version.
        await rename(temporary, target)
      } catch (error) {
        const code = (error as { code?: string }).code
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw error
        if (options.version !== undefined || attempt >= 10) throw versionExists(target)
        continue // Another export took this number: take the next one.
      }
      return { name: options.name, version, dir: target, files: [...files.map(servedName), ...(options.pipeline === undefined ? [] : [PIPELINE_FILE])] }
    }
  } catch (error) {
    await rm(temporary, { recursive: true, force: true })
    if (created !== undefined) await rmdir(modelDir).catch(() => undefined) // Only when still empty.
    throw error
  }
}

function versionExists(target: string): MaltError {
  return new MaltError('EXPORT_VERSION_EXISTS', `${target} already exists: versions are immutable; export as a new version`)
}
