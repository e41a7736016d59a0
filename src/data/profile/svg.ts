// Inline SVG charts for the HTML report: histograms (one or two data sets overlaid) and
// horizontal top-value bars. Every data string goes through escapeHtml.
import { histogram } from './stats.js'
import { displayValue, formatNumber } from './text-report.js'
import type { HistogramBin, NumericStats, ValueCount } from './types.js'

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)
}

/** The two series colours: A (reference) blue, B (compared) orange. */
export const SERIES_COLORS = ['#3366cc', '#ee7722'] as const

const WIDTH = 260
const HEIGHT = 84
const AXIS = 14

/**
 * Histograms of one or two data sets. With two, both are re-binned from their samples over
 * the common range (so bars line up) and drawn as fractions of their own counts.
 */
export function histogramSvg(series: (NumericStats | undefined)[], bins: number): string {
  const present = series.map((s) => (s && s.count > 0 ? s : undefined))
  const stats = present.filter((s): s is NumericStats => s !== undefined)
  if (stats.length === 0) return '<span class="muted">no values</span>'
  const low = Math.min(...stats.map((s) => s.min))
  const max = Math.max(...stats.map((s) => s.max))
  // Integer columns with few values have one bin [v, v + 1) per integer (see binnedHistogram).
  const integral = max - low < bins && stats.every((s) => s.histogram.every((b) => b.high - b.low === 1))
  const high = integral ? max + 1 : max
  const binned: (HistogramBin[] | undefined)[] = present.map((s) => {
    if (!s) return undefined
    if (stats.length === 1 || !s.sample?.length) return s.histogram
    return histogram(s.sample, low, high, integral ? high - low : bins, s.count)
  })
  const fractions = binned.map((h) => {
    const total = h?.reduce((sum, b) => sum + b.count, 0) ?? 0
    return h?.map((b) => (total > 0 ? b.count / total : 0))
  })
  const tallest = Math.max(...fractions.flatMap((f) => f ?? []), 1e-12)
  const plotHeight = HEIGHT - AXIS
  const rects: string[] = []
  // Two data sets: each bin holds a pair of bars side by side (A left, B right), as in Facets.
  const pairs = present.length > 1 ? 2 : 1
  binned.forEach((h, index) => {
    if (!h) return
    const span = high > low ? high - low : 1
    for (const [i, bin] of h.entries()) {
      const binX = high > low ? ((bin.low - low) / span) * WIDTH : 0
      const binWidth = high > low ? ((bin.high - bin.low) / span) * WIDTH : WIDTH
      const w = Math.max(1, (binWidth - 1) / pairs)
      const x = binX + (pairs > 1 ? index * w : 0)
      const fraction = fractions[index]![i]
      const height = fraction > 0 ? Math.max(1, (fraction / tallest) * (plotHeight - 2)) : 0
      const title = `${index === 0 ? 'A' : 'B'}: [${formatNumber(bin.low)}, ${formatNumber(bin.high)}${i === h.length - 1 ? ']' : ')'}: ${formatNumber(bin.count)} (${(100 * fraction).toFixed(1)}%)`
      rects.push(`<rect class="bar series-${index === 0 ? 'a' : 'b'}" x="${x.toFixed(1)}" y="${(plotHeight - height).toFixed(1)}" width="${w.toFixed(1)}" height="${height.toFixed(1)}" ` +
        `fill="${SERIES_COLORS[index]}"><title>${escapeHtml(title)}</title></rect>`)
    }
  })
  const axis = `<line x1="0" y1="${plotHeight + 0.5}" x2="${WIDTH}" y2="${plotHeight + 0.5}" stroke="#999" />` +
    `<text x="0" y="${HEIGHT - 2}" class="tick">${escapeHtml(formatNumber(low))}</text>` +
    `<text x="${WIDTH}" y="${HEIGHT - 2}" class="tick" text-anchor="end">${escapeHtml(formatNumber(max))}</text>`
  return `<svg class="chart histogram" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="histogram">${rects.join('')}${axis}</svg>`
}

/**
 * Horizontal bars for the most frequent values, as fractions of each data set's count; with
 * two data sets, a pair of bars per value.
 */
export function topValuesSvg(series: ({ top: ValueCount[]; frequencies: ValueCount[]; count: number } | undefined)[], limit = 8): string {
  const present = series.filter((s) => s && s.count > 0)
  if (present.length === 0) return '<span class="muted">no values</span>'
  const values: string[] = []
  for (const s of series) for (const item of s?.top ?? []) if (!values.includes(item.value) && values.length < limit) values.push(item.value)
  const lookup = series.map((s) => new Map((s?.frequencies ?? s?.top ?? []).map((f) => [f.value, f.count])))
  const labelWidth = 100
  const barWidth = WIDTH - labelWidth - 40
  const rowHeight = series.length > 1 ? 18 : 14
  const fractions = values.map((value) => series.map((s, i) => (s && s.count > 0 ? (lookup[i].get(value) ?? 0) / s.count : 0)))
  const tallest = Math.max(...fractions.flat(), 1e-12)
  const parts: string[] = []
  values.forEach((value, row) => {
    const y = row * rowHeight
    const shown = displayValue(value)
    const label = shown.length > 14 ? `${shown.slice(0, 13)}…` : shown
    parts.push(`<text x="${labelWidth - 4}" y="${y + rowHeight / 2 + 4}" text-anchor="end" class="label">${escapeHtml(label)}<title>${escapeHtml(value)}</title></text>`)
    const barHeight = (rowHeight - 4) / series.length
    series.forEach((_s, i) => {
      const fraction = fractions[row][i]
      const width = fraction > 0 ? Math.max(1, (fraction / tallest) * barWidth) : 0
      const barY = y + 2 + i * barHeight
      parts.push(`<rect class="bar series-${i === 0 ? 'a' : 'b'}" x="${labelWidth}" y="${barY.toFixed(1)}" width="${width.toFixed(1)}" height="${barHeight.toFixed(1)}" fill="${SERIES_COLORS[i]}">` +
        `<title>${escapeHtml(`${i === 0 ? 'A' : 'B'}: ${value}: ${(100 * fraction).toFixed(1)}%`)}</title></rect>`)
      if (series.length === 1) parts.push(`<text x="${labelWidth + width + 4}" y="${barY + barHeight - 1}" class="tick">${(100 * fraction).toFixed(1)}%</text>`)
    })
  })
  const height = values.length * rowHeight + 2
  return `<svg class="chart top-values" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="top values">${parts.join('')}</svg>`
}
