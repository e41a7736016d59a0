// The model repository: the versions of every model under ROOT/<name>/<version>/, loaded and
// retired as TF Serving's ServerCore + AspiredVersionsManager do. A scan (every pollIntervalMs)
// finds the version directories; the version policy (+ the canary) says which are aspired; aspired
// versions are loaded, and a version no longer aspired is unloaded only once an aspired one is
// AVAILABLE (TF Serving's availability-preserving policy), after its last lease is released.
// A version that fails to load ends with its error and is retried only once its model file is replaced.
//
// Directories must appear whole: a version directory is considered only once it holds model.json
// or model.onnx, and names starting with "." or ending with ".tmp" are skipped, because
// `malt models export` (like TF Serving's exporters) writes `.export-<v>-<pid>.tmp` and renames it to `<v>`.
import type { Dirent } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { MaltError, describeValue } from '../errors.js'
import { parseServerConfig, type ServerConfigFile } from './config.js'
import { ServingError, type LoadedModel, type ModelConfig, type VersionState, type VersionStatus } from './types.js'

/** Options of {@link ModelRepository.open}. */
export interface ModelRepositoryOptions {
  /** The repository directory: `root/<model name>/<version>/`. */
  root: string
  /** Loads one version directory (the server passes runtimes/index.ts's loadModelVersion). */
  load: (dir: string) => Promise<LoadedModel>
  /** The config file's contents. @defaultValue `{ models: {} }`: every model serves its latest version, no batching */
  config?: ServerConfigFile
  /** How often to rescan `root` for new and removed versions, in ms; 0 = never. @defaultValue 1000 (TF Serving's file_system_poll_wait_seconds = 1) */
  pollIntervalMs?: number
  /** Called on every state change of a version (metrics, logs). @defaultValue none */
  onVersionState?: (name: string, status: VersionStatus) => void
  /** Where the repository says what it loads, unloads and ignores. @defaultValue silent */
  log?: (message: string) => void
}

/** One request's hold on a loaded version: the version stays loaded until `release()` (call it once, in `finally`). */
export interface ServableLease {
  readonly name: string
  readonly version: number
  readonly model: LoadedModel
  release(): void
}

const DEFAULT_POLL_INTERVAL_MS = 1000
/** A version directory is complete once one of these is in it. */
const MODEL_FILES = ['model.json', 'model.onnx']
const DEFAULT_POLICY = { latest: { numVersions: 1 } }

interface VersionEntry {
  readonly version: number
  readonly dir: string
  state: VersionState
  error?: { code: string; message: string }
  model?: LoadedModel
  leases: number
  /** Set when loading failed: the model file's identity then; the version is retried only once the file is replaced. */
  failedStamp?: string
}

interface ModelEntry {
  readonly name: string
  readonly dir: string
  /** The model directory was there at the last scan. */
  present: boolean
  /** Complete version directories at the last scan, newest first. */
  onDisk: number[]
  /** Per version on disk, its model file's identity (inode, size, mtime): a replaced file is a new export. */
  stamps: Map<number, string>
  readonly versions: Map<number, VersionEntry>
  /** Default requests so far: the canary split counts them. */
  defaultCalls: number
}

/** Temp names an exporter writes before its atomic rename. */
const isTempName = (name: string): boolean => name.startsWith('.') || name.endsWith('.tmp')
const byVersionDesc = (a: { version: number }, b: { version: number }): number => b.version - a.version

/**
 * The models of a repository directory and their versions. `open` does the first scan and loads;
 * `acquire` leases a version per request; scans every `pollIntervalMs` pick up new versions and
 * retire old ones without failing requests in flight.
 *
 * @example
 * const repository = await ModelRepository.open({ root: 'models', load: loadModelVersion })
 * const lease = repository.acquire('mnist')
 * try { await lease.model.predict(inputs) } finally { lease.release() }
 */
export class ModelRepository {
  private readonly models = new Map<string, ModelEntry>()
  private readonly configs: Map<string, ModelConfig>
  private readonly pollIntervalMs: number
  private readonly log: (message: string) => void
  private readonly logged = new Set<string>()
  private readonly loads = new Set<Promise<void>>()
  /** Scans and config changes run one at a time, in order. */
  private queue: Promise<void> = Promise.resolve()
  private timer?: NodeJS.Timeout
  private closing = false
  private closed?: Promise<void>
  private allEnded?: () => void

  private constructor(private readonly options: ModelRepositoryOptions) {
    const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS
    if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 0) {
      throw new MaltError('SERVING_BAD_OPTION', `pollIntervalMs: expected a number of milliseconds ≥ 0, received ${describeValue(pollIntervalMs)}`)
    }
    this.pollIntervalMs = pollIntervalMs
    const { models } = parseServerConfig(options.config ?? { models: {} }, 'the repository config')
    this.configs = new Map(Object.entries(models).map(([name, config]) => [name, deepFreeze(config)]))
    this.log = options.log ?? (() => undefined)
  }

  /** Scans `root` and resolves once every aspired version finished loading (AVAILABLE, or END with its error). */
  static async open(options: ModelRepositoryOptions): Promise<ModelRepository> {
    const repository = new ModelRepository(options)
    await repository.serial(() => repository.scan(true))
    repository.schedulePoll()
    return repository
  }

  /** Models whose directory is in the repository now, sorted. */
  modelNames(): string[] {
    return [...this.models.values()].filter((entry) => entry.present).map((entry) => entry.name).sort()
  }

  /** Every version known of the model, newest first (as TF Serving's GetModelStatus); ServingError 404 for an unknown model. */
  statuses(name: string): VersionStatus[] {
    const entry = this.models.get(name)
    if (!entry) throw new ServingError(404, 'SERVING_MODEL_NOT_FOUND', `Could not find any versions of model ${name}`)
    return [...entry.versions.values()].sort(byVersionDesc).map(statusOf)
  }

  /**
   * Leases a version for one request: `version`, a `label` (the config's labels), or neither: the newest
   * AVAILABLE version, or the canary for its share of calls. The canary split is counted, not random:
   * call n (from 0) goes to the canary when ⌊(n+1)·p/100⌋ > ⌊n·p/100⌋, so every 100 calls hold exactly p.
   * Throws ServingError: 404 for an unknown model or a version not served, 503 for a version still loading,
   * 400 for an unknown label (TF Serving: "Unrecognized servable version label").
   * `canary: false` leases the primary version without taking a turn of the split (metadata requests).
   */
  acquire(name: string, selector: { version?: number; label?: string; canary?: boolean } = {}): ServableLease {
    if (this.closing) throw new ServingError(503, 'SERVING_CLOSED', `The model server is shutting down; model ${name} is not served`)
    const { version, label } = selector
    if (version !== undefined && label !== undefined) {
      throw new ServingError(400, 'SERVING_BAD_SELECTOR', `Request for model ${name} names both version ${version} and label ${JSON.stringify(label)}; give one`)
    }
    const entry = this.models.get(name)
    if (label !== undefined) {
      const labelled = this.modelConfig(name).labels?.[label]
      if (labelled === undefined) throw new ServingError(400, 'SERVING_UNKNOWN_LABEL', `Unrecognized servable version label: ${label}`)
      return this.leaseSpecific(name, entry, labelled)
    }
    if (version !== undefined) {
      if (!Number.isSafeInteger(version) || version < 1) throw new ServingError(400, 'SERVING_BAD_VERSION', `Model ${name}: expected a positive integer version, received ${describeValue(version)}`)
      return this.leaseSpecific(name, entry, version)
    }
    return this.lease(name, this.defaultVersion(name, entry, selector.canary ?? true))
  }

  /** Replaces a model's config (e.g. a canary from the admin API) and applies it; resolves once the versions it aspires finished loading. */
  async setModelConfig(name: string, config: ModelConfig): Promise<void> {
    let parsed: ModelConfig
    try {
      parsed = parseServerConfig({ models: { [name]: config } }, `the config of model ${name}`).models[name]
    } catch (error) {
      if (error instanceof MaltError) throw new ServingError(400, error.code, error.message, { cause: error })
      throw error
    }
    const entry = this.models.get(name)
    this.checkLabels(name, entry, parsed.labels ?? {})
    const canary = parsed.canary?.version
    if (canary !== undefined && canary !== this.modelConfig(name).canary?.version && !entry?.onDisk.includes(canary)) {
      const found = entry?.onDisk.length ? `versions there: ${entry.onDisk.join(', ')}` : 'it has no versions'
      throw new ServingError(400, 'SERVING_BAD_CANARY', `Canary version ${canary} of model ${name}: no version directory ${join(this.options.root, name, String(canary))} (${found})`)
    }
    await this.serial(async () => {
      this.configs.set(name, deepFreeze(parsed))
      if (entry) {
        entry.defaultCalls = 0
        await this.reconcile(entry)
      }
    })
  }

  /** The model's config (frozen: change it with {@link setModelConfig}); `{}` (latest version, no batching) for a model the config does not list. */
  modelConfig(name: string): ModelConfig {
    return this.configs.get(name) ?? {}
  }

  /** Rescans `root` now; resolves once the versions it started loading finished. */
  async rescan(): Promise<void> {
    if (this.closing) return
    await this.serial(() => this.scan(false))
  }

  /** Stops polling, waits for loads and for every lease to be released, and disposes every model. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true
      clearTimeout(this.timer)
      this.timer = undefined
      await this.queue
      await Promise.all(this.loads)
      const ended = new Promise<void>((resolve) => (this.allEnded = resolve))
      for (const entry of this.models.values()) {
        for (const version of entry.versions.values()) if (version.state === 'AVAILABLE') this.unload(entry, version)
      }
      this.checkAllEnded()
      await ended
    })()
    return this.closed
  }

  // ---- Requests ----

  private leaseSpecific(name: string, entry: ModelEntry | undefined, version: number): ServableLease {
    const found = entry?.versions.get(version)
    const request = `Specific(${name}, ${version})`
    if (found?.state === 'START' || found?.state === 'LOADING') {
      throw new ServingError(503, 'SERVING_VERSION_LOADING', `Servable not available yet for request: ${request}: version ${version} is ${found.state}; retry shortly`)
    }
    if (found?.state !== 'AVAILABLE') throw new ServingError(404, 'SERVING_VERSION_NOT_FOUND', `Servable not found for request: ${request}`)
    return this.lease(name, found)
  }

  private defaultVersion(name: string, entry: ModelEntry | undefined, split: boolean): VersionEntry {
    const versions = entry ? [...entry.versions.values()].sort(byVersionDesc) : []
    const available = versions.filter((version) => version.state === 'AVAILABLE')
    if (available.length === 0) {
      const loading = versions.find((version) => version.state === 'START' || version.state === 'LOADING')
      if (loading) throw new ServingError(503, 'SERVING_VERSION_LOADING', `Servable not available yet for request: Latest(${name}): version ${loading.version} is ${loading.state}; retry shortly`)
      throw new ServingError(404, 'SERVING_MODEL_NOT_FOUND', `Servable not found for request: Latest(${name})`)
    }
    const canary = this.modelConfig(name).canary
    const canaryVersion = canary && available.find((version) => version.version === canary.version)
    const primary = available.find((version) => version.version !== canary?.version)
    if (!split || !canaryVersion || !primary) return primary ?? available[0]
    const n = (entry as ModelEntry).defaultCalls++
    return Math.floor(((n + 1) * canary.percent) / 100) > Math.floor((n * canary.percent) / 100) ? canaryVersion : primary
  }

  private lease(name: string, version: VersionEntry): ServableLease {
    const entry = this.models.get(name) as ModelEntry
    const model = version.model as LoadedModel
    version.leases += 1
    let released = false
    return {
      name,
      version: version.version,
      model,
      release: () => {
        if (released) return
        released = true
        version.leases -= 1
        if (version.leases === 0 && version.state === 'UNLOADING') void this.finishUnload(entry, version)
      },
    }
  }

  /** TF Serving (allow_version_labels_for_unavailable_models): a new label may name any version; moving a label needs an AVAILABLE version. */
  private checkLabels(name: string, entry: ModelEntry | undefined, labels: Record<string, number>): void {
    const current = this.modelConfig(name).labels ?? {}
    for (const [label, version] of Object.entries(labels)) {
      if (current[label] === undefined || current[label] === version) continue
      if (entry?.versions.get(version)?.state !== 'AVAILABLE') {
        throw new ServingError(400, 'SERVING_LABEL_UNAVAILABLE', `Request to assign label ${JSON.stringify(label)} to version ${version} of model ${name}, which is not currently available for inference`)
      }
    }
  }

  // ---- Scanning ----

  private serial(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task)
    this.queue = run.catch(() => undefined)
    return run
  }

  private schedulePoll(): void {
    if (this.pollIntervalMs === 0 || this.closing) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.rescan()
        .catch((error: unknown) => this.log(`model repository scan of ${this.options.root} failed: ${(error as Error).message}`))
        .finally(() => this.schedulePoll())
    }, this.pollIntervalMs)
  }

  private async scan(first: boolean): Promise<void> {
    const { root } = this.options
    let entries: Dirent[]
    try {
      entries = await readdir(root, { withFileTypes: true })
    } catch (error) {
      const problem = `Model repository ${root} cannot be read (expected a directory ${join(root, '<model name>', '<version>')}/): ${(error as Error).message}`
      if (first) throw new MaltError('SERVING_NO_REPOSITORY', problem, { cause: error, location: { file: root } })
      this.log(`${problem}; serving what is loaded`) // a transient failure must not unload every model
      return
    }
    const seen = new Set<string>()
    for (const dirent of entries) {
      if (isTempName(dirent.name) || !(await this.isDirectory(root, dirent))) continue
      const versions = await this.scanVersions(dirent.name)
      if (versions === 'gone') continue
      seen.add(dirent.name)
      if (versions === 'unreadable') continue // keep serving what is loaded
      let entry = this.models.get(dirent.name)
      if (!entry) {
        entry = { name: dirent.name, dir: join(root, dirent.name), present: true, onDisk: [], stamps: new Map(), versions: new Map(), defaultCalls: 0 }
        this.models.set(entry.name, entry)
        this.log(`model ${entry.name}: found, versions on disk: ${[...versions.keys()].join(', ') || 'none'}`)
      }
      entry.present = true
      entry.stamps = versions
      entry.onDisk = [...versions.keys()].sort((a, b) => b - a)
    }
    for (const entry of this.models.values()) {
      if (seen.has(entry.name) || !entry.present) continue
      this.log(`model ${entry.name}: its directory is gone; unloading its versions`)
      entry.present = false
      entry.stamps = new Map()
      entry.onDisk = []
    }
    await Promise.all([...this.models.values()].map((entry) => this.reconcile(entry)))
  }

  /** The complete version directories of a model with their stamps ('gone': removed since the root was listed). */
  private async scanVersions(name: string): Promise<Map<number, string> | 'gone' | 'unreadable'> {
    const dir = join(this.options.root, name)
    let entries: Dirent[]
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
      this.log(`model ${name}: ${dir} cannot be read: ${(error as Error).message}`)
      return 'unreadable'
    }
    const versions = new Map<number, string>()
    for (const dirent of entries) {
      if (isTempName(dirent.name)) continue
      const path = join(dir, dirent.name)
      const version = /^[1-9][0-9]*$/.test(dirent.name) ? Number(dirent.name) : Number.NaN
      if (!Number.isSafeInteger(version) || !(await this.isDirectory(dir, dirent))) {
        this.logOnce(path, `model ${name}: ignoring ${path} (a version is a directory named by a positive integer)`)
        continue
      }
      const stamp = await modelFileStamp(path)
      if (stamp !== undefined) versions.set(version, stamp)
      else this.logOnce(path, `model ${name}: ${path} has no ${MODEL_FILES.join(' or ')} yet; not loaded until it has (write a temp directory and rename it)`)
    }
    return versions
  }

  private async isDirectory(parent: string, dirent: Dirent): Promise<boolean> {
    if (dirent.isDirectory()) return true
    if (!dirent.isSymbolicLink()) return false
    return stat(join(parent, dirent.name)).then((info) => info.isDirectory(), () => false)
  }

  // ---- Loading and unloading ----

  /** The versions the policy and the canary ask for (the policy chooses among the others than the canary). */
  private aspired(entry: ModelEntry): Set<number> {
    if (!entry.present) return new Set()
    const config = this.modelConfig(entry.name)
    const canary = config.canary?.version
    const candidates = entry.onDisk.filter((version) => version !== canary)
    const policy = config.versionPolicy ?? DEFAULT_POLICY
    let chosen: number[]
    if ('latest' in policy) chosen = candidates.slice(0, policy.latest.numVersions)
    else if ('specific' in policy) chosen = candidates.filter((version) => policy.specific.versions.includes(version))
    else chosen = candidates
    if (canary !== undefined && entry.onDisk.includes(canary)) chosen.push(canary)
    return new Set(chosen)
  }

  /** Starts the loads and unloads that bring a model to its aspired versions; resolves when the loads settled. */
  private async reconcile(entry: ModelEntry): Promise<void> {
    if (this.closing) return
    const aspired = this.aspired(entry)
    const loads: Promise<void>[] = []
    for (const version of [...aspired].sort((a, b) => b - a)) {
      const known = entry.versions.get(version)
      if (known && (known.state !== 'END' || (known.failedStamp !== undefined && known.failedStamp === entry.stamps.get(version)))) continue
      loads.push(this.load(entry, version))
    }
    const available = [...entry.versions.values()].filter((version) => version.state === 'AVAILABLE')
    const aspiredAvailable = available.some((version) => aspired.has(version.version))
    const retiring = available.filter((version) => !aspired.has(version.version)).sort(byVersionDesc)
    // Availability first: while no aspired version is AVAILABLE, the newest retiring one keeps serving.
    for (const version of aspired.size === 0 || aspiredAvailable ? retiring : retiring.slice(1)) this.unload(entry, version)
    await Promise.all(loads)
  }

  private load(entry: ModelEntry, number: number): Promise<void> {
    const version: VersionEntry = { version: number, dir: join(entry.dir, String(number)), state: 'START', leases: 0 }
    const stamp = entry.stamps.get(number)
    entry.versions.set(number, version)
    this.emit(entry, version)
    const loading = (async () => {
      this.setState(entry, version, 'LOADING')
      try {
        const model = await this.options.load(version.dir)
        if (this.closing) {
          await model.dispose()
          this.setState(entry, version, 'END')
          return
        }
        version.model = model
        this.setState(entry, version, 'AVAILABLE')
        this.log(`model ${entry.name} version ${number}: AVAILABLE (${model.platform})`)
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        version.error = { code: error instanceof MaltError ? error.code : 'SERVING_LOAD_FAILED', message: message.includes(version.dir) ? message : `${version.dir}: ${message}` }
        version.failedStamp = stamp ?? ''
        this.setState(entry, version, 'END')
        this.log(`model ${entry.name} version ${number}: failed to load: ${version.error.message}`)
      }
      void this.reconcile(entry) // a newly AVAILABLE version retires the ones it replaces
    })()
    this.loads.add(loading)
    void loading.finally(() => this.loads.delete(loading))
    return loading
  }

  private unload(entry: ModelEntry, version: VersionEntry): void {
    this.setState(entry, version, 'UNLOADING')
    if (version.leases === 0) void this.finishUnload(entry, version)
  }

  private async finishUnload(entry: ModelEntry, version: VersionEntry): Promise<void> {
    const model = version.model
    version.model = undefined
    try {
      await model?.dispose()
    } catch (error) {
      this.log(`model ${entry.name} version ${version.version}: dispose failed: ${(error as Error).message}`)
    }
    this.setState(entry, version, 'END')
    this.log(`model ${entry.name} version ${version.version}: unloaded`)
    void this.reconcile(entry) // it may be aspired again meanwhile
  }

  private setState(entry: ModelEntry, version: VersionEntry, state: VersionState): void {
    version.state = state
    this.emit(entry, version)
  }

  private emit(entry: ModelEntry, version: VersionEntry): void {
    try {
      this.options.onVersionState?.(entry.name, statusOf(version))
    } catch (error) {
      this.log(`onVersionState threw for model ${entry.name} version ${version.version}: ${(error as Error).message}`)
    }
    if (this.closing) this.checkAllEnded()
  }

  private checkAllEnded(): void {
    if (!this.allEnded) return
    for (const entry of this.models.values()) for (const version of entry.versions.values()) if (version.state !== 'END') return
    this.allEnded()
  }

  private logOnce(key: string, message: string): void {
    if (this.logged.has(key)) return
    this.logged.add(key)
    this.log(message)
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) for (const inner of Object.values(value)) deepFreeze(inner)
  return Object.freeze(value)
}

function statusOf(version: VersionEntry): VersionStatus {
  return version.error ? { version: version.version, state: version.state, error: { ...version.error } } : { version: version.version, state: version.state }
}

/** The identity of the version's model file (inode, size, mtime), or undefined when it has none yet. */
async function modelFileStamp(dir: string): Promise<string | undefined> {
  for (const file of MODEL_FILES) {
    const info = await stat(join(dir, file)).catch(() => undefined)
    if (info?.isFile()) return `${file}:${info.ino}:${info.size}:${info.mtimeMs}`
  }
  return undefined
}
