// Training functions of the parallel-efficiency benchmark (bench/search-parallel.ts): a fixed
// CPU-bound computation and an empty trial, exported so that executor processes can import them.
// This module imports nothing from Malt: an executor's start-up is Malt's trial runner, not the bench's.

/** Iterations of the busy loop in one block; a trial runs a whole number of blocks. */
export const ITERATIONS_PER_BLOCK = 1_000_000

/**
 * Pure-JS arithmetic that the JIT cannot fold away (xorshift32 feeding a square root), the
 * same instructions for every call: `blocks` × {@link ITERATIONS_PER_BLOCK} iterations.
 * Returns a checksum so the work is observable.
 */
export function busyWork(blocks: number): number {
  // A local copy: V8 reloads (and hole-checks) a module-level binding on every iteration, which made the loop 2× slower.
  const iterations = ITERATIONS_PER_BLOCK
  let state = 0x9e3779b9 | 0
  let sum = 0
  for (let block = 0; block < blocks; block++) {
    for (let i = 0; i < iterations; i++) {
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      sum += Math.sqrt((state >>> 0) + i)
    }
  }
  return sum
}

/** Milliseconds since the epoch with sub-millisecond precision, comparable across processes on one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now()
}

/**
 * The CPU-bound trial: `params.blocks` blocks of {@link busyWork}. Returns the in-function wall
 * time (`computeMs`), the CPU time this process got meanwhile (`cpuMs`: below `computeMs` when
 * something else shared the core), when the work started and ended, and when the executor
 * process started (all epoch ms: `performance.timeOrigin` is the process's start).
 */
export async function cpuTrial(params: Record<string, unknown>): Promise<Record<string, number>> {
  const startedAtMs = epochMs()
  const cpuBefore = process.cpuUsage()
  const checksum = busyWork(Number(params.blocks))
  const endedAtMs = epochMs()
  const cpu = process.cpuUsage(cpuBefore)
  return { computeMs: endedAtMs - startedAtMs, cpuMs: (cpu.user + cpu.system) / 1000, startedAtMs, endedAtMs, processStartMs: performance.timeOrigin, checksum }
}

/** The empty trial: returns at once, with when it ran (what is left of a trial is Malt's overhead). */
export async function emptyTrial(): Promise<Record<string, number>> {
  const startedAtMs = epochMs()
  return { computeMs: 0, startedAtMs, endedAtMs: startedAtMs, processStartMs: performance.timeOrigin }
}
