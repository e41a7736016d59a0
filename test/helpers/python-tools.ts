// Finds the Python of the tools venv (.tools/venv) used as an independent reference (TensorBoard,
// Optuna); a test without it skips locally and fails in CI, saying how to create the venv.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'

/** The venv's python: an absolute path inside this repository. */
export const TOOLS_PYTHON = fileURLToPath(new URL('../../.tools/venv/bin/python', import.meta.url))

/** The command that creates the venv with every tool the tests use. */
export const CREATE_VENV = 'python3 -m venv .tools/venv && .tools/venv/bin/pip install -q tensorboard optuna onnx'

const found = new Map<string, string | undefined>()

/** `.tools/venv/bin/python` when it exists and can import `module`; otherwise undefined. */
export function toolsPython(module = 'tensorboard'): string | undefined {
  if (!found.has(module)) {
    const ok = existsSync(TOOLS_PYTHON) && spawnSync(TOOLS_PYTHON, ['-c', 'import importlib, sys; importlib.import_module(sys.argv[1])', module], { stdio: 'ignore', timeout: 60_000 }).status === 0
    found.set(module, ok ? TOOLS_PYTHON : undefined)
  }
  return found.get(module)
}

/**
 * The venv's python for `module`, or undefined after marking the test: skipped when run locally,
 * failed when `CI` is set (an independent check must not disappear silently there).
 */
export function requireToolsPython(t: TestContext, module = 'tensorboard'): string | undefined {
  const python = toolsPython(module)
  if (python) return python
  const message = `needs Python with ${module} in .tools/venv; create it with: ${CREATE_VENV}`
  if (process.env.CI) assert.fail(message)
  t.skip(message)
  return undefined
}
