// The HTML report of one experiment run (`malt experiments report ID --html OUT`): one
// self-contained page (inline CSS, SVG and a small script; nothing fetched) with the run's
// summary, its trials ranked by the metric, metric curves and a parallel-coordinates plot.
import { escapeHtml } from '../../data/profile/svg.js'
import { formatNumber } from '../../data/profile/text-report.js'
import type { ExperimentRecord, MetricsLine, TrialRecord } from '../records.js'
import type { Direction, ParamValue } from '../types.js'
import { curveChartSvg, type CurveSeries } from './curves-svg.js'
import { REPORT_CSS, REPORT_SCRIPT } from './page-assets.js'
import { parallelCoordinatesSvg } from './parallel-svg.js'
import { readRunForReport, type ReportRun } from './read-run.js'
import { FAILED_COLOR, TRIAL_PALETTE, numericScale, rampColor } from './scales.js'

/** Above this many trials the legend collapses and trials are coloured by metric value. */
const DISTINCT_COLOURS = TRIAL_PALETTE.length

const KIND_NAMES: Record<string, string> = {
  launch: 'single run (launch)',
  grid: 'grid search',
  random: 'random search',
  evolutionary: 'evolutionary search (differential evolution)',
  tpe: 'Bayesian optimisation (TPE)',
  ablation: 'ablation study',
  custom: 'custom search',
}

/** A trial as the page shows it: its rank, its colour, its intermediate results. */
interface ShownTrial {
  trial: TrialRecord
  /** Rank by the metric (0 = best); also the `data-trial` key of its elements. */
  key: number
  color: string
  best: boolean
  failed: boolean
  lines: MetricsLine[]
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Trials with a finite value first (best first), then NaN / infinite values, then none; ties by id. */
export function rankTrials(trials: readonly TrialRecord[], direction: Direction): TrialRecord[] {
  const group = (t: TrialRecord) => (t.value === undefined ? 2 : Number.isFinite(t.value) ? 0 : 1)
  const byId = (a: TrialRecord, b: TrialRecord) => a.id.localeCompare(b.id, 'en', { numeric: true })
  return [...trials].sort((a, b) => group(a) - group(b) ||
    (group(a) === 0 ? (direction === 'max' ? b.value! - a.value! : a.value! - b.value!) : 0) || byId(a, b))
}

/** `1 h 02 min`, `3 min 04 s`, `12.3 s`, `850 ms`. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '–'
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = ms / 1000
  if (s < 60) return `${s.toFixed(1)} s`
  const total = Math.round(s)
  const pad = (n: number) => String(n).padStart(2, '0')
  if (total < 3600) return `${Math.floor(total / 60)} min ${pad(total % 60)} s`
  return `${Math.floor(total / 3600)} h ${pad(Math.floor((total % 3600) / 60))} min`
}

function formatDate(value: unknown): string {
  if (typeof value !== 'string') return '–'
  const time = Date.parse(value)
  return Number.isNaN(time) ? value : `${new Date(time).toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

function elapsed(from: unknown, to: unknown): number | undefined {
  if (typeof from !== 'string' || typeof to !== 'string') return undefined
  const ms = Date.parse(to) - Date.parse(from)
  return Number.isNaN(ms) ? undefined : ms
}

function formatValue(value: number | undefined): string {
  return value === undefined ? '–' : Number.isNaN(value) ? 'NaN' : formatNumber(value)
}

function paramText(value: ParamValue | undefined): string {
  return value === undefined ? '–' : typeof value === 'number' ? formatNumber(value) : String(value)
}

/** Hyperparameter names: the space's keys in the user's order, then any others trials carry. */
function paramNames(experiment: ExperimentRecord): { names: string[]; choices: Record<string, readonly ParamValue[]> } {
  const names: string[] = []
  const choices: Record<string, readonly ParamValue[]> = {}
  const space = experiment.space
  if (isObject(space)) {
    for (const [key, spec] of Object.entries(space)) {
      if (Array.isArray(spec)) choices[key] = spec as ParamValue[]
      else if (isObject(spec) && Array.isArray(spec.choices)) choices[key] = spec.choices as ParamValue[]
    }
  }
  for (const trial of experiment.trials) for (const key of Object.keys(trial.params)) if (!names.includes(key)) names.push(key)
  const spaceOrder = isObject(space) ? Object.keys(space) : []
  names.sort((a, b) => (spaceOrder.includes(a) ? spaceOrder.indexOf(a) : Infinity) - (spaceOrder.includes(b) ? spaceOrder.indexOf(b) : Infinity))
  return { names, choices }
}

/** A trial name that may wrap after each `&` (names are `lr=0.01&dropout=0.5`). */
function breakable(name: string): string {
  return escapeHtml(name).replaceAll('&amp;', '&amp;<wbr>')
}

/** A trial's colour key; dashed for a failed trial, as its curves are. */
function swatch(color: string, dashed: boolean): string {
  const background = dashed ? `repeating-linear-gradient(90deg,${color} 0 3px,transparent 3px 5px)` : color
  return `<span class="swatch" style="background:${background}"></span>`
}

function stateBadge(state: string, text = state): string {
  return `<span class="badge ${escapeHtml(state)}">${escapeHtml(text)}</span>`
}

function header(run: ReportRun, shown: ShownTrial[]): string {
  const e = run.experiment
  const counts = new Map<string, number>()
  for (const { trial } of shown) counts.set(trial.state, (counts.get(trial.state) ?? 0) + 1)
  const byState = [...counts].map(([state, n]) => stateBadge(state, `${n} ${state}`)).join(' ')
  const duration = e.finishedAt ? formatDuration(elapsed(e.startedAt, e.finishedAt)) : e.state === 'running' ? 'still running' : '–'
  const facts: [string, string][] = [
    ['kind', escapeHtml(Object.hasOwn(KIND_NAMES, e.kind) ? KIND_NAMES[e.kind] : String(e.kind))],
    ['state', stateBadge(String(e.state))],
    ['metric', `<strong>${escapeHtml(e.metric)}</strong> (${e.direction === 'max' ? 'max: higher is better' : 'min: lower is better'})`],
    ['started', escapeHtml(formatDate(e.startedAt))],
    ['finished', escapeHtml(formatDate(e.finishedAt))],
    ['duration', escapeHtml(duration)],
    ['trials', `${shown.length} ${byState}`],
  ]
  const environment = Object.entries(run.environment).map(([k, v]) => `${escapeHtml(k)} ${escapeHtml(v)}`).join(' · ')
  if (environment) facts.push(['environment', environment])
  const id = typeof e.id === 'number' ? `Experiment #${e.id} · ` : ''
  return `<h1>${escapeHtml(e.name)}</h1>\n<div class="meta">${id}${escapeHtml(`${String(e.appId ?? '?')} / ${String(e.runId ?? '?')}`)}</div>\n` +
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`
}

function bestBox(experiment: ExperimentRecord, best: ShownTrial | undefined): string {
  if (!best) return '<div class="best-box none"><strong>No best trial</strong>: no trial produced a value of the metric.</div>'
  const t = best.trial
  const chips = Object.entries(t.params).map(([k, v]) => `<span class="chip">${escapeHtml(k)} = ${escapeHtml(paramText(v))}</span>`).join('')
  return `<div class="best-box"><strong>Best trial</strong>: ${swatch(best.color, false)}${escapeHtml(t.id)} ` +
    `<code>${escapeHtml(t.name)}</code> — ${escapeHtml(experiment.metric)} = <strong title="${escapeHtml(String(t.value))}">${escapeHtml(formatValue(t.value))}</strong>` +
    `<div>${chips || '<span class="muted">no hyperparameters</span>'}</div></div>`
}

function notes(trial: TrialRecord): string {
  const parts: string[] = []
  if (trial.earlyStopped) parts.push('<span class="badge note">stopped early</span>')
  if (trial.reused) parts.push('<span class="badge note">reused identical trial</span>')
  for (const f of trial.failures) {
    const where = `attempt ${f.attempt}${f.executor ? ` on ${f.executor}` : ''}`
    const message = f.message.length > 300 ? `${f.message.slice(0, 299)}…` : f.message
    parts.push(`<div class="failure"><span class="reason">${escapeHtml(f.reason)}</span> <span class="muted">(${escapeHtml(where)})</span>: ${escapeHtml(message)}` +
      (f.stack ? `<details class="stack"><summary>stack trace</summary><pre>${escapeHtml(f.stack)}</pre></details>` : '') + '</div>')
  }
  return parts.join(' ')
}

function trialsTable(experiment: ExperimentRecord, shown: ShownTrial[], params: string[]): string {
  const others = [...new Set(shown.flatMap(({ trial }) => Object.keys(trial.metrics)))].filter((m) => m !== experiment.metric).sort()
  const head = ['#', 'trial', 'state', ...params, experiment.metric, ...others, 'duration', 'attempts', 'notes']
  const leftAligned = new Set(['trial', 'state', 'notes'])
  const rows = shown.map(({ trial: t, key, color, best, failed }) => {
    const rank = t.value !== undefined && Number.isFinite(t.value) ? String(key + 1) : '–'
    const duration = t.durationMs ?? elapsed(t.startedAt, t.finishedAt)
    const cells = [
      `<td class="num">${rank}</td>`,
      `<td class="trial-name left">${swatch(color, failed)}<span class="id">${escapeHtml(t.id)}</span>${breakable(t.name)}${best ? ' ★' : ''}</td>`,
      `<td class="left">${stateBadge(t.state)}</td>`,
      ...params.map((p) => `<td class="num" title="${escapeHtml(String(t.params[p] ?? ''))}">${escapeHtml(paramText(t.params[p]))}</td>`),
      `<td class="num metric" title="${escapeHtml(String(t.value ?? ''))}">${escapeHtml(formatValue(t.value))}</td>`,
      ...others.map((m) => `<td class="num">${escapeHtml(formatValue(t.metrics[m]))}</td>`),
      `<td class="num">${escapeHtml(formatDuration(duration))}</td>`,
      `<td class="num">${t.attempts}</td>`,
      `<td class="notes left">${notes(t)}</td>`,
    ]
    const classes = [best ? 'best' : '', failed ? 'failed' : '', t.state === 'stopped' ? 'stopped' : ''].filter(Boolean).join(' ')
    return `<tr class="${classes}" data-trial="${key}" data-id="${escapeHtml(t.id)}">${cells.join('')}</tr>`
  })
  // Many trials: the table scrolls in its own box (header kept) so the charts stay in reach.
  return `<div class="table-wrap${shown.length > 30 ? ' tall' : ''}"><table class="trials"><thead><tr>${head.map((h) => `<th${leftAligned.has(h) ? ' class="left"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead>\n` +
    `<tbody>\n${rows.join('\n')}\n</tbody></table></div>`
}

function legend(shown: ShownTrial[]): string {
  const items = shown
    .filter(({ lines }) => lines.length > 0)
    .map(({ trial, key, color, best, failed }) =>
      `<span class="item${best ? ' best' : ''}" data-trial="${key}" title="${escapeHtml(`${trial.id} ${trial.name}`)}">` +
      `${swatch(color, failed)}${escapeHtml(trial.name)}${best ? ' ★' : ''}</span>`)
  const box = `<div class="legend">${items.join('')}</div>`
  if (shown.length <= DISTINCT_COLOURS) return box
  return `<details class="legend-wrap"><summary>Legend: ${items.length} trials (coloured by metric value: orange best, dark blue worst)</summary>${box}</details>`
}

function curvesSection(experiment: ExperimentRecord, shown: ShownTrial[]): string {
  const reported = [...new Set(shown.flatMap(({ lines }) => lines.flatMap((l) => Object.keys(l.metrics))))]
  if (reported.length === 0) {
    return '<h2>Metric curves</h2><p class="muted">No intermediate results: no trial reported metrics during training (<code>ctx.report</code>), ' +
      'so there are no curves; the final values are in the table above.</p>'
  }
  const metrics = [...reported.filter((m) => m === experiment.metric), ...reported.filter((m) => m !== experiment.metric).sort()]
  const many = shown.length > DISTINCT_COLOURS
  const charts = metrics.map((metric) => {
    const series: CurveSeries[] = []
    for (const s of shown) {
      const points = s.lines.filter((l) => metric in l.metrics).map((l) => ({ step: l.step, value: l.metrics[metric] }))
      if (points.length > 0) series.push({ key: s.key, label: `${s.trial.id} ${s.trial.name}`, color: s.color, best: s.best, failed: s.failed, points })
    }
    const note = metric === experiment.metric ? ` <span class="muted">(search metric, ${experiment.direction})</span>` : ''
    return `<div class="chart-box"><h3>${escapeHtml(metric)}${note}</h3>${curveChartSvg(metric, series, { many })}</div>`
  })
  return `<h2>Metric curves</h2><div class="muted">Values reported with <code>ctx.report(step, metrics)</code>, one line per trial; ` +
    'the best trial is drawn thicker, failed trials dashed. Hover a line, a legend entry or a table row to highlight a trial; click a legend entry to hide it.</div>' +
    `${legend(shown)}<div class="charts">${charts.join('')}</div>`
}

function parallelSection(experiment: ExperimentRecord, shown: ShownTrial[], params: string[], choices: Record<string, readonly ParamValue[]>): string {
  if (params.length === 0) return '<h2>Hyperparameters</h2><p class="muted">The trials have no hyperparameters to compare.</p>'
  const svg = parallelCoordinatesSvg(
    shown.map(({ trial, key, best, failed }) => ({ key, label: `${trial.id} ${trial.name}`, params: trial.params, value: trial.value, failed, best })),
    { metric: experiment.metric, direction: experiment.direction, params, choices },
  )
  return '<h2>Hyperparameters against the metric</h2><div class="muted">One line per trial through its hyperparameters to its ' +
    `${escapeHtml(experiment.metric)}; colour = ${escapeHtml(experiment.metric)} (orange best, dark blue worst; the bar beside the last axis), ` +
    'the best trial outlined, failed trials grey and dashed. Numeric axes spanning more than two decades are logarithmic.</div>' +
    `<div class="scroll">${svg}</div>`
}

/** Ranks, colours and pairs every trial with its intermediate results. */
function showTrials(run: ReportRun): ShownTrial[] {
  const e = run.experiment
  const ranked = rankTrials(e.trials, e.direction)
  const recorded = isObject(e.best) && typeof e.best.trialId === 'string' ? e.best.trialId : undefined
  const fallback = ranked[0] && ranked[0].value !== undefined && Number.isFinite(ranked[0].value) ? ranked[0].id : undefined
  const bestId = recorded !== undefined && ranked.some((t) => t.id === recorded) ? recorded : fallback
  const scale = numericScale(ranked.map((t) => t.value ?? NaN))
  return ranked.map((trial, key) => {
    const position = scale.position(trial.value ?? NaN)
    const byValue = Number.isNaN(position) ? FAILED_COLOR : rampColor(e.direction === 'max' ? position : 1 - position)
    return {
      trial,
      key,
      color: ranked.length <= DISTINCT_COLOURS ? TRIAL_PALETTE[key] : byValue,
      best: trial.id === bestId,
      failed: trial.state === 'failed',
      lines: run.metrics.get(trial.id) ?? [],
    }
  })
}

/** The page for a run already read (see {@link readRunForReport}). */
export function renderReportHtml(run: ReportRun): string {
  const e = run.experiment
  const shown = showTrials(run)
  const { names, choices } = paramNames(e)
  const warnings = run.warnings.length
    ? `<div class="warnings"><strong>Skipped while reading the run:</strong><ul>${run.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul></div>`
    : ''
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(`${e.name} — experiment report`)}</title><style>${REPORT_CSS}</style></head>
<body>
${header(run, shown)}
${bestBox(e, shown.find((s) => s.best))}
${warnings}
<h2>Trials (${shown.length}), best first</h2>
${trialsTable(e, shown, names)}
${curvesSection(e, shown)}
${parallelSection(e, shown, names, choices)}
<script>${REPORT_SCRIPT}</script>
</body></html>
`
}

/**
 * The HTML report of the run in `runDir` (`Experiments/<appId>/<runId>/`): one self-contained
 * page that works offline. Every string from the run's files is escaped.
 *
 * @example
 * await writeFile('report.html', await renderExperimentReport('malt-home/Experiments/app_…/run.1'))
 */
export async function renderExperimentReport(runDir: string): Promise<string> {
  return renderReportHtml(await readRunForReport(runDir))
}
