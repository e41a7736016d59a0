// The parallel-coordinates plot of the experiment report: one vertical axis per hyperparameter
// (numeric: linear or log; categorical: evenly spaced values) and a last axis for the metric;
// one polyline per trial, coloured by its metric value; failed trials grey and dashed.
import { escapeHtml } from '../../data/profile/svg.js'
import type { Direction, ParamValue, Params } from '../types.js'
import { FAILED_COLOR, clip, numericScale, rampColor, thinLabels, tickLabel } from './scales.js'

/** One trial as the plot draws it. */
export interface ParallelTrial {
  /** Key shared by every element of this trial in the page. */
  key: number
  label: string
  params: Params
  /** The metric's value; undefined or NaN: drawn at the axis's "no value" slot. */
  value: number | undefined
  failed: boolean
  best: boolean
}

/** Options of {@link parallelCoordinatesSvg}. */
export interface ParallelOptions {
  metric: string
  direction: Direction
  /** The hyperparameter axes, left to right. */
  params: readonly string[]
  /** The order of categorical values as the search space lists them. @defaultValue {} (sorted) */
  choices?: Record<string, readonly ParamValue[]>
  /** Width the axes spread over (grows when there are many axes). @defaultValue 980 */
  width?: number
}

interface Axis {
  title: string
  subtitle: string
  /** Position in [0, 1] (0 = bottom), NaN for the "no value" slot. */
  place(value: ParamValue | undefined): number
  labels: { at: number; text: string; full: string }[]
  missingLabel?: string
}

const PLOT_HEIGHT = 300
const TOP = 48
const MISSING_GAP = 26
const METRIC_LABEL_OFFSET = 22
const CHAR = 6.4 // average width of an 11px label character, for fitting text without measuring it

function categoryKey(value: ParamValue): string {
  return `${typeof value}:${String(value)}`
}

function paramAxis(name: string, trials: readonly ParallelTrial[], choices: readonly ParamValue[] | undefined): Axis {
  const values = trials.map((t) => t.params[name])
  const present = values.filter((v): v is ParamValue => v !== undefined)
  const missingLabel = present.length < values.length ? 'n/a' : undefined
  if (present.length > 0 && present.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    const numbers = present as number[]
    const scale = numericScale(numbers)
    const distinct = [...new Set(numbers)]
    // A grid's few values are what the user chose: label them rather than round ticks.
    const marks = distinct.length <= 8 ? distinct : scale.ticks(5)
    return {
      title: name,
      subtitle: scale.kind === 'log' ? 'log' : '',
      place: (v) => (typeof v === 'number' ? scale.position(v) : NaN),
      labels: marks.map((v) => ({ at: scale.position(v), text: tickLabel(v), full: String(v) })),
      missingLabel,
    }
  }
  // Categorical: the space's order where known, then the rest in natural order.
  const seen = new Map(present.map((v) => [categoryKey(v), v]))
  const ordered: ParamValue[] = []
  for (const choice of choices ?? []) if (seen.delete(categoryKey(choice))) ordered.push(choice)
  ordered.push(...[...seen.values()].sort((a, b) => String(a).localeCompare(String(b), 'en', { numeric: true })))
  const index = new Map(ordered.map((v, i) => [categoryKey(v), i]))
  const at = (i: number) => (ordered.length === 1 ? 0.5 : i / (ordered.length - 1))
  return {
    title: name,
    subtitle: '',
    place: (v) => (v === undefined || !index.has(categoryKey(v)) ? NaN : at(index.get(categoryKey(v))!)),
    labels: ordered.map((v, i) => ({ at: at(i), text: String(v), full: String(v) })),
    missingLabel,
  }
}

/** The plot; `trials` in any order (the best is drawn last, failed ones first). */
export function parallelCoordinatesSvg(trials: readonly ParallelTrial[], options: ParallelOptions): string {
  const values = trials.map((t) => t.value ?? NaN)
  const metricScale = numericScale(values)
  const finite = values.filter(Number.isFinite)
  const anyMissing = finite.length < values.length
  const metricAxis: Axis = {
    title: options.metric,
    subtitle: options.direction === 'max' ? 'higher is better' : 'lower is better',
    place: (v) => (typeof v === 'number' ? metricScale.position(v) : NaN),
    labels: finite.length === 0 ? [] : metricScale.ticks(5).map((v) => ({ at: metricScale.position(v), text: tickLabel(v), full: String(v) })),
    missingLabel: anyMissing ? (trials.some((t) => t.failed) ? 'failed' : 'NaN') : undefined,
  }
  const axes = [...options.params.map((name) => paramAxis(name, trials, options.choices?.[name])), metricAxis]
  const labelWidth = (axis: Axis) => Math.max(0, ...axis.labels.map((l) => clip(l.text, 18).length), axis.missingLabel?.length ?? 0) * CHAR
  const left = Math.max(64, 14 + labelWidth(axes[0]), (clip(axes[0].title, 22).length * CHAR) / 2 + 8)
  const right = Math.max(56, METRIC_LABEL_OFFSET + 8 + labelWidth(metricAxis), (clip(options.metric, 22).length * CHAR) / 2 + 8)
  const gaps = Math.max(1, axes.length - 1)
  const spacing = Math.max(150, ((options.width ?? 980) - left - right) / gaps)
  const width = Math.round(left + right + spacing * gaps)
  const missingY = TOP + PLOT_HEIGHT + MISSING_GAP
  const height = missingY + 22
  const axisX = (i: number) => left + i * spacing
  const y = (t: number) => (Number.isNaN(t) ? missingY : TOP + (1 - t) * PLOT_HEIGHT)
  const colourAt = (t: number) => rampColor(options.direction === 'max' ? t : 1 - t)
  const many = trials.length > 30
  const parts: string[] = []

  // Colour legend: a gradient bar along the metric axis (bottom to top, as the axis runs).
  const stops = [0, 0.25, 0.5, 0.75, 1].map((o) => `<stop offset="${o * 100}%" stop-color="${colourAt(o)}" />`).join('')
  parts.push(`<defs><linearGradient id="pc-metric-gradient" x1="0" y1="1" x2="0" y2="0">${stops}</linearGradient></defs>`)

  // Lines first (axes and labels go on top): failed, then worst to best, the best last.
  const colourT = (t: ParallelTrial) => metricScale.position(t.value ?? NaN)
  const goodness = (t: ParallelTrial) => (Number.isNaN(colourT(t)) ? -1 : options.direction === 'max' ? colourT(t) : 1 - colourT(t))
  const order = [...trials].sort((a, b) => Number(a.best) - Number(b.best) || goodness(a) - goodness(b))
  for (const trial of order) {
    const points = axes.map((axis, i) => {
      const value = i === axes.length - 1 ? trial.value : trial.params[options.params[i]]
      return `${axisX(i).toFixed(1)},${y(axis.place(value)).toFixed(1)}`
    }).join(' ')
    const t = colourT(trial)
    const grey = trial.failed || Number.isNaN(t)
    const colour = grey ? FAILED_COLOR : colourAt(t)
    const width = trial.best ? 2.6 : many ? 1 : 1.6
    const classes = ['trial', trial.best ? 'best' : '', trial.failed ? 'failed' : ''].filter(Boolean).join(' ')
    const outline = trial.best ? `<polyline class="outline" points="${points}" stroke="#202124" stroke-width="${width + 2.4}" />` : ''
    const valueText = trial.value === undefined ? 'no value' : tickLabel(trial.value)
    const params = options.params.map((name) => `${name}=${trial.params[name] ?? 'n/a'}`).join(', ')
    parts.push(`<g class="${classes}" data-trial="${trial.key}" fill="none"${grey ? ' stroke-dasharray="5 4"' : ''} opacity="${grey ? 0.75 : many && !trial.best ? 0.5 : 0.9}">` +
      `<title>${escapeHtml(`${trial.label}\n${params}\n${options.metric} = ${valueText}`)}</title>${outline}` +
      `<polyline points="${points}" stroke="${colour}" stroke-width="${width}" /></g>`)
  }

  axes.forEach((axis, i) => {
    const ax = axisX(i)
    const room = i === 0 ? Math.min(spacing, 2 * left) : i === axes.length - 1 ? Math.min(spacing, 2 * right) : spacing
    parts.push(`<g class="axis-group" data-axis="${i}">` +
      `<line class="axis" x1="${ax}" x2="${ax}" y1="${TOP}" y2="${TOP + PLOT_HEIGHT}" />` +
      `<text class="axis-name" x="${ax}" y="${TOP - 26}" text-anchor="middle">${escapeHtml(clip(axis.title, (room - 14) / 7))}<title>${escapeHtml(axis.title)}</title></text>` +
      (axis.subtitle ? `<text class="axis-sub" x="${ax}" y="${TOP - 12}" text-anchor="middle">${escapeHtml(axis.subtitle)}</text>` : ''))
    // Tick labels left of a hyperparameter axis; right of the metric's colour bar, away from
    // the lines that converge on the metric axis.
    const isMetric = i === axes.length - 1
    const maxChars = (i === 0 ? left - 14 : isMetric ? right - METRIC_LABEL_OFFSET : spacing - 30) / CHAR
    const labelX = isMetric ? ax + METRIC_LABEL_OFFSET : ax - 6
    for (const label of thinLabels(axis.labels.map((l) => ({ ...l, at: (1 - l.at) * PLOT_HEIGHT })), 13)) {
      const ly = (TOP + label.at).toFixed(1)
      parts.push((isMetric
        ? `<line class="tick-mark" x1="${ax + 15}" x2="${ax + 19}" y1="${ly}" y2="${ly}" />`
        : `<line class="tick-mark" x1="${ax - 3}" x2="${ax}" y1="${ly}" y2="${ly}" />`) +
        `<text class="tick halo" x="${labelX}" y="${(TOP + label.at + 3.5).toFixed(1)}" text-anchor="${isMetric ? 'start' : 'end'}">${escapeHtml(clip(label.text, Math.min(18, maxChars)))}` +
        `<title>${escapeHtml(label.full)}</title></text>`)
    }
    if (axis.missingLabel) {
      parts.push(`<line class="axis missing" x1="${ax}" x2="${ax}" y1="${missingY - 6}" y2="${missingY + 6}" />` +
        `<text class="tick halo" x="${ax - 6}" y="${missingY + 3.5}" text-anchor="end">${escapeHtml(axis.missingLabel)}</text>`)
    }
    parts.push('</g>')
  })
  if (finite.length > 0) {
    const mx = axisX(axes.length - 1)
    parts.push(`<rect class="colour-bar" x="${mx + 6}" y="${TOP}" width="9" height="${PLOT_HEIGHT}" fill="url(#pc-metric-gradient)" />`)
  }
  return `<svg class="chart parallel" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" ` +
    `aria-label="${escapeHtml(`hyperparameters against ${options.metric}`)}">${parts.join('')}</svg>`
}
