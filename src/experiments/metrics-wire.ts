// Metrics cross the process boundary as JSON, which has no NaN or ±Infinity: a diverged
// run's NaN loss must arrive as NaN, not null.

/** Non-finite values become strings ('NaN', 'Infinity', '-Infinity'). */
export function encodeMetrics(metrics: Record<string, number>): Record<string, number | string> {
  return Object.fromEntries(Object.entries(metrics).map(([name, value]) => [name, Number.isFinite(value) ? value : String(value)]))
}

/** The inverse of {@link encodeMetrics}. */
export function decodeMetrics(metrics: Record<string, number | string | null>): Record<string, number> {
  return Object.fromEntries(Object.entries(metrics).map(([name, value]) => [name, typeof value === 'number' ? value : Number(value ?? NaN)]))
}

