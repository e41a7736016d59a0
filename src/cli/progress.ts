// Progress bars for long CLI operations: a live bar on a terminal, a few plain lines
// (every ~10%) when stderr is a file or CI log, so logs stay readable.
import cliProgress from 'cli-progress'

/** A bar over `total` steps with named payload fields shown after the counter. */
export interface ProgressBar {
  update(done: number, payload?: Record<string, string | number>): void
  stop(): void
}

/** Starts a progress bar on stderr. `fields` name the payload values shown, e.g. loss. */
export function startProgress(label: string, total: number, fields: string[] = []): ProgressBar {
  const suffix = fields.map((field) => `${field} {${field}}`).join(' | ')
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% {value}/{total} | {eta_formatted} left${suffix ? ` | ${suffix}` : ''}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    )
    bar.start(total, 0, Object.fromEntries(fields.map((field) => [field, '-'])))
    return {
      update: (done, payload) => bar.update(done, payload),
      stop: () => bar.stop(),
    }
  }
  // Not a terminal: one line per 10% step.
  let nextReport = 0.1
  const started = Date.now()
  return {
    update(done, payload = {}) {
      const fraction = total > 0 ? done / total : 1
      if (fraction + 1e-9 < nextReport && done !== total) return
      while (nextReport <= fraction + 1e-9) nextReport += 0.1
      const extra = Object.entries(payload)
        .map(([key, value]) => `${key} ${value}`)
        .join(' | ')
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      process.stderr.write(`${label} ${Math.round(fraction * 100)}% ${done}/${total} (${seconds}s)${extra ? ` | ${extra}` : ''}\n`)
    },
    stop() {},
  }
}

/** A running count for streams of unknown length (rows converted so far). */
export interface ProgressCounter {
  update: (done: number) => void
  stop(): void
}

/** On a terminal, rewrites one stderr line with the count (at most every 200 ms); elsewhere silent. */
export function startCounter(label: string): ProgressCounter {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined }
  let last = 0
  let shown = false
  let count = 0
  return {
    update: (done) => {
      count = done
      const now = Date.now()
      if (now - last < 200) return
      last = now
      shown = true
      process.stderr.write(`\r${label}: ${done.toLocaleString('en-US')} rows`)
    },
    stop: () => {
      if (shown) process.stderr.write(`\r${label}: ${count.toLocaleString('en-US')} rows, done\n`)
    },
  }
}
