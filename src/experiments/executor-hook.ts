// Lets a script define its training function and launch the search in the same file. An
// executor imports that file to get the function, which runs its top-level code again, and
// with it the `experiment.*` call: there, the call hands its function to the waiting trial
// runner and never settles (the import is not awaited further), instead of starting a search
// inside the executor.
import { MaltError } from '../errors.js'

/** What an `experiment.*` call in an executor hands over: its function, and other functions it was given (ablation's baseModel). */
export interface Offer {
  fn: unknown
  extras: Record<string, unknown>
}

interface PendingImport {
  exportName: string
  deliver(offer: Offer): void
}

// One slot per process, shared by every copy of Malt loaded in it (the user's `malt` import and
// the trial runner's may resolve to different files in odd installs).
const SLOT = Symbol.for('malt.experiments.pendingImport')
type Holder = { [SLOT]?: PendingImport }

/** True inside an executor process. */
export function inExecutor(): boolean {
  return process.env.MALT_EXECUTOR_ID !== undefined
}

/** Trial runner side: resolves with the function an `experiment.*` call offers while `exportName`'s module is imported. */
export function awaitOfferedFunction(exportName: string): { offered: Promise<Offer>; cancel(): void } {
  const holder = globalThis as Holder
  let deliver: (offer: Offer) => void = () => undefined
  const offered = new Promise<Offer>((resolve) => (deliver = resolve))
  holder[SLOT] = { exportName, deliver }
  return { offered, cancel: () => void (holder[SLOT] = undefined) }
}

/**
 * API side, inside an executor: the search this call would start is the one that sent the
 * trial here. If `fn` is the function being imported, hand it over and never settle; another
 * experiment of the same script resolves at once with `skipped` (so the script's top level
 * goes on to the call that matters).
 */
export function offerFromExecutor<T>(fn: unknown, call: string, skipped: T, extras: Record<string, unknown> = {}): Promise<T> {
  const pending = (globalThis as Holder)[SLOT]
  if (pending && typeof fn === 'function' && (fn.name === pending.exportName || pending.exportName === 'default')) {
    pending.deliver({ fn, extras })
    return new Promise<T>(() => undefined)
  }
  if (pending) return Promise.resolve(skipped)
  return Promise.reject(
    new MaltError(
      'EXPERIMENT_IN_EXECUTOR',
      `experiment.${call} was called inside a trial on executor ${process.env.MALT_EXECUTOR_ID}: searches cannot be nested in trials`,
    ),
  )
}
