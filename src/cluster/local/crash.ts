// The message of a `crash` outcome: how the executor process ended, whether it looks like it ran
// out of memory (V8's heap limit, or the kernel's OOM killer) and the last lines of its stderr.

/** What is known about a process that died while it had a task. */
export interface CrashFacts {
  executorId: string
  pid: number | undefined
  taskId: string
  /** False when the process died before it could start the task (while loading). */
  started: boolean
  code: number | null
  signal: NodeJS.Signals | null
  /** The last few KB of the process's stderr. */
  stderr: string
}

const STDERR_IN_MESSAGE_CHARS = 1500
const V8_OUT_OF_MEMORY = /heap out of memory|Reached heap limit|Allocation failed|Ineffective mark-compacts near heap limit/i

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal !== null) return `was killed by signal ${signal}`
  if (code === null) return 'ended (exit status unknown)'
  return `exited with code ${code}`
}

/** The line of V8's fatal error report (e.g. `FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory`). */
function fatalLine(stderr: string): string | undefined {
  return stderr.split('\n').find((line) => /FATAL ERROR/.test(line))?.trim()
}

/** Builds the message of a crash outcome. */
export function describeCrash(facts: CrashFacts): string {
  const who = `Executor ${facts.executorId} (pid ${facts.pid ?? 'unknown'})`
  const when = facts.started ? `while running task ${facts.taskId}` : `before it could start task ${facts.taskId}`
  const exit = describeExit(facts.code, facts.signal)
  // V8's native backtrace after a fatal error says nothing to the user; the lines before it do.
  const stderr = facts.stderr.split('----- Native stack trace -----')[0].trim()
  let message: string
  if (V8_OUT_OF_MEMORY.test(stderr)) {
    const detail = fatalLine(stderr) ?? 'JavaScript heap out of memory'
    message =
      `${who} ran out of memory ${when} and ${exit} (${detail}). ` +
      `Use less memory per task, or raise the heap limit with the pool's execArgv (e.g. --max-old-space-size=4096).`
  } else if (facts.signal === 'SIGKILL') {
    message = `${who} ${exit} ${when}; nothing in Malt sent it, so it was probably the system's out-of-memory killer (or another process).`
  } else if (facts.signal === 'SIGABRT' || facts.code === 134) {
    message = `${who} aborted ${when} and ${exit} (a native crash or failed assertion).`
  } else {
    message = `${who} ${exit} ${when}.`
  }
  if (stderr.length > 0) {
    const tail = stderr.length > STDERR_IN_MESSAGE_CHARS ? `…${stderr.slice(-STDERR_IN_MESSAGE_CHARS)}` : stderr
    message += `\nLast stderr output:\n${tail}`
  }
  return message
}
