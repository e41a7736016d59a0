// The HTML profile report (like Facets Overview): one self-contained page, inline CSS and
// SVG, no scripts; a table per column kind, both data sets side by side and drift flagged.
import type { Comparison, ColumnDrift } from './drift.js'
import { SERIES_COLORS, escapeHtml, histogramSvg, topValuesSvg } from './svg.js'
import { displayValue, formatNumber, formatPValue, formatPercent } from './text-report.js'
import type { ColumnKind, ColumnProfile, Profile } from './types.js'

/** A second data set to show next to the first, with the drift between them. */
export interface ComparedProfile {
  profile: Profile
  comparison: Comparison
}

/** Options of {@link renderProfileHtml}. */
export interface HtmlReportOptions {
  /** The page title. @defaultValue 'Data profile' */
  title?: string
  /** Histogram bins when two data sets are re-binned together. @defaultValue 20 */
  bins?: number
}

const CSS = `
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#202124;margin:24px;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;margin-bottom:8px}.muted{color:#888}
.legend span{display:inline-block;margin-right:16px}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eee;vertical-align:middle;white-space:nowrap}
th{font-weight:600;text-align:right;background:#f6f7f9;position:sticky;top:0;z-index:1}th:first-child,td.name{text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.chart{padding:2px 8px}
td.name{font-weight:600;max-width:220px;overflow:hidden;text-overflow:ellipsis;white-space:normal;word-break:break-all}
tr.group-start td{border-top:1px solid #ccc}tr.drifted td{background:#fdecea}
.type{font-weight:400;color:#666;font-size:11px;margin-left:4px}
.badge{display:inline-block;font-size:11px;font-weight:600;padding:1px 6px;border-radius:8px;margin-left:6px}
.badge.drift{background:#d93025;color:#fff}.badge.ok{background:#e6f4ea;color:#137333}
.set{font-size:11px;font-weight:600;color:#fff;padding:1px 5px;border-radius:3px}
.summary{padding:8px 12px;border-radius:6px;margin:12px 0}.summary.bad{background:#fdecea;border:1px solid #f3b7b1}.summary.good{background:#e6f4ea;border:1px solid #a8dab5}
svg .tick{font-size:10px;fill:#555}svg .label{font-size:11px;fill:#202124}
.drift-cell{font-size:12px;text-align:left}.drift-cell .badge{margin:0 0 2px}.drift-cell .stat{color:#444}
td.left,th.left{text-align:left}
`

interface Ctx {
  sets: { profile: Profile; label: string }[]
  drift: Map<string, ColumnDrift>
  bins: number
}

function setBadge(index: number, label: string): string {
  return `<span class="set" style="background:${SERIES_COLORS[index]}">${escapeHtml(label)}</span>`
}

function driftCell(drift: ColumnDrift | undefined): string {
  if (!drift) return ''
  const stat = drift.ks
    ? `KS D=${drift.ks.d.toFixed(3)},<br>p=${formatPValue(drift.ks.pValue)}`
    : drift.jensenShannon !== undefined ? `JS distance<br>${drift.jensenShannon.toFixed(3)}` : escapeHtml(drift.reason)
  const badge = drift.drifted ? '<span class="badge drift">drift</span>' : '<span class="badge ok">ok</span>'
  return `<td class="drift-cell" rowspan="ROWSPAN">${badge}<div class="stat">${stat}</div></td>`
}

function cells(kind: ColumnKind, c: ColumnProfile, rows: number): string[] {
  const n = formatNumber
  if (kind === 'numeric') {
    const s = c.numeric
    return [n(c.count), formatPercent(c.missing, rows), n(s?.mean), n(s?.std), s ? formatPercent(s.zeros, s.count) : '–', n(s?.min), `${s?.approximate ? '≈' : ''}${n(s?.median)}`, n(s?.max)]
  }
  if (kind === 'categorical') {
    const s = c.categorical
    const top = s?.top[0]
    return [n(c.count), formatPercent(c.missing, rows), `${s?.distinctApproximate ? '≈' : ''}${n(s?.distinct)}`, top ? displayValue(top.value) : '–', top ? n(top.count) : '–', n(s?.meanLength)]
  }
  const v = c.vector
  const e = v?.elements
  const length = v ? (v.minLength === v.maxLength ? n(v.minLength) : `${n(v.minLength)}–${n(v.maxLength)}`) : '–'
  return [n(c.count), formatPercent(c.missing, rows), length, n(e?.mean), n(e?.std), n(e?.min), n(e?.max), e ? formatPercent(e.zeros, e.count) : '–']
}

const HEADERS: Record<Exclude<ColumnKind, 'empty'>, string[]> = {
  numeric: ['count', 'missing', 'mean', 'std dev', 'zeros', 'min', 'median', 'max'],
  categorical: ['count', 'missing', 'unique', 'top', 'freq top', 'avg str len'],
  vector: ['count', 'missing', 'length', 'elem mean', 'elem std', 'elem min', 'elem max', 'elem zeros'],
}

function chart(kind: ColumnKind, columns: (ColumnProfile | undefined)[], ctx: Ctx): string {
  if (kind === 'numeric') return histogramSvg(columns.map((c) => c?.numeric), ctx.bins)
  if (kind === 'vector') return histogramSvg(columns.map((c) => c?.vector?.elements), ctx.bins)
  return topValuesSvg(columns.map((c) => c?.categorical))
}

function section(kind: Exclude<ColumnKind, 'empty'>, title: string, ctx: Ctx): string {
  const names: string[] = []
  for (const { profile } of ctx.sets) for (const c of profile.columns) if (c.kind === kind && !names.includes(c.name)) names.push(c.name)
  if (names.length === 0) return ''
  const comparing = ctx.sets.length > 1
  const head = ['feature', ...(comparing ? ['data set'] : []), ...HEADERS[kind], kind === 'categorical' ? 'top values' : 'histogram', ...(comparing ? ['drift'] : [])]
  const body: string[] = []
  for (const name of names) {
    const columns = ctx.sets.map(({ profile }) => profile.columns.find((c) => c.name === name))
    const drift = ctx.drift.get(name)
    const rowspan = ctx.sets.length
    const type = columns.find((c) => c)?.type ?? ''
    ctx.sets.forEach(({ profile, label }, index) => {
      const column = columns[index]
      const fits = column !== undefined && (column.kind === kind || column.kind === 'empty')
      const values = fits ? cells(kind, column, profile.rows) : HEADERS[kind].map(() => '–')
      const note = !column ? 'absent' : fits ? '' : `holds ${column.type}`
      const tds: string[] = []
      if (index === 0) {
        const flag = drift?.drifted ? '<span class="badge drift">drift</span>' : ''
        tds.push(`<td class="name" rowspan="${rowspan}">${escapeHtml(name)}<span class="type">${escapeHtml(type)}</span>${flag}</td>`)
      }
      if (comparing) tds.push(`<td class="left">${setBadge(index, label)}${note ? ` <span class="muted">${escapeHtml(note)}</span>` : ''}</td>`)
      tds.push(...values.map((value) => `<td class="num">${escapeHtml(value)}</td>`))
      if (index === 0) {
        tds.push(`<td class="chart" rowspan="${rowspan}">${chart(kind, columns, ctx)}</td>`)
        if (comparing) tds.push(driftCell(drift).replace('ROWSPAN', String(rowspan)) || `<td rowspan="${rowspan}"></td>`)
      }
      const classes = [index === 0 ? 'group-start' : '', drift?.drifted ? 'drifted' : ''].filter(Boolean).join(' ')
      body.push(`<tr class="${classes}" data-column="${escapeHtml(name)}" data-set="${index === 0 ? 'a' : 'b'}"${drift?.drifted ? ' data-drift="true"' : ''}>${tds.join('')}</tr>`)
    })
  }
  return `<h2>${escapeHtml(title)} (${names.length})</h2>\n<table class="${kind}"><thead><tr>${head.map((h) => `<th${['data set', 'drift', 'histogram', 'top values'].includes(h) ? ' class="left"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody></table>`
}

function summary(ctx: Ctx, comparison: Comparison | undefined): string {
  if (!comparison) return ''
  const t = comparison.thresholds
  const rule = `KS: p &lt; ${t.ksPValue} and D &gt; ${t.ksStatistic}; categories: Jensen–Shannon distance &gt; ${t.jensenShannon}`
  const oneSide = comparison.columns.filter((c) => c.presence !== 'both')
  const only = oneSide.length
    ? `<div>In one data set only: ${oneSide.map((c) => `${escapeHtml(c.name)} (${c.presence === 'a-only' ? escapeHtml(ctx.sets[0].label) : escapeHtml(ctx.sets[1].label)})`).join(', ')}</div>`
    : ''
  if (comparison.drifted.length === 0) return `<div class="summary good">No drift: all ${comparison.columns.length} columns within thresholds (${rule}).${only}</div>`
  return `<div class="summary bad"><strong>${comparison.drifted.length} of ${comparison.columns.length} columns drifted:</strong> ` +
    `${comparison.drifted.map((name) => escapeHtml(name)).join(', ')}<div class="muted">${rule}</div>${only}</div>`
}

/**
 * The profile (and optionally a second data set with the drift between them) as one
 * self-contained HTML page. Safe for untrusted data: every string from the data is escaped.
 *
 * @example
 * await writeFile('report.html', renderProfileHtml(train, { profile: test, comparison }))
 */
export function renderProfileHtml(profile: Profile, compared?: ComparedProfile, options: HtmlReportOptions = {}): string {
  const title = options.title ?? 'Data profile'
  const sets = [{ profile, label: profile.name ?? 'A' }]
  if (compared) sets.push({ profile: compared.profile, label: compared.profile.name ?? 'B' })
  if (sets.length === 2 && sets[0].label === sets[1].label) {
    sets[0].label += ' (A)'
    sets[1].label += ' (B)'
  }
  const ctx: Ctx = { sets, drift: new Map((compared?.comparison.columns ?? []).map((c) => [c.name, c])), bins: options.bins ?? 20 }
  const meta = sets
    .map(({ profile: p, label }, i) => `<span>${sets.length > 1 ? `<span class="swatch" style="background:${SERIES_COLORS[i]}"></span>` : ''}<strong>${escapeHtml(label)}</strong>: ` +
      `${formatNumber(p.rows)} rows${p.truncated ? ' (limited)' : ''}, ${p.columns.length} columns</span>`)
    .join('')
  const empty = [...new Set(sets.flatMap(({ profile: p }) => p.columns.filter((c) => c.kind === 'empty').map((c) => c.name)))]
  const sections = [
    section('numeric', 'Numeric features', ctx),
    section('categorical', 'Categorical features', ctx),
    section('vector', 'Vector features', ctx),
    empty.length ? `<h2>Empty features (${empty.length})</h2><p>Every value missing: ${empty.map(escapeHtml).join(', ')}</p>` : '',
  ]
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<div class="meta legend">${meta}</div>
<div class="muted">≈ estimated from a uniform sample (median) or a HyperLogLog sketch (unique). Hover a bar for its range and count.</div>
${summary(ctx, compared?.comparison)}
${sections.filter(Boolean).join('\n')}
</body></html>
`
}
