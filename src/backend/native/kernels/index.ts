// Every native kernel group; the backend registers the union of their tables.
import type { NativeAddon } from '../addon.js'
import type { NativeKernelGroup, NativeKernelTable } from './types.js'
import { convKernels } from './conv.js'
import { poolKernels } from './pool.js'
import { matMulKernels } from './matmul.js'
import { elementwiseKernels } from './elementwise.js'
import { reduceKernels } from './reduce.js'
import { normKernels } from './norm.js'
import { gatherKernels } from './gather.js'

const groups: NativeKernelGroup[] = [convKernels, poolKernels, matMulKernels, elementwiseKernels, reduceKernels, normKernels, gatherKernels]

/** The native kernels this build of the addon provides, keyed by TF.js kernel name. */
export function nativeKernelTable(addon: NativeAddon): NativeKernelTable {
  const table: NativeKernelTable = {}
  for (const group of groups) {
    for (const [name, kernel] of Object.entries(group(addon))) {
      if (table[name]) throw new Error(`native kernel ${name} is defined by two groups`)
      table[name] = kernel
    }
  }
  return table
}
