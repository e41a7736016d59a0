// Native kernels: elementwise group (filled in by the native-backend work).
import type { NativeAddon } from '../addon.js'
import type { NativeKernelTable } from './types.js'

export function elementwiseKernels(_addon: NativeAddon): NativeKernelTable {
  return {}
}
