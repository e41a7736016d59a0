// Starts `malt serve` as a user would (node bin/malt.js serve …, port 0) and waits until it
// listens; the tests then talk to it over real HTTP.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/malt.js', import.meta.url))
const root = fileURLToPath(new URL('../..', import.meta.url))

/** A running `malt serve`. */
export interface ServeProcess {
  /** e.g. http://127.0.0.1:41234 */
  url: string
  child: ChildProcess
  /** Everything printed so far. */
  stdout(): string
  stderr(): string
  /** SIGTERM, then the exit code (SIGKILL after 10 s). */
  stop(): Promise<number | null>
}

/** Runs `malt serve ARGS --port 0` and resolves when it prints its address. */
export function startServe(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ServeProcess> {
  if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test builds before testing)')
  }
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], {
    cwd: root,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`malt serve did not start within ${options.timeoutMs ?? 60_000} ms; stderr:\n${stderr}`))
    }, options.timeoutMs ?? 60_000)
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      const match = / on (https?:\/\/[^\s]+)/.exec(stderr)
      if (match) {
        clearTimeout(timer)
        resolve({
          url: match[1],
          child,
          stdout: () => stdout,
          stderr: () => stderr,
          async stop() {
            if (child.exitCode !== null) return child.exitCode
            child.kill('SIGTERM')
            const kill = setTimeout(() => child.kill('SIGKILL'), 10_000)
            const code = await exited
            clearTimeout(kill)
            return code
          },
        })
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`malt serve exited with ${code} before listening; stderr:\n${stderr}`))
    })
  })
}
