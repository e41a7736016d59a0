// The malt-native TF.js backend: the CPU backend (same typed-array tensor storage) with selected
// kernels replaced by oneDNN / C++ ones. Every CPU kernel is copied under the new backend name and
// a native kernel wraps it: the native path runs when it covers the case, else the CPU kernel does.
// Gradients are looked up by kernel name, so overridden kernels plug into autodiff unchanged.
import * as tfjs from '@tensorflow/tfjs'
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'
import { MaltError } from '../../errors.js'
import type { NativeAddon } from './addon.js'
import { nativeKernelTable } from './kernels/index.js'
import { installFusedAdam } from './adam.js'
import { bufferPool, type FloatBufferPool } from './buffer-pool.js'
import type { NativeKernelArgs } from './kernels/types.js'

export const NATIVE_BACKEND_NAME = 'malt-native'

/** How often a native kernel ran natively and how often it fell back to the CPU kernel. */
export interface KernelCallCount {
  native: number
  fallback: number
}

interface NativeState {
  addon: NativeAddon
  kernels: string[]
  calls: Map<string, KernelCallCount>
}

let state: NativeState | undefined

type DataStorage = MathBackendCPU['data']
type DataId = Parameters<DataStorage['get']>[0]
type TensorData = ReturnType<DataStorage['get']>

/**
 * The CPU backend plus output-array recycling (buffer-pool.ts): every data entry set or deleted
 * is reported to the pool as a holder of its buffer, and values read out of the backend are
 * marked as escaped so they are never recycled.
 */
class NativeBackend extends MathBackendCPU {
  constructor(private readonly pool: FloatBufferPool) {
    super()
    // The CPU backend's first-use banner recommends tfjs-node; it is wrong advice here.
    ;(this as unknown as { firstUse: boolean }).firstUse = false
    const data = this.data
    const set = data.set.bind(data)
    const remove = data.delete.bind(data)
    data.set = (dataId: DataId, value: TensorData) => {
      if (data.has(dataId)) pool.drop(data.get(dataId).values)
      pool.hold(value.values)
      set(dataId, value)
    }
    data.delete = (dataId: DataId) => {
      if (data.has(dataId)) pool.drop(data.get(dataId).values)
      return remove(dataId)
    }
  }

  // read() and bufferSync() go through readSync.
  override readSync(dataId: DataId) {
    if (this.data.has(dataId)) this.pool.escape(this.data.get(dataId).values)
    return super.readSync(dataId)
  }
}

/** Applies `MALT_NUM_THREADS` (a positive integer) or leaves oneDNN's default: every core. */
function applyThreadSetting(addon: NativeAddon, env: NodeJS.ProcessEnv): void {
  const setting = env.MALT_NUM_THREADS
  if (setting === undefined || setting === '') return
  const threads = Number(setting)
  if (!Number.isInteger(threads) || threads < 1) {
    throw new MaltError('BAD_THREADS', `MALT_NUM_THREADS must be a positive integer, got ${JSON.stringify(setting)}`)
  }
  addon.setNumThreads(threads)
}

/**
 * Registers the malt-native backend with TF.js once (later calls return the first result).
 * Must run after @tensorflow/tfjs has registered the CPU kernels, which importing it does.
 */
export function registerNativeBackend(addon: NativeAddon, env: NodeJS.ProcessEnv = process.env): NativeState {
  if (state) return state
  applyThreadSetting(addon, env)
  const table = nativeKernelTable(addon)
  const calls = new Map<string, KernelCallCount>()
  tfjs.registerBackend(
    NATIVE_BACKEND_NAME,
    () => new NativeBackend(bufferPool),
    // Priority below the CPU backend's: TF.js must not pick it on its own before Malt selects it.
    0,
  )
  for (const cpuKernel of tfjs.getKernelsForBackend('cpu')) {
    const native = table[cpuKernel.kernelName]
    let kernelFunc = cpuKernel.kernelFunc
    if (native) {
      const count: KernelCallCount = { native: 0, fallback: 0 }
      calls.set(cpuKernel.kernelName, count)
      const cpuFunc = cpuKernel.kernelFunc
      kernelFunc = (args) => {
        const out = native(args as unknown as NativeKernelArgs)
        if (out !== null) {
          count.native++
          return out
        }
        count.fallback++
        return cpuFunc(args)
      }
    }
    tfjs.registerKernel({ ...cpuKernel, backendName: NATIVE_BACKEND_NAME, kernelFunc })
  }
  const missing = Object.keys(table).filter((name) => !calls.has(name))
  if (missing.length > 0) throw new Error(`native kernels without a CPU kernel to fall back to: ${missing.join(', ')}`)
  installFusedAdam(addon, NATIVE_BACKEND_NAME)
  state = { addon, kernels: [...calls.keys()].sort(), calls }
  return state
}

/** The registered native backend, or undefined when the addon was not loaded. */
export function nativeState(): NativeState | undefined {
  return state
}
