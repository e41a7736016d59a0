// The malt-native TF.js backend: the CPU backend (same typed-array tensor storage) with selected
// kernels replaced by oneDNN / C++ ones. Every CPU kernel is copied under the new backend name and
// a native kernel wraps it: the native path runs when it covers the case, else the CPU kernel does.
// Gradients are looked up by kernel name, so overridden kernels plug into autodiff unchanged.
import * as tfjs from '@tensorflow/tfjs'
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu'
import { MaltError } from '../../errors.js'
import type { NativeAddon } from './addon.js'
import { nativeKernelTable } from './kernels/index.js'
import { installFusedAdam, resolveAdamUpdate } from './adam.js'
import { installFusedReluGradient, registerReluGradCpuKernel } from './relu-grad.js'
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

/** Most threads accepted: more than any machine Malt runs on, few enough to start. */
export const MAX_THREADS = 1024

/** `MALT_NUM_THREADS` as a thread count, undefined when unset; a clear error when it is not one. */
export function threadSetting(env: NodeJS.ProcessEnv): number | undefined {
  const setting = env.MALT_NUM_THREADS
  if (setting === undefined || setting === '') return undefined
  const threads = Number(setting)
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new MaltError('BAD_THREADS', `MALT_NUM_THREADS must be an integer from 1 to ${MAX_THREADS}, got ${JSON.stringify(setting)}`)
  }
  return threads
}

/**
 * Registers the malt-native backend with TF.js once (later calls return the first result).
 * Must run after @tensorflow/tfjs has registered the CPU kernels, which importing it does.
 */
export function registerNativeBackend(addon: NativeAddon, env: NodeJS.ProcessEnv = process.env): NativeState {
  if (state) return state
  // Everything that can fail (a stale addon lacking a function, a bad setting) is checked before
  // anything is registered with TF.js, so a failure leaves no half-registered backend behind.
  const threads = threadSetting(env)
  const table = nativeKernelTable(addon)
  registerReluGradCpuKernel()
  const cpuKernelNames = new Set(tfjs.getKernelsForBackend('cpu').map((kernel) => kernel.kernelName))
  const missing = Object.keys(table).filter((name) => !cpuKernelNames.has(name))
  if (missing.length > 0) throw new Error(`native kernels without a CPU kernel to fall back to: ${missing.join(', ')}`)
  const adamUpdate = resolveAdamUpdate(addon)
  if (threads !== undefined) addon.setNumThreads(threads)
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
  installFusedAdam(adamUpdate, NATIVE_BACKEND_NAME)
  installFusedReluGradient(NATIVE_BACKEND_NAME)
  state = { addon, kernels: [...calls.keys()].sort(), calls }
  return state
}

/** The registered native backend, or undefined when the addon was not loaded. */
export function nativeState(): NativeState | undefined {
  return state
}
