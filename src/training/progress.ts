// What a person sees while distributed training runs: on a terminal a live bar for the current
// epoch (batches done over all workers, the live loss and metrics, workers running); elsewhere
// (CI logs, files) one Keras-style line per epoch with the workers' mean metrics.
import cliProgress from 'cli-progress'

/** Receives the driver's view of the run. */
export interface TrainingDisplay {
  /** A worker finished batch `batch` (0-based) of `epoch`. */
  batch(worker: number, epoch: number, batch: number, logs: Record<string, number>): void
  /** Every live worker finished `epoch`; `logs` are their means (and validation metrics). */
  epoch(epoch: number, logs: Record<string, number>, workers: number): void
  stop(): void
}

function format(logs: Record<string, number>): string {
  return Object.entries(logs)
    .map(([key, value]) => `${key} ${Number.isFinite(value) ? value.toFixed(4) : String(value)}`)
    .join(' | ')
}

/**
 * A display for `label` (the trainer's name): `epochs` in all, `batchesPerEpoch` summed over the
 * workers (the bar's total per epoch).
 */
export function createTrainingDisplay(label: string, epochs: number, batchesPerEpoch: number, stream: NodeJS.WriteStream = process.stderr): TrainingDisplay {
  const started = Date.now()
  let epochStarted = started
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} epoch {epoch}/${epochs} [{bar}] {percentage}% | {logs}`, stream, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    )
    const done = new Map<number, number>()
    let current = 0
    bar.start(batchesPerEpoch, 0, { epoch: 1, logs: '' })
    return {
      batch(worker, epoch, batch, logs) {
        if (epoch !== current) return
        done.set(worker, batch + 1)
        bar.update(Math.min(batchesPerEpoch, [...done.values()].reduce((a, b) => a + b, 0)), { epoch: epoch + 1, logs: format(logs) })
      },
      epoch(epoch, logs, workers) {
        bar.update(batchesPerEpoch, { epoch: epoch + 1, logs: `${format(logs)} | ${workers} worker${workers === 1 ? '' : 's'} | ${((Date.now() - epochStarted) / 1000).toFixed(1)}s` })
        bar.stop()
        epochStarted = Date.now()
        current = epoch + 1
        done.clear()
        if (current < epochs) bar.start(batchesPerEpoch, 0, { epoch: current + 1, logs: '' })
      },
      stop: () => bar.stop(),
    }
  }
  return {
    batch: () => undefined,
    epoch(epoch, logs, workers) {
      stream.write(`${label} epoch ${epoch + 1}/${epochs}: ${format(logs)} | ${workers} worker${workers === 1 ? '' : 's'} | ${((Date.now() - epochStarted) / 1000).toFixed(1)}s\n`)
      epochStarted = Date.now()
    },
    stop: () => undefined,
  }
}
