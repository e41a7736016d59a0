// Plain-text rendering of profiles and drift for terminals: aligned tables, numbers rounded
// to four significant digits, control characters from the data neutralised.
import type { Comparison } from './drift.js'
import type { ValidationResult } from './schema.js'
import type { ColumnProfile, Profile } from './types.js'

/** A number for people: thousands separators for integers, 4 significant digits otherwise. */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '–'
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞'
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return value.toLocaleString('en-US')
  const magnitude = Math.abs(value)
  if (magnitude >= 1e9 || magnitude < 1e-3) return value.toExponential(3).replace(/\.?0+e/, 'e')
  // Large values keep their integer digits (a rounded 54970 would pass for an exact count).
  if (magnitude >= 1000) return value.toLocaleString('en-US', { maximumFractionDigits: 1 })
  return String(Number(value.toPrecision(4)))
}

/** A fraction as a percentage with one decimal. */
export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return '–'
  return `${((100 * part) / whole).toFixed(1)}%`
}

/** A p-value: exponent form when tiny. */
export function formatPValue(p: number | undefined): string {
  if (p === undefined || Number.isNaN(p)) return '–'
  if (p === 0) return '0'
  return p < 1e-3 ? p.toExponential(1) : p.toFixed(3)
}

/** Data text made safe for a terminal: control characters replaced, long text cut. */
export function cleanText(text: string, max = 40): string {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  const safe = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?')
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe
}

/** A category for display: the empty string would be invisible, so it is named. */
export function displayValue(value: string): string {
  return value === '' ? '(empty)' : value
}

/** Left-aligns the first column and right-aligns the others. */
export function textTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 || i === cells.length - 1 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

function numericRows(columns: ColumnProfile[], rows: number): string[][] {
  return columns.map((c) => {
    const s = c.numeric
    return [cleanText(c.name), formatNumber(c.count), formatPercent(c.missing, rows), formatNumber(s?.mean), formatNumber(s?.std),
      s ? formatPercent(s.zeros, s.count) : '–', formatNumber(s?.min), `${s?.approximate ? '~' : ''}${formatNumber(s?.median)}`, formatNumber(s?.max), c.type]
  })
}

function categoricalRows(columns: ColumnProfile[], rows: number): string[][] {
  return columns.map((c) => {
    const s = c.categorical
    const top = s?.top[0]
    return [cleanText(c.name), formatNumber(c.count), formatPercent(c.missing, rows), `${s?.distinctApproximate ? '~' : ''}${formatNumber(s?.distinct)}`,
      top ? cleanText(displayValue(top.value), 24) : '–', top ? formatNumber(top.count) : '–', formatNumber(s?.meanLength), c.type]
  })
}

function vectorRows(columns: ColumnProfile[], rows: number): string[][] {
  return columns.map((c) => {
    const v = c.vector
    const e = v?.elements
    const length = v ? (v.minLength === v.maxLength ? formatNumber(v.minLength) : `${v.minLength}–${v.maxLength}`) : '–'
    return [cleanText(c.name), formatNumber(c.count), formatPercent(c.missing, rows), length, formatNumber(e?.mean), formatNumber(e?.std),
      formatNumber(e?.min), formatNumber(e?.max), e ? formatPercent(e.zeros, e.count) : '–', v?.elementType ?? c.type]
  })
}

/** The profile as text tables, one per column kind. */
export function renderProfileText(profile: Profile): string {
  const byKind = (kind: ColumnProfile['kind']) => profile.columns.filter((c) => c.kind === kind)
  const numeric = byKind('numeric')
  const categorical = byKind('categorical')
  const vector = byKind('vector')
  const empty = byKind('empty')
  const parts = [`${profile.name ? cleanText(profile.name, 200) + ': ' : ''}${formatNumber(profile.rows)} rows${profile.truncated ? ' (stopped at --limit)' : ''}, ` +
    `${profile.columns.length} columns (${numeric.length} numeric, ${categorical.length} categorical, ${vector.length} vector${empty.length ? `, ${empty.length} empty` : ''})`]
  if (numeric.length) {
    parts.push(`\nNumeric columns\n${textTable(['column', 'count', 'missing', 'mean', 'std', 'zeros', 'min', 'median', 'max', 'type'], numericRows(numeric, profile.rows))}`)
  }
  if (categorical.length) {
    parts.push(`\nCategorical columns\n${textTable(['column', 'count', 'missing', 'distinct', 'top', 'freq', 'avg len', 'type'], categoricalRows(categorical, profile.rows))}`)
  }
  if (vector.length) {
    parts.push(`\nVector columns\n${textTable(['column', 'count', 'missing', 'length', 'mean', 'std', 'min', 'max', 'zeros', 'elements'], vectorRows(vector, profile.rows))}`)
  }
  if (empty.length) parts.push(`\nEmpty columns (every value missing): ${empty.map((c) => cleanText(c.name)).join(', ')}`)
  if (profile.columnsDropped) parts.push(`\n${profile.columnsDropped} more columns not profiled (maxColumns reached)`)
  const approximate = profile.columns.some((c) => c.numeric?.approximate || c.vector?.elements?.approximate || c.categorical?.distinctApproximate)
  if (approximate) parts.push('\n~ estimated from a uniform sample (median) or a HyperLogLog sketch (distinct)')
  return `${parts.join('\n')}\n`
}

/** The drift table: one line per column, drifted ones marked DRIFT. */
export function renderComparisonText(comparison: Comparison): string {
  const rows = comparison.columns.map((c) => [
    cleanText(c.name),
    c.test === 'ks' ? 'KS' : c.test === 'jensen-shannon' ? 'JS' : '–',
    c.ks ? c.ks.d.toFixed(3) : c.jensenShannon !== undefined ? c.jensenShannon.toFixed(3) : '–',
    formatPValue(c.ks?.pValue),
    c.missingA !== undefined && c.missingB !== undefined ? `${(100 * c.missingA).toFixed(1)}% → ${(100 * c.missingB).toFixed(1)}%` : '–',
    c.drifted ? `DRIFT  ${c.reason}` : 'ok',
  ])
  const a = comparison.nameA ?? 'A'
  const b = comparison.nameB ?? 'B'
  const t = comparison.thresholds
  return `\nDrift from ${cleanText(a, 200)} to ${cleanText(b, 200)} (KS: p < ${t.ksPValue} and D > ${t.ksStatistic}; JS distance > ${t.jensenShannon})\n` +
    `${textTable(['column', 'test', 'stat', 'p-value', 'missing', 'drift'], rows)}\n` +
    `${comparison.drifted.length} of ${comparison.columns.length} columns drifted${comparison.drifted.length ? `: ${comparison.drifted.map((n) => cleanText(n)).join(', ')}` : ''}\n`
}

/** A validation summary: counts by column and kind, then the first `show` violations. */
export function renderValidationText(result: ValidationResult, show = 20): string {
  if (result.valid) return `schema check: all ${formatNumber(result.rows)} rows valid\n`
  const byColumn = Object.entries(result.counts.byColumn).sort((x, y) => y[1] - x[1])
  const lines = [`schema check: ${formatNumber(result.counts.total)} violations in ${formatNumber(result.rows)} rows`,
    `by kind: ${Object.entries(result.counts.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    `by column: ${byColumn.slice(0, 20).map(([k, n]) => `${cleanText(k)} ${n}`).join(', ')}${byColumn.length > 20 ? ', …' : ''}`,
    `first ${Math.min(show, result.violations.length)}:`]
  for (const v of result.violations.slice(0, show)) lines.push(`  ${cleanText(v.message, 200)}`)
  return `${lines.join('\n')}\n`
}
