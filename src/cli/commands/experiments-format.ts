// Text formatting shared by the `malt experiments` commands: aligned tables, numbers with a
// readable precision, local times and durations.
import type { ParamValue } from '../../experiments/types.js'

/** A column of {@link renderTable}; numbers read best right-aligned. */
export interface Column {
  header: string
  align?: 'left' | 'right'
}

/** Renders rows under headers, columns separated by two spaces, trailing spaces trimmed. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], indent = ''): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((cell, i) => (columns[i]?.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return `${[line(columns.map((column) => column.header)), ...rows.map(line)].join('\n')}\n`
}

/** A metric or hyperparameter value: integers as they are, other numbers to 5 significant digits. */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-'
  if (Number.isInteger(value) || !Number.isFinite(value)) return String(value)
  return String(Number(value.toPrecision(5)))
}

/** A hyperparameter value for a table cell. */
export function formatParam(value: ParamValue | undefined): string {
  if (value === undefined) return '-'
  return typeof value === 'number' ? formatNumber(value) : String(value)
}

function twoDigits(n: number): string {
  return String(n).padStart(2, '0')
}

/** An ISO time in the local time zone, `2024-05-01 10:00:00` (seconds only with `seconds`). */
export function formatTime(iso: string | undefined, seconds = false): string {
  if (iso === undefined) return '-'
  const time = new Date(iso)
  if (Number.isNaN(time.getTime())) return iso
  const date = `${time.getFullYear()}-${twoDigits(time.getMonth() + 1)}-${twoDigits(time.getDate())}`
  return `${date} ${twoDigits(time.getHours())}:${twoDigits(time.getMinutes())}${seconds ? `:${twoDigits(time.getSeconds())}` : ''}`
}

/** A duration: `850 ms`, `5.2 s`, `3m 05s`, `2h 03m`, `3d 04h`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '-'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const totalSeconds = Math.round(ms / 1000)
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)}m ${twoDigits(totalSeconds % 60)}s`
  const totalMinutes = Math.round(totalSeconds / 60)
  if (totalMinutes < 48 * 60) return `${Math.floor(totalMinutes / 60)}h ${twoDigits(totalMinutes % 60)}m`
  const totalHours = Math.round(totalMinutes / 60)
  return `${Math.floor(totalHours / 24)}d ${twoDigits(totalHours % 24)}h`
}

/** Milliseconds between two ISO times (to now when `end` is absent and `running`). */
export function elapsedMs(start: string, end: string | undefined, running: boolean): number | undefined {
  const from = Date.parse(start)
  const to = end !== undefined ? Date.parse(end) : running ? Date.now() : Number.NaN
  return Number.isNaN(from) || Number.isNaN(to) ? undefined : to - from
}
