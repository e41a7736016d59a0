// What a run records about where it ran (`environment.json`): Node, the machine, Malt's version,
// the lockfile's hash and the git commit, so that a result can be traced back to its code.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { arch, cpus, hostname, platform } from 'node:os'
import { dirname, join, resolve } from 'node:path'

/** `environment.json` of a run. */
export interface EnvironmentRecord {
  /** When it was captured (ISO 8601). */
  capturedAt: string
  /** `process.version`, e.g. `v20.19.0`. */
  node: string
  platform: string
  arch: string
  /** Logical CPUs, and the first one's model name. */
  cpus: { count: number; model?: string }
  hostname: string
  /** The version of Malt that ran the experiment. */
  maltVersion: string
  /** The nearest `package-lock.json` from the working directory up; absent when there is none. */
  lockfile?: { path: string; sha256: string }
  /** The git commit of the working directory; absent outside a repository or without git. */
  git?: { commit: string; dirty: boolean }
  /** The TF.js backend the driver uses, when the caller knows it (e.g. `malt-native`). */
  backend?: string
  /** The driver's working directory. */
  cwd: string
}

/** Options of {@link captureEnvironment}. */
export interface CaptureEnvironmentOptions {
  /** Directory the lockfile and git are looked up from. @defaultValue process.cwd() */
  cwd?: string
  /** The TF.js backend name to record. @defaultValue not recorded */
  backend?: string
  /** How long git may take before it is given up on. @defaultValue 5000 ms */
  gitTimeoutMs?: number
}

let cachedVersion: string | undefined

/** Malt's own version, from its package.json (this file is three levels below it in src/ and dist/). */
export function maltVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  return cachedVersion
}

/** The nearest `package-lock.json` at or above `from`, or undefined. */
export async function findLockfile(from: string): Promise<{ path: string; sha256: string } | undefined> {
  let dir = resolve(from)
  for (;;) {
    const path = join(dir, 'package-lock.json')
    try {
      const bytes = await readFile(path)
      return { path, sha256: createHash('sha256').update(bytes).digest('hex') }
    } catch {
      // not here: look one level up
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

function git(args: string[], cwd: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((done) => {
    // A missing git binary, a directory outside any repository and a slow file system all mean "unknown".
    execFile('git', args, { cwd, timeout: timeoutMs, windowsHide: true }, (error, stdout) => done(error ? undefined : stdout))
  })
}

/** The commit and dirty flag of the repository containing `cwd`, or undefined. */
export async function gitState(cwd: string, timeoutMs = 5000): Promise<{ commit: string; dirty: boolean } | undefined> {
  const commit = (await git(['rev-parse', 'HEAD'], cwd, timeoutMs))?.trim()
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit)) return undefined
  const status = await git(['status', '--porcelain', '--untracked-files=no'], cwd, timeoutMs)
  return { commit, dirty: status === undefined ? true : status.trim() !== '' }
}

/** Describes this process's environment (nothing is written). */
export async function captureEnvironment(options: CaptureEnvironmentOptions = {}): Promise<EnvironmentRecord> {
  const cwd = resolve(options.cwd ?? process.cwd())
  const [lockfile, gitInfo] = await Promise.all([findLockfile(cwd), gitState(cwd, options.gitTimeoutMs ?? 5000)])
  const cpuList = cpus()
  return {
    capturedAt: new Date().toISOString(),
    node: process.version,
    platform: platform(),
    arch: arch(),
    cpus: { count: cpuList.length, ...(cpuList[0]?.model ? { model: cpuList[0].model.trim() } : {}) },
    hostname: hostname(),
    maltVersion: maltVersion(),
    ...(lockfile ? { lockfile } : {}),
    ...(gitInfo ? { git: gitInfo } : {}),
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
    cwd,
  }
}
