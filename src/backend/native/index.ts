// Public controls of the malt-native backend: threads, which kernels are native, call counts.
import { MaltError } from '../../errors.js'
import { MAX_THREADS, nativeState, type KernelCallCount } from './backend.js'

function requireNative(what: string) {
  const state = nativeState()
  if (!state) throw new MaltError('NATIVE_UNAVAILABLE', `${what}: the malt-native backend is not loaded (see malt doctor)`)
  return state
}

/** The native backend's controls; `available` is false until Malt has loaded it. */
export const nativeBackend = {
  get available(): boolean {
    return nativeState() !== undefined
  },
  /** Threads oneDNN and the native kernels use (default: every core; `MALT_NUM_THREADS` sets it). */
  get threads(): number {
    return requireNative('nativeBackend.threads').addon.getNumThreads()
  },
  setThreads(threads: number): void {
    if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
      throw new MaltError('BAD_THREADS', `nativeBackend.setThreads: threads must be an integer from 1 to ${MAX_THREADS}, got ${threads}`)
    }
    requireNative('nativeBackend.setThreads').addon.setNumThreads(threads)
  },
  /** oneDNN's version and threading runtime. */
  get versions(): { onednn: string; cpuRuntime: string } {
    return requireNative('nativeBackend.versions').addon.versions()
  },
  /** TF.js kernel names with a native implementation, sorted. */
  get kernels(): string[] {
    return [...(nativeState()?.kernels ?? [])]
  },
  /** Per kernel: calls served natively and calls that fell back to the CPU kernel. */
  callCounts(): Record<string, KernelCallCount> {
    const counts: Record<string, KernelCallCount> = {}
    for (const [name, count] of nativeState()?.calls ?? []) counts[name] = { ...count }
    return counts
  },
  resetCallCounts(): void {
    for (const count of nativeState()?.calls.values() ?? []) {
      count.native = 0
      count.fallback = 0
    }
  },
}
