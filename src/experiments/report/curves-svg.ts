// The metric-curve chart of the experiment report: one metric's value against the step, one
// line per trial (broken where a value is NaN), the best trial drawn last and thicker.
import { escapeHtml } from '../../data/profile/svg.js'
import { numericScale, thinLabels, tickLabel } from './scales.js'

/** One trial's line on a curve chart. */
export interface CurveSeries {
  /** Key shared by every element of this trial in the page (table row, legend, lines). */
  key: number
  label: string
  color: string
  best: boolean
  failed: boolean
  /** Sorted by step; `value` may be NaN (a gap in the line). */
  points: { step: number; value: number }[]
}

/** Options of {@link curveChartSvg}. */
export interface CurveChartOptions {
  /** Many trials: thin, translucent lines so that the bundle stays readable. @defaultValue false */
  many?: boolean
  /** @defaultValue 600 */
  width?: number
  /** @defaultValue 300 */
  height?: number
}

const MARGIN = { left: 62, right: 18, top: 14, bottom: 42 }

function coordinates(x: number, y: number): string {
  return `${x.toFixed(1)},${y.toFixed(1)}`
}

/** The SVG of one metric's curves; `metric` labels the y axis. */
export function curveChartSvg(metric: string, series: readonly CurveSeries[], options: CurveChartOptions = {}): string {
  const width = options.width ?? 600
  const height = options.height ?? 300
  const plotW = width - MARGIN.left - MARGIN.right
  const plotH = height - MARGIN.top - MARGIN.bottom
  const steps = series.flatMap((s) => s.points.map((p) => p.step))
  const integral = steps.every(Number.isInteger)
  const xScale = numericScale(steps.length > 0 && Math.min(...steps) === Math.max(...steps) ? [steps[0] - 1, steps[0] + 1] : steps, { integral })
  const yValues = series.flatMap((s) => s.points.map((p) => p.value)).filter(Number.isFinite)
  const yScale = numericScale(yValues, { nice: true })
  const x = (step: number) => MARGIN.left + xScale.position(step) * plotW
  const y = (value: number) => MARGIN.top + (1 - yScale.position(value)) * plotH
  const parts: string[] = []

  // Grid and y ticks.
  const yTicks = thinLabels(yScale.ticks(6).map((v) => ({ v, at: (1 - yScale.position(v)) * plotH })), 14)
  for (const { v } of yTicks) {
    const ty = y(v)
    parts.push(`<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" />` +
      `<text class="tick" x="${MARGIN.left - 6}" y="${(ty + 3.5).toFixed(1)}" text-anchor="end">${escapeHtml(tickLabel(v))}</text>`)
  }
  const xCandidates = xScale.ticks(8)
  const widest = Math.max(1, ...xCandidates.map((v) => tickLabel(v).length))
  const xTicks = thinLabels(xCandidates.map((v) => ({ v, at: xScale.position(v) * plotW })), 10 + 6.5 * widest)
  for (const { v } of xTicks) {
    const tx = x(v)
    parts.push(`<line class="tick-mark" x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 4}" />` +
      `<text class="tick" x="${tx.toFixed(1)}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escapeHtml(tickLabel(v))}</text>`)
  }
  parts.push(`<line class="axis" x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH + 0.5}" y2="${MARGIN.top + plotH + 0.5}" />`,
    `<line class="axis" x1="${MARGIN.left - 0.5}" x2="${MARGIN.left - 0.5}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" />`,
    `<text class="axis-name" x="${MARGIN.left + plotW / 2}" y="${height - 6}" text-anchor="middle">step</text>`,
    `<text class="axis-name" transform="translate(14 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(metric)}${yScale.kind === 'log' ? ' (log)' : ''}</text>`)

  // Lines: the best last, so it is on top.
  const ordered = [...series].sort((a, b) => Number(a.best) - Number(b.best))
  const strokeWidth = options.many ? 1 : 1.6
  for (const s of ordered) {
    const segments: string[][] = [[]]
    for (const p of s.points) {
      const py = Number.isFinite(p.value) ? yScale.position(p.value) : NaN
      if (Number.isNaN(py)) {
        if (segments[segments.length - 1].length > 0) segments.push([])
        continue
      }
      segments[segments.length - 1].push(coordinates(x(p.step), y(p.value)))
    }
    const shapes = segments.filter((points) => points.length > 0).map((points) =>
      points.length === 1
        ? `<circle cx="${points[0].split(',')[0]}" cy="${points[0].split(',')[1]}" r="2.5" fill="${s.color}" />`
        : `${s.best && options.many ? `<polyline class="outline" points="${points.join(' ')}" stroke="#202124" stroke-width="${strokeWidth + 3.4}" />` : ''}` +
          `<polyline points="${points.join(' ')}" />`)
    if (shapes.length === 0) continue
    const classes = ['curve', s.best ? 'best' : '', s.failed ? 'failed' : ''].filter(Boolean).join(' ')
    const width = s.best ? strokeWidth + 1.4 : strokeWidth
    parts.push(`<g class="${classes}" data-trial="${s.key}" fill="none" stroke="${s.color}" stroke-width="${width}"${s.failed ? ' stroke-dasharray="5 3"' : ''}>` +
      `<title>${escapeHtml(s.label)}</title>${shapes.join('')}</g>`)
  }
  if (yValues.length === 0) {
    parts.push(`<text class="tick" x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH / 2}" text-anchor="middle">no finite values</text>`)
  }
  return `<svg class="chart curves${options.many ? ' many' : ''}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" ` +
    `aria-label="${escapeHtml(`${metric} by step`)}" data-metric="${escapeHtml(metric)}">${parts.join('')}</svg>`
}
