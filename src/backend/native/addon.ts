// Loads the malt-native N-API addon built from native/ by `npm install` (scripts/build-native.mjs).
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MaltError } from '../../errors.js'

/** The functions every build of the addon has; kernel groups look up their own by name. */
export interface NativeAddon {
  setNumThreads(threads: number): void
  getNumThreads(): number
  versions(): { onednn: string; cpuRuntime: string }
  readonly [name: string]: unknown
}

/** What a user runs to get the native kernels. */
export const NATIVE_FIX =
  'install oneDNN (Debian/Ubuntu: apt-get install libdnnl-dev), then npm rebuild malt (npm run build:native in a Malt checkout)'

/**
 * Where the addon is: `MALT_NATIVE_ADDON` when set (tests point it at a missing file to see the
 * CPU fallback), else native/build/Release under the package root. src/backend/native and
 * dist/backend/native are both three levels below the root, so one relative path serves both.
 */
export function nativeAddonPath(env: NodeJS.ProcessEnv = process.env): string {
  // resolve(): a relative setting means relative to the working directory, for existsSync and require alike.
  return env.MALT_NATIVE_ADDON ? resolve(env.MALT_NATIVE_ADDON) : fileURLToPath(new URL('../../../native/build/Release/malt_native.node', import.meta.url))
}

export type AddonLoad = { addon: NativeAddon; path: string } | { addon?: undefined; path: string; reason: string }

/** Loads the addon, or says why it could not (not built, or built but a library is missing). */
export function loadNativeAddon(path: string = nativeAddonPath()): AddonLoad {
  if (!existsSync(path)) return { path, reason: `addon not built (${path} missing)` }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon
    return { addon, path }
  } catch (error) {
    // Typically libdnnl.so.2 missing at run time: the runtime package was removed after the build.
    return { path, reason: `addon failed to load: ${(error as Error).message.split('\n')[0]}` }
  }
}

/** Looks up a kernel group's native function; a build older than the TypeScript is a clear error. */
export function nativeFunction<Fn>(addon: NativeAddon, name: string): Fn {
  const found = addon[name]
  if (typeof found !== 'function') {
    throw new MaltError('NATIVE_STALE', `The malt-native addon has no function ${name}: it is older than this Malt; run npm run build:native`)
  }
  return found as Fn
}
