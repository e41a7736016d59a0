// Process-wide safety net for executor processes: when the driver exits or is told to stop
// (SIGINT, SIGTERM, SIGHUP) every live child is killed, so no executor outlives its driver.
// (If the driver dies by SIGKILL nothing here runs; the children notice the broken IPC channel.)
import type { ChildProcess } from 'node:child_process'

const liveChildren = new Set<ChildProcess>()
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
type StopSignal = (typeof STOP_SIGNALS)[number]
let installed = false

function killAll(signal: NodeJS.Signals): void {
  for (const child of liveChildren) {
    try {
      child.kill(signal)
    } catch {
      // Already gone.
    }
  }
}

function onExit(): void {
  killAll('SIGKILL')
}

/**
 * Stops the children, then keeps Node's default behaviour: when this is the only listener for
 * the signal, it removes itself and raises the signal again, so the driver still terminates.
 * When the application listens too (an experiment marking itself killed), it decides.
 */
function onSignal(signal: StopSignal): void {
  killAll('SIGTERM')
  if (process.listenerCount(signal) === 1) {
    uninstall()
    process.kill(process.pid, signal)
  }
}

const signalListeners = new Map<StopSignal, () => void>(STOP_SIGNALS.map((signal) => [signal, () => onSignal(signal)]))

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', onExit)
  for (const [signal, listener] of signalListeners) process.on(signal, listener)
}

function uninstall(): void {
  if (!installed) return
  installed = false
  process.off('exit', onExit)
  for (const [signal, listener] of signalListeners) process.off(signal, listener)
}

/**
 * Kills `child` if the driver exits or receives a stop signal before the child has exited. The
 * listeners exist only while some child is alive, so an idle program's signal handling is untouched.
 */
export function killOnDriverExit(child: ChildProcess): void {
  liveChildren.add(child)
  install()
  child.once('exit', () => {
    liveChildren.delete(child)
    if (liveChildren.size === 0) uninstall()
  })
}
