// Finds a Python that has the anchor's modules (PyTorch, FastAPI…), for the benchmarks that
// measure Malt against a Python reference in the same run.
import { spawnSync } from 'node:child_process'

/** The first of $MALT_BENCH_PYTHON, python3, /usr/bin/python3, python that imports every module. */
export function findPython(modules: readonly string[]): string | undefined {
  const candidates = [process.env.MALT_BENCH_PYTHON, 'python3', '/usr/bin/python3', 'python'].filter((c): c is string => Boolean(c))
  return candidates.find((python) => spawnSync(python, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' }).status === 0)
}
