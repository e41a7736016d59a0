// Kernel threads for several processes on one machine: the cores shared out, as Ray and Horovod
// give each worker its share. Every process using every core oversubscribes the machine, and
// OpenMP's spinning threads then stall (measured: 1 s trials took 10–20 s with 2 executors × 2
// threads on 2 cores; 2 serving workers × 2 threads answered 5× fewer requests).
import { availableParallelism } from 'node:os'

/**
 * Environment for each of `processes` processes: MALT_NUM_THREADS and OMP_NUM_THREADS set to
 * cores / processes (at least 1). Empty when the user set MALT_NUM_THREADS: theirs wins.
 */
export function sharedThreadsEnv(processes: number): Record<string, string> {
  if (process.env.MALT_NUM_THREADS !== undefined) return {}
  const threads = String(Math.max(1, Math.floor(availableParallelism() / processes)))
  return { MALT_NUM_THREADS: threads, OMP_NUM_THREADS: threads }
}
