// The one place that decides which TF.js backend Malt runs on. Everything else imports
// `tf` from here. Order: @tensorflow/tfjs-node when the user installed it, then Malt's
// native oneDNN kernels when built, else the pure-JavaScript CPU backend.
import * as tfjs from '@tensorflow/tfjs'
import { MaltError } from '../errors.js'
import { registerFileHandlers } from './file-io.js'
import { candidates, type BackendCandidate } from './candidates.js'

/** The TF.js namespace, on the selected backend once `ready()` has resolved. */
// A live binding: it becomes tfjs-node's namespace (a superset) when that package is used.
export let tf: typeof tfjs = tfjs

/** What was chosen and why the others were not. */
export interface BackendInfo {
  /** The TF.js backend name in use, e.g. `cpu`, `tensorflow`, `malt-native`. */
  name: string
  /** The candidate that won, e.g. `@tensorflow/tfjs-node`. */
  provider: string
  tfjsVersion: string
  /** Every candidate tried, with why it was or was not used. */
  tried: { provider: string; available: boolean; reason: string }[]
}

let selection: Promise<BackendInfo> | undefined

/**
 * Selects the fastest available backend once and returns what it chose. Safe to call many
 * times; later calls return the first result. `MALT_BACKEND=cpu` forces a candidate.
 */
export function ready(): Promise<BackendInfo> {
  selection ??= selectBackend(candidates, process.env.MALT_BACKEND)
  return selection
}

/** Tries `list` in order and switches TF.js to the first that loads (exported for tests). */
export async function selectBackend(
  list: readonly BackendCandidate[],
  forced: string | undefined,
  warn: (message: string) => void = (message) => process.stderr.write(`${message}\n`),
): Promise<BackendInfo> {
  const tried: BackendInfo['tried'] = []
  const fixes: string[] = []
  for (const candidate of list) {
    if (forced && candidate.backendName !== forced && candidate.provider !== forced) {
      tried.push({ provider: candidate.provider, available: false, reason: `skipped: MALT_BACKEND=${forced}` })
      continue
    }
    const loaded = await candidate.load()
    tried.push({ provider: candidate.provider, available: loaded.available, reason: loaded.reason })
    if (!loaded.available) {
      if (loaded.fix) fixes.push(`${candidate.provider}: ${loaded.reason}; to fix: ${loaded.fix}`)
      continue
    }
    if (loaded.namespace) tf = loaded.namespace
    const ok = await tf.setBackend(candidate.backendName)
    if (!ok) {
      tried[tried.length - 1] = { provider: candidate.provider, available: false, reason: 'setBackend failed' }
      continue
    }
    await tf.ready()
    if (tf.getBackend() === 'cpu' && !forced && fixes.length > 0) {
      // Said once per process (ready() selects once): training on the pure-JS kernels is
      // hundreds of times slower, and the user should know why and what fixes it.
      warn(`malt: running on the pure-JavaScript CPU backend, which is slow for training. ${fixes.join('. ')}`)
    }
    // The CPU backend prints a banner advising tfjs-node on its first tensor; Malt reports the
    // backend itself (`malt doctor`), and code switching to 'cpu' later (benchmarks, tests
    // comparing backends) would print it mid-run.
    const cpuBackend = tf.engine().registryFactory.cpu ? tf.findBackend('cpu') : null
    if (cpuBackend) (cpuBackend as unknown as { firstUse?: boolean }).firstUse = false
    // tfjs-node registers its own file:// handler; the other backends get Malt's.
    if (!loaded.hasFileHandler) registerFileHandlers(tf)
    return { name: tf.getBackend(), provider: candidate.provider, tfjsVersion: tf.version.tfjs, tried }
  }
  throw new MaltError('BACKEND_NONE', `No TF.js backend could be initialised: ${tried.map((t) => `${t.provider}: ${t.reason}`).join('; ')}`)
}
