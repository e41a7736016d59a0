// What a person sees while a search runs: on a terminal a live bar (trials done, running,
// failed, best so far, ETA); elsewhere (CI logs, files) one line per trial as it ends.
import cliProgress from 'cli-progress'
import type { SearchProgress } from './driver.js'
import type { TrialRecord } from './records.js'

/** Receives driver events and draws them. */
export interface SearchDisplay {
  progress(progress: SearchProgress): void
  trialEnded(trial: TrialRecord, progress: SearchProgress | undefined): void
  stop(): void
}

function formatValue(value: number | undefined | null): string {
  if (typeof value !== 'number') return '-'
  if (!Number.isFinite(value)) return String(value)
  return Math.abs(value) >= 1000 || (Math.abs(value) < 0.001 && value !== 0) ? value.toExponential(3) : value.toFixed(4)
}

function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '?'
  const seconds = Math.round(ms / 1000)
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  return minutes < 60 ? `${minutes}m${String(seconds % 60).padStart(2, '0')}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}

/** A display for `label` (e.g. `mnist grid`); `metric` names the best-so-far figure. */
export function createSearchDisplay(label: string, metric: string, stream: NodeJS.WriteStream = process.stderr): SearchDisplay {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} trials | running {running} | failed {failed} | best ${metric} {best} | ETA {left}`,
        stream,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    )
    let started = false
    const update = (p: SearchProgress): void => {
      const done = p.finished + p.failed + p.stopped
      const payload = { running: p.running, failed: p.failed, best: formatValue(p.best), left: formatDuration(p.etaMs) }
      if (!started) {
        bar.start(p.total ?? done + p.running, done, payload)
        started = true
      } else {
        if (p.total === undefined) bar.setTotal(Math.max(done + p.running, 1))
        bar.update(done, payload)
      }
    }
    return {
      progress: update,
      trialEnded: (_trial, p) => p && update(p),
      stop: () => started && bar.stop(),
    }
  }
  return {
    progress: () => undefined,
    trialEnded(trial, p) {
      const done = p ? p.finished + p.failed + p.stopped : undefined
      const count = p ? ` (${done}${p.total !== undefined ? `/${p.total}` : ''} done, best ${formatValue(p.best)}, ETA ${formatDuration(p.etaMs)})` : ''
      const what =
        trial.state === 'failed'
          ? `failed: ${trial.failures.at(-1)?.message.split('\n')[0] ?? 'unknown reason'}`
          : trial.value === undefined
            ? `${trial.state} ${Object.entries(trial.metrics).map(([name, value]) => `${name}=${formatValue(value)}`).join(' ')}`
            : `${trial.state} ${metric}=${formatValue(trial.value)}`
      stream.write(`${label}: trial ${trial.id} ${trial.name} ${what}${count}\n`)
    },
    stop: () => undefined,
  }
}
