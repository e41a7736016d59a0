// Browser test of the experiment HTML report: fabricated runs rendered and opened in Debian's
// chromium: no console errors, nothing fetched, charts drawn with a size, hover and legend
// toggles working, and strings from the run's files shown as text, never run as markup.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { renderExperimentReport } from '../src/experiments/report/index.js'
import { experimentRecord, gridSearchRun, manyTrialsRun, trialRecord, writeRun } from './helpers/experiment-runs.js'
import { useTempDir } from './helpers/temp-dir.js'

const CHROMIUM = '/usr/bin/chromium'
const XSS_NAME = '<script>window.__xss = 1</script>'
const XSS_PARAM = '<img src=x onerror="window.__xss = 2">'
const temp = useTempDir()
let browser: Browser | undefined

before(async () => {
  assert.ok(existsSync(CHROMIUM), `chromium is not installed at ${CHROMIUM}; this test needs a real browser: apt-get install chromium`)
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
})

after(async () => {
  await browser?.close()
})

/** Renders the run, opens it, and records console errors, page errors and every request. */
async function open(runDir: string, name: string): Promise<{ page: Page; html: string; problems: string[]; requests: string[]; url: string }> {
  const html = await renderExperimentReport(runDir)
  const file = temp.file(`${name}.html`, html)
  const page = await browser!.newPage({ viewport: { width: 1400, height: 900 } })
  const problems: string[] = []
  const requests: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('request', (request) => requests.push(request.url()))
  const url = `file://${file}`
  await page.goto(url, { waitUntil: 'load' })
  return { page, html, problems, requests, url }
}

async function boxes(page: Page, selector: string): Promise<{ width: number; height: number }[]> {
  return page.locator(selector).evaluateAll((elements) => elements.map((e) => {
    const box = e.getBoundingClientRect()
    return { width: box.width, height: box.height }
  }))
}

/** Chart texts stay inside the page and no two of the same chart overlap. */
async function assertLabelsApart(page: Page): Promise<void> {
  const charts = await page.locator('svg.chart').evaluateAll((svgs) => svgs.map((svg) => [...svg.querySelectorAll('text')].map((t) => {
    const box = t.getBoundingClientRect()
    return { text: t.textContent ?? '', left: box.left, right: box.right, top: box.top, bottom: box.bottom }
  })))
  for (const labels of charts) {
    for (const [i, a] of labels.entries()) {
      assert.ok(a.left >= 0, `label ${a.text} is cut at the left edge`)
      for (const b of labels.slice(i + 1)) {
        const overlap = a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1
        assert.ok(!overlap, `labels overlap: ${a.text} / ${b.text}`)
      }
    }
  }
}

test('a 12-trial grid search report renders offline with sized charts, hover and legend toggles', async () => {
  const { page, html, problems, requests, url } = await open(gridSearchRun(temp.join('grid')), 'grid')
  assert.deepEqual(problems, [])
  assert.deepEqual(requests, [url], 'the page must fetch nothing but itself')
  assert.doesNotMatch(html, /src="http|href="http|@import|url\(http/i)

  const curveCharts = await boxes(page, 'svg.curves')
  assert.equal(curveCharts.length, 4)
  for (const box of curveCharts) assert.ok(box.width >= 500 && box.height >= 250, `curve chart box ${JSON.stringify(box)}`)
  const [parallel] = await boxes(page, 'svg.parallel')
  assert.ok(parallel.width >= 800 && parallel.height >= 300, `parallel box ${JSON.stringify(parallel)}`)
  // Lines are really drawn: every trial's polyline in the plot spans the axes.
  const lines = await boxes(page, 'svg.parallel g.trial polyline:not(.outline)')
  assert.equal(lines.length, 12)
  for (const box of lines) assert.ok(box.width > 700, `a parallel-coordinates line ${JSON.stringify(box)}`)
  const curves = await boxes(page, 'svg.curves[data-metric="accuracy"] g.curve')
  assert.equal(curves.length, 12)
  for (const box of curves) assert.ok(box.width > 50 && box.height > 10, `a curve ${JSON.stringify(box)}`)

  await assertLabelsApart(page)

  // Hovering a table row highlights the trial everywhere; clicking a legend entry hides its lines.
  await page.locator('tr[data-id="t0007"]').hover()
  const key = await page.locator('tr[data-id="t0007"]').getAttribute('data-trial')
  const focusing = async () => ((await page.locator('body').getAttribute('class')) ?? '').split(' ').includes('focusing')
  assert.ok(await focusing())
  assert.equal(await page.locator(`svg g.focus[data-trial="${key}"]`).count(), 5, 'four curves and one parallel line')
  await page.locator(`.legend .item[data-trial="${key}"]`).click()
  assert.equal(await page.locator(`svg.curves g.curve[data-trial="${key}"]`).first().isVisible(), false)
  await page.locator(`.legend .item[data-trial="${key}"]`).click()
  assert.equal(await page.locator(`svg.curves g.curve[data-trial="${key}"]`).first().isVisible(), true)
  await page.mouse.move(1, 1)
  assert.equal(await focusing(), false)

  const screenshot = join(tmpdir(), 'malt-experiment-report.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  assert.ok(statSync(screenshot).size > 20_000)
  await page.close()
})

test('120 trials: the legend is collapsed, the table scrolls, every line is drawn', async () => {
  const { page, problems, requests, url } = await open(manyTrialsRun(temp.join('many')), 'many')
  assert.deepEqual(problems, [])
  assert.deepEqual(requests, [url])
  assert.equal(await page.locator('details.legend-wrap').getAttribute('open'), null)
  assert.equal(await page.locator('.legend .item').first().isVisible(), false)
  const table = await boxes(page, '.table-wrap.tall')
  assert.ok(table[0].height < 900, `the table box should scroll, got ${table[0].height}px`)
  assert.equal(await page.locator('svg.parallel g.trial').count(), 120)
  for (const box of await boxes(page, 'svg.chart')) assert.ok(box.width > 0 && box.height > 0)
  await assertLabelsApart(page)
  await page.close()
})

test('strings from the run files are shown as text, never run', async () => {
  const dir = writeRun(temp.join('xss'), experimentRecord([
    trialRecord(1, { act: XSS_PARAM, lr: 0.1 }, 0.5, { name: 'safe-name' }),
    trialRecord(2, { act: 'relu', lr: 0.2 }, undefined, { name: `x${XSS_NAME}`, failures: [{ reason: 'error', message: XSS_NAME, stack: XSS_PARAM, attempt: 1 }] }),
  ], { name: XSS_NAME, metric: XSS_PARAM }), {
    'safe-name': [{ step: 1, time: 0, metrics: { [XSS_NAME]: 1 } }, { step: 2, time: 0, metrics: { [XSS_NAME]: 2 } }],
  })
  const { page, problems } = await open(dir, 'xss')
  assert.deepEqual(problems, [])
  assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined)
  assert.equal(await page.locator('img').count(), 0)
  assert.equal(await page.locator('script').count(), 1)
  assert.equal(await page.locator('h1').innerText(), XSS_NAME)
  assert.ok((await page.locator('tr[data-id="t0002"] td.notes').innerText()).includes(XSS_NAME))
  assert.equal(await page.locator('svg.curves').getAttribute('data-metric'), XSS_NAME)
  await page.close()
})
