// The backends Malt can run on, fastest first. Each loads lazily: tfjs-node is an optional
// package the user may have installed, and the native addon exists only once built.
import { createRequire } from 'node:module'
import { MaltError } from '../errors.js'
import { loadNativeAddon, NATIVE_FIX } from './native/addon.js'
import { registerNativeBackend, NATIVE_BACKEND_NAME } from './native/backend.js'
import type * as tfjs from '@tensorflow/tfjs'

/** The result of trying one candidate. */
export interface CandidateLoad {
  available: boolean
  reason: string
  /** A namespace that replaces `@tensorflow/tfjs` (tfjs-node's adds `tf.node`). */
  namespace?: typeof tfjs
  /** The package brings its own `file://` model IO handler. */
  hasFileHandler?: boolean
  /** When unavailable: what the user can do about it (said once when Malt falls back to the CPU). */
  fix?: string
}

/** One backend Malt may select. */
export interface BackendCandidate {
  provider: string
  backendName: string
  load(): Promise<CandidateLoad>
}

const require = createRequire(import.meta.url)

function isInstalled(packageName: string): boolean {
  try {
    require.resolve(`${packageName}/package.json`)
    return true
  } catch {
    return false
  }
}

const tfjsNode: BackendCandidate = {
  provider: '@tensorflow/tfjs-node',
  backendName: 'tensorflow',
  async load() {
    if (!isInstalled('@tensorflow/tfjs-node')) return { available: false, reason: 'not installed' }
    try {
      // A variable specifier keeps TypeScript from requiring the optional package's types.
      const specifier: string = '@tensorflow/tfjs-node'
      const namespace = (await import(specifier)) as typeof tfjs
      return { available: true, reason: 'installed', namespace, hasFileHandler: true }
    } catch (error) {
      return { available: false, reason: `installed but failed to load: ${(error as Error).message}` }
    }
  },
}

const maltNative: BackendCandidate = {
  provider: 'malt-native (oneDNN)',
  backendName: NATIVE_BACKEND_NAME,
  async load() {
    const loaded = loadNativeAddon()
    if (!loaded.addon) return { available: false, reason: loaded.reason, fix: NATIVE_FIX }
    let native: ReturnType<typeof registerNativeBackend>
    try {
      native = registerNativeBackend(loaded.addon)
    } catch (error) {
      // A bad MALT_NUM_THREADS is the user's setting: say so plainly rather than run slowly.
      if (error instanceof MaltError && error.code === 'BAD_THREADS') throw error
      // A stale build (older than this Malt): run on the CPU backend and say how to rebuild.
      return { available: false, reason: `addon failed to initialise: ${(error as Error).message}`, fix: 'npm rebuild malt (npm run build:native in a Malt checkout)' }
    }
    const { onednn } = loaded.addon.versions()
    const threads = loaded.addon.getNumThreads()
    return {
      available: true,
      reason: `oneDNN ${onednn}, ${threads} thread${threads === 1 ? '' : 's'}, ${native.kernels.length} native kernels`,
    }
  },
}

const cpu: BackendCandidate = {
  provider: '@tensorflow/tfjs-backend-cpu',
  backendName: 'cpu',
  async load() {
    return { available: true, reason: 'pure JavaScript, always available' }
  },
}

export const candidates: readonly BackendCandidate[] = [tfjsNode, maltNative, cpu]
