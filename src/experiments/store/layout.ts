// Where an experiment's files live under MALT_HOME (see the layout comment in ../records.ts),
// and how run and app ids are made (record files go through storage/durable.ts's atomic writes).
import { mkdir, readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { MaltError, describeValue } from '../../errors.js'
import { storageError } from '../../storage/local.js'

/** The folder under MALT_HOME that holds every run: `Experiments/<appId>/<runId>/`. */
export const EXPERIMENTS_FOLDER = 'Experiments'

/** The home directory: `$MALT_HOME`, else `./malt-home`, resolved against `cwd`. */
export function maltHome(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const fromEnv = env.MALT_HOME
  return resolve(cwd, fromEnv !== undefined && fromEnv !== '' ? fromEnv : 'malt-home')
}

/** `<home>/Experiments`. */
export function experimentsRoot(home: string): string {
  return join(home, EXPERIMENTS_FOLDER)
}

let processAppId: string | undefined

function twoDigits(n: number): string {
  return String(n).padStart(2, '0')
}

/**
 * The app id of this driver process, `app_<YYYYMMDD>_<HHMMSS>_<pid>` (UTC, so ids sort the
 * same on every machine of a cluster). Made once per process: every experiment a process runs
 * one after another lands under the same app, as a new `run.<n>`.
 */
export function newAppId(now: Date = new Date()): string {
  processAppId ??= formatAppId(now, process.pid)
  return processAppId
}

/** The app id for a given time and process id (what {@link newAppId} memoises). */
export function formatAppId(time: Date, pid: number): string {
  const date = `${time.getUTCFullYear()}${twoDigits(time.getUTCMonth() + 1)}${twoDigits(time.getUTCDate())}`
  const clock = `${twoDigits(time.getUTCHours())}${twoDigits(time.getUTCMinutes())}${twoDigits(time.getUTCSeconds())}`
  return `app_${date}_${clock}_${pid}`
}

/** `<home>/Experiments/<appId>`. */
export function appDir(home: string, appId: string): string {
  return join(experimentsRoot(home), checkSegment('appId', appId))
}

/** `<home>/Experiments/<appId>/<runId>`. */
export function runDir(home: string, appId: string, runId: string): string {
  return join(appDir(home, appId), checkSegment('runId', runId))
}

const RUN_ID = /^run\.(\d+)$/

/** The number of a run id (`run.7` → 7), or undefined when `name` is not a run id. */
export function runNumber(name: string): number | undefined {
  const match = RUN_ID.exec(name)
  return match ? Number(match[1]) : undefined
}

/**
 * Creates the next free `run.<n>` under `<home>/Experiments/<appId>/` and returns its id. The
 * final directory is made without `recursive`, so when two drivers race for the same number
 * one gets EEXIST and takes the next: two drivers never share a run directory.
 */
export async function createRunDir(home: string, appId: string): Promise<{ runId: string; dir: string }> {
  const parent = appDir(home, appId)
  try {
    await mkdir(parent, { recursive: true })
  } catch (error) {
    throw storageError(error, parent, 'write')
  }
  const taken = (await readdir(parent)).map(runNumber).filter((n): n is number => n !== undefined)
  let next = taken.length === 0 ? 1 : Math.max(...taken) + 1
  for (;;) {
    const runId = `run.${next}`
    const dir = join(parent, runId)
    try {
      await mkdir(dir)
      return { runId, dir }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw storageError(error, dir, 'write')
      next += 1
    }
  }
}

/** `<runDir>/<trialName>`; the name must be one path segment (trial names are file-system safe). */
export function trialDir(run: string, trialName: string): string {
  return join(run, checkSegment('trial name', trialName))
}

/** Where attempt `attempt` of a trial writes its logs: the trial dir for 1, `attempt-<k>/` after. */
export function attemptDir(trial: string, attempt: number): string {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new MaltError('EXPERIMENT_BAD_ATTEMPT', `attemptDir: expected attempt to be a positive integer, received ${describeValue(attempt)}`)
  }
  return attempt === 1 ? trial : join(trial, `attempt-${attempt}`)
}

/** Names that would escape their parent or collide with the run's own files. */
function checkSegment(what: string, name: string): string {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new MaltError('EXPERIMENT_BAD_NAME', `Expected ${what} to be one file name (no "/", "\\", "." or ".."), received ${describeValue(name)}`)
  }
  return name
}
