// Native kernels: reduce group (filled in by the native-backend work).
import type { NativeAddon } from '../addon.js'
import type { NativeKernelTable } from './types.js'

export function reduceKernels(_addon: NativeAddon): NativeKernelTable {
  return {}
}
