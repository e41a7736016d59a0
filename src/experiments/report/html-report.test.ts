// Tests of the experiment HTML report on fabricated run directories: ranking, escaping,
// curves (attempt dirs, NaN gaps), parallel-coordinates axes, and the awkward runs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { rejectsWith } from '../../../test/helpers/errors.js'
import { experimentRecord, gridSearchRun, manyTrialsRun, trialRecord, writeRun } from '../../../test/helpers/experiment-runs.js'
import { formatDuration, readRunForReport, renderExperimentReport } from './index.js'
import { logTicks, niceTicks, thinLabels } from './scales.js'

const temp = useTempDir()

/** The HTML of one `<svg class="chart …">` (the nth whose class list has `kind`). */
function svgs(html: string, kind: string): string[] {
  return [...html.matchAll(/<svg class="chart ([^"]*)"[\s\S]*?<\/svg>/g)].filter((m) => m[1].split(' ').includes(kind)).map((m) => m[0])
}

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length
}

/** The `<g class="curve…" data-trial=…>` groups of a curve chart, by trial label. */
function curveGroups(svg: string): Map<string, string> {
  return new Map([...svg.matchAll(/<g class="curve[^"]*"[^>]*><title>([^<]*)<\/title>([\s\S]*?)<\/g>/g)].map((m) => [m[1], m[2]]))
}

test('a grid search: rows ranked best first, failed last, best marked', async () => {
  const dir = gridSearchRun(temp.join('grid'))
  writeFileSync(join(dir, 'environment.json'), JSON.stringify({ node: 'v20.19.0', maltVersion: '0.1.0', git: { commit: '0123456789abcdef', dirty: true } }))
  const html = await renderExperimentReport(dir)
  assert.match(html, /<dt>environment<\/dt><dd>node v20\.19\.0 · malt 0\.1\.0 · git 0123456789ab \(dirty\)<\/dd>/)
  const rows = [...html.matchAll(/<tr class="([^"]*)" data-trial="(\d+)" data-id="([^"]+)">[\s\S]*?<td class="num metric"[^>]*>([^<]*)</g)]
  assert.equal(rows.length, 12)
  const values = rows.map((r) => r[4])
  const finite = values.slice(0, 11).map(Number)
  assert.deepEqual(finite, [...finite].sort((a, b) => b - a), `values not descending: ${values}`)
  assert.equal(values[11], '–')
  assert.match(rows[11][1], /failed/)
  assert.match(rows[0][1], /best/)
  assert.equal(rows[0][3], 't0004')
  assert.match(html, /Best trial<\/strong>: .*t0004 <code>lr=0\.001&amp;optimizer=adam<\/code> — accuracy = <strong[^>]*>0\.898</)
  assert.match(html, /<span class="badge stopped">1 stopped<\/span>/)
  assert.match(html, /stopped early/)
  assert.match(html, /loss became NaN at step 4/)
  assert.match(html, /<details class="stack"><summary>stack trace<\/summary><pre>Error: loss became NaN/)
  assert.match(html, /<dt>duration<\/dt><dd>41 min 30 s<\/dd>/)
})

test('curves: one chart per reported metric, one group per trial, the kept attempt read', async () => {
  const html = await renderExperimentReport(gridSearchRun(temp.join('grid-curves')))
  const charts = svgs(html, 'curves')
  assert.deepEqual(charts.map((svg) => /data-metric="([^"]+)"/.exec(svg)![1]), ['accuracy', 'loss', 'val_accuracy', 'val_loss'])
  const accuracy = charts[0]
  assert.equal(curveGroups(accuracy).size, 12)
  assert.equal(count(accuracy, /<polyline /g), 12)
  // The failed trial was retried: its curve is attempt-2's 6 steps, not attempt 1's 12.
  const failed = curveGroups(accuracy).get('t0011 lr=0.1&amp;optimizer=sgd')!
  assert.equal(/points="([^"]+)"/.exec(failed)![1].split(' ').length, 6)
  assert.match(accuracy, /<g class="curve failed" data-trial="11"[^>]*stroke-dasharray/)
  assert.match(accuracy, /<g class="curve best" data-trial="0"[^>]*stroke-width="3"/)
  // Its loss is NaN from step 4: the line stops after step 3.
  const loss = curveGroups(charts[1]).get('t0011 lr=0.1&amp;optimizer=sgd')!
  assert.equal(/points="([^"]+)"/.exec(loss)![1].split(' ').length, 3)
  // Legend: one entry per trial with curves.
  assert.equal(count(html, /<span class="item[^"]*" data-trial=/g), 12)
})

test('parallel coordinates: an axis per hyperparameter plus the metric, log only past two decades', async () => {
  const html = await renderExperimentReport(gridSearchRun(temp.join('grid-pc')))
  const [svg] = svgs(html, 'parallel')
  const names = [...svg.matchAll(/<text class="axis-name"[^>]*>([^<]*)</g)].map((m) => m[1])
  assert.deepEqual(names, ['lr', 'optimizer', 'accuracy'])
  const axis = (i: number) => /<g class="axis-group" data-axis="\d+">[\s\S]*?<\/g>/g[Symbol.match](svg)![i]
  assert.match(axis(0), /<text class="axis-sub"[^>]*>log</)
  const tickTexts = (a: string) => [...a.matchAll(/<text class="tick halo"[^>]*y="([\d.]+)"[^>]*>([^<]*)</g)].map((m) => ({ y: Number(m[1]), text: m[2] }))
  assert.deepEqual(tickTexts(axis(0)).map((t) => t.text), ['0.1', '0.01', '0.001', '1e-4'])
  // Decades are evenly spaced on a log axis.
  const ys = tickTexts(axis(0)).map((t) => t.y)
  assert.ok(Math.abs((ys[1] - ys[0]) - (ys[3] - ys[2])) < 0.2, `log spacing ${ys}`)
  // Categories in the space's order, bottom to top, evenly spaced.
  const optimizer = tickTexts(axis(1))
  assert.deepEqual(optimizer.map((t) => t.text), ['rmsprop', 'sgd', 'adam'])
  assert.ok(Math.abs((optimizer[1].y - optimizer[0].y) - (optimizer[2].y - optimizer[1].y)) < 0.2)
  assert.match(axis(2), /higher is better/)
  assert.match(axis(2), />failed</)
  assert.equal(count(svg, /<g class="trial/g), 12)
  assert.match(svg, /<g class="trial failed" data-trial="11"[^>]*stroke-dasharray="5 4"[^>]*>[\s\S]*?stroke="#9aa0a6"/)
  assert.match(svg, /<g class="trial best" data-trial="0"[^>]*>[\s\S]*?<polyline class="outline"/)
  assert.match(svg, /<rect class="colour-bar"/)

  const linear = writeRun(temp.join('linear'), experimentRecord([
    trialRecord(1, { lr: 0.001, dropout: 0.2 }, 0.8), trialRecord(2, { lr: 0.05, dropout: 0.5 }, 0.7),
  ]))
  const [flat] = svgs(await renderExperimentReport(linear), 'parallel')
  assert.doesNotMatch(flat, /axis-sub[^>]*>log</, 'a span of 50× stays linear')
})

test('every string from the files is escaped', async () => {
  const xss = '<script>window.__xss=1</script>'
  const img = '<img src=x onerror="window.__xss=2">'
  const trials = [
    trialRecord(1, { [`k${img}`]: xss, lr: 0.1 }, 0.5, { name: `a${xss}` }),
    trialRecord(2, { [`k${img}`]: img, lr: 0.2 }, undefined, {
      name: 'b"><svg onload=alert(1)>',
      failures: [{ reason: 'error', message: `boom ${xss}`, stack: `Error: ${img}\n at </pre><script>x()</script>`, executor: `local${img}`, attempt: 1 }],
    }),
  ]
  const dir = writeRun(temp.join('xss'), experimentRecord(trials, { name: `exp ${xss}`, metric: `acc${img}`, appId: `app${xss}` }))
  mkdirSync(join(dir, 'b"><svg onload=alert(1)>'), { recursive: true })
  writeFileSync(join(dir, 'b"><svg onload=alert(1)>', 'metrics.jsonl'), `${JSON.stringify({ step: 1, time: 0, metrics: { [`m${xss}`]: 1 } })}\n`)
  const html = await renderExperimentReport(dir)
  assert.equal(count(html, /<script/gi), 1, 'only the report\'s own script')
  assert.equal(count(html, /<img/gi), 0)
  assert.doesNotMatch(html, /<svg onload/i)
  assert.doesNotMatch(html, /onerror="/)
  assert.ok(html.includes('exp &lt;script&gt;window.__xss=1&lt;/script&gt;'))
  assert.ok(html.includes('boom &lt;script&gt;'))
  assert.ok(html.includes('at &lt;/pre&gt;&lt;script&gt;x()&lt;/script&gt;'))
  assert.ok(html.includes('b&quot;&gt;&lt;svg onload=alert(1)&gt;'))
  assert.ok(html.includes('m&lt;script&gt;'), 'a metric name from metrics.jsonl is escaped too')
  // A name with "/" is not a path: its metrics.jsonl is not looked for, and the report says so.
  assert.match(html, /is not a file name; its metrics\.jsonl was not read/)
})

test('a launch without metrics.jsonl: one trial, no curves, a one-line plot', async () => {
  const dir = writeRun(temp.join('launch'), experimentRecord([trialRecord(1, { lr: 0.01 }, 0.91)], {
    kind: 'launch', space: { lr: [0.01] }, best: { trialId: 't0001', name: 'lr=0.01', value: 0.91, params: { lr: 0.01 } },
  }))
  const html = await renderExperimentReport(dir)
  assert.match(html, /single run \(launch\)/)
  assert.match(html, /No intermediate results/)
  assert.equal(svgs(html, 'curves').length, 0)
  const [svg] = svgs(html, 'parallel')
  assert.equal(count(svg, /<g class="trial best"/g), 1)
  assert.doesNotMatch(svg, /NaN/)
})

test('all trials failed: no best, grey dashed lines to the "failed" slot, no colour bar', async () => {
  const failure = { reason: 'crash' as const, message: 'exit code 1', attempt: 1 }
  const dir = writeRun(temp.join('failed'), experimentRecord([
    trialRecord(1, { lr: 0.1, act: 'relu' }, undefined, { failures: [failure] }), trialRecord(2, { lr: 0.2, act: 'tanh' }, undefined, { failures: [failure] }),
  ], { state: 'failed' }))
  const html = await renderExperimentReport(dir)
  assert.match(html, /<div class="best-box none"><strong>No best trial/)
  assert.equal(count(html, /<tr class="failed"/g), 2)
  const [svg] = svgs(html, 'parallel')
  assert.equal(count(svg, /<g class="trial failed"[^>]*stroke-dasharray/g), 2)
  assert.match(svg, />failed</)
  assert.doesNotMatch(svg, /colour-bar|NaN/)
})

test('NaN values: a NaN result ranks after finite ones; a NaN step breaks the line', async () => {
  const dir = writeRun(temp.join('nan'), experimentRecord([
    trialRecord(1, { lr: 0.1 }, NaN, { metrics: { accuracy: NaN } }), trialRecord(2, { lr: 0.2 }, 0.3), trialRecord(3, { lr: 0.3 }, 0.6),
  ], { direction: 'min' }), {
    'lr=0.1': [1, 0.9, NaN, 0.8, 0.7].map((v, i) => ({ step: i, time: 0, metrics: { loss: v } })),
    'lr=0.2': '{"step":0,"time":0,"metrics":{"loss":1}}\nnot json\n{"step":1,"time":0,"metrics":{"loss":0.5}}\n{"step":2,"ti',
  })
  const html = await renderExperimentReport(dir)
  const ids = [...html.matchAll(/data-id="([^"]+)"/g)].map((m) => m[1])
  assert.deepEqual(ids, ['t0002', 't0003', 't0001'], 'min: 0.3 before 0.6, NaN last')
  assert.match(html, /data-id="t0001">[\s\S]*?<td class="num metric"[^>]*>NaN</)
  const groups = curveGroups(svgs(html, 'curves')[0])
  assert.equal(count(groups.get('t0001 lr=0.1')!, /<polyline /g), 2)
  assert.equal(count(groups.get('t0002 lr=0.2')!, /<polyline /g), 1)
  // The bad middle line is reported; the torn last line (a crash mid-write) is not.
  assert.match(html, /t0002: 1 unreadable line of metrics\.jsonl skipped/)
  assert.doesNotMatch(html, /2 unreadable lines/)
})

test('120 trials: collapsed legend, thin lines, a scrolling table', async () => {
  const html = await renderExperimentReport(manyTrialsRun(temp.join('many')))
  assert.match(html, /<details class="legend-wrap"><summary>Legend: 120 trials/)
  assert.match(html, /<div class="table-wrap tall">/)
  const [curves] = svgs(html, 'curves')
  assert.match(curves, /class="chart curves many"/)
  assert.equal(curveGroups(curves).size, 120)
  assert.equal(count(curves, /<polyline points/g), 120)
  assert.equal(count(curves, /stroke-width="1"/g), 119)
  const [svg] = svgs(html, 'parallel')
  assert.equal(count(svg, /<g class="trial/g), 120)
  assert.match(/<g class="axis-group" data-axis="0">[\s\S]*?<\/g>/.exec(svg)![0], /axis-sub[^>]*>log</)
})

test('the reader: result.json wins over experiment.json; missing and corrupt files are named', async () => {
  const dir = writeRun(temp.join('resume'), experimentRecord([trialRecord(1, { lr: 0.1 }, undefined, { state: 'running', failures: [] })], { state: 'killed' }))
  mkdirSync(join(dir, 'lr=0.1'), { recursive: true })
  writeFileSync(join(dir, 'lr=0.1', 'result.json'), JSON.stringify(trialRecord(1, { lr: 0.1 }, 0.75)))
  const run = await readRunForReport(dir)
  assert.equal(run.experiment.trials[0].state, 'finished')
  assert.equal(run.experiment.trials[0].value, 0.75)

  await rejectsWith(readRunForReport(temp.join('nowhere')), 'EXPERIMENT_NOT_FOUND', ['nowhere', 'experiment.json'])
  mkdirSync(temp.join('corrupt'))
  temp.file('corrupt/experiment.json', '{"trials": 3}')
  await rejectsWith(readRunForReport(temp.join('corrupt')), 'EXPERIMENT_FILE_CORRUPT', ['experiment.json', '"trials" array', '{"trials":3}'])
  temp.file('corrupt/experiment.json', '{"trials": [')
  await rejectsWith(readRunForReport(temp.join('corrupt')), 'EXPERIMENT_FILE_CORRUPT', ['experiment.json', 'does not parse'])
})

test('scale helpers: nice and log ticks, label thinning, durations', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1])
  assert.deepEqual(niceTicks(0.23, 0.91, 4), [0.4, 0.6, 0.8])
  assert.deepEqual(niceTicks(1, 20, 8, true), [2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
  assert.deepEqual(logTicks(1e-4, 0.1), [1e-4, 1e-3, 1e-2, 0.1])
  assert.deepEqual(logTicks(3, 400), [10, 100])
  assert.deepEqual(thinLabels([0, 5, 12, 30, 31].map((at) => ({ at })), 10).map((l) => l.at), [0, 12, 31])
  assert.equal(formatDuration(850), '850 ms')
  assert.equal(formatDuration(12_345), '12.3 s')
  assert.equal(formatDuration(2_490_000), '41 min 30 s')
  assert.equal(formatDuration(3_720_000), '1 h 02 min')
})

test('a hyperparameter some trials lack gets an "n/a" slot; trials without any get no plot', async () => {
  const dir = writeRun(temp.join('ablation'), experimentRecord([
    trialRecord(1, { layers: 2, dropout: 'on' }, 0.8), trialRecord(2, { layers: 3 }, 0.7),
  ], { kind: 'ablation' }))
  const [svg] = svgs(await renderExperimentReport(dir), 'parallel')
  const dropout = /<g class="axis-group" data-axis="1">[\s\S]*?<\/g>/.exec(svg)![0]
  assert.match(dropout, />on</)
  assert.match(dropout, /<line class="axis missing"[\s\S]*>n\/a</)
  assert.match(svg, /data-trial="1"[\s\S]*?points="[\d.]+,[\d.]+ [\d.]+,374\.0 /, 'the trial without dropout passes through the n/a slot')

  const bare = writeRun(temp.join('bare'), experimentRecord([trialRecord(1, {}, 0.5)], { kind: 'launch' }))
  const html = await renderExperimentReport(bare)
  assert.equal(svgs(html, 'parallel').length, 0)
  assert.match(html, /The trials have no hyperparameters to compare/)
})
