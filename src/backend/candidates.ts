// The backends Malt can run on, fastest first. Each loads lazily: tfjs-node is an optional
// package the user may have installed, and the native addon exists only once built.
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import type * as tfjs from '@tensorflow/tfjs'

/** The result of trying one candidate. */
export interface CandidateLoad {
  available: boolean
  reason: string
  /** A namespace that replaces `@tensorflow/tfjs` (tfjs-node's adds `tf.node`). */
  namespace?: typeof tfjs
  /** The package brings its own `file://` model IO handler. */
  hasFileHandler?: boolean
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

/** Where the native addon of the native-backend issue is built by `npm install`. */
export const nativeAddonPath = new URL('../../native/build/Release/malt_native.node', import.meta.url)

const maltNative: BackendCandidate = {
  provider: 'malt-native (oneDNN)',
  backendName: 'malt-native',
  async load() {
    if (!existsSync(nativeAddonPath)) {
      return { available: false, reason: 'addon not built (native kernels are not part of this version yet)' }
    }
    return { available: false, reason: 'addon present but no loader in this version' }
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
