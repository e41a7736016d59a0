// Browser test of `malt data profile --compare --html`: real CSV files through the command,
// the report opened in Debian's chromium: histograms drawn, drift flagged, data escaped.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { chromium, type Browser } from 'playwright-core'
import { registerDataProfile } from '../src/cli/commands/data-profile.js'
import { SeededRandom } from '../src/util/random.js'

const CHROMIUM = '/usr/bin/chromium'
const XSS_COLUMN = '<script>window.__xss = 1</script>'
const XSS_VALUE = '<img src=x onerror="window.__xss = 2">'
const SCREENSHOT = '/tmp/profile-report.png'

let dir: string
let browser: Browser | undefined

/** 2,000 rows: numeric (age shifts by `shift`), numeric with 5% missing, categories, booleans, an XSS column name and value. */
function writeCsv(path: string, seed: number, shift: number): void {
  const random = new SeededRandom(seed)
  const lines = [`age,income,city,member,"${XSS_COLUMN}",note`]
  const cities = ['Oslo', 'Paris', 'Rome', 'Lima']
  for (let i = 0; i < 2000; i++) {
    const age = Math.round(18 + random.next() * 40 + random.next() * 20 + shift)
    const income = random.next() < 0.05 ? '' : (25_000 + random.next() * random.next() * 90_000).toFixed(2)
    const city = cities[Math.floor(random.next() * cities.length)]
    const note = random.next() < 0.01 ? `"${XSS_VALUE.replace(/"/g, '""')}"` : 'plain'
    lines.push(`${age},${income},${city},${random.next() < 0.3},${random.nextInt(5)},${note}`)
  }
  writeFileSync(path, `${lines.join('\n')}\n`)
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'malt-'))
})

after(async () => {
  await browser?.close()
  rmSync(dir, { recursive: true, force: true })
})

test('malt data profile --compare --html renders histograms, drift flags and escaped names in chromium', async () => {
  assert.ok(existsSync(CHROMIUM), `chromium is not installed at ${CHROMIUM}; this test needs a real browser: apt-get install chromium`)
  const train = join(dir, 'train.csv')
  const serving = join(dir, 'serving.csv')
  const report = join(dir, 'report.html')
  writeCsv(train, 1, 0)
  writeCsv(serving, 2, 12)

  // The command's own code path: commander parses the same argv the `malt` binary gets.
  const printed: string[] = []
  const program = new Command('malt').exitOverride()
  registerDataProfile(program.command('data'), { stdout: { write: (text: string) => printed.push(text) }, stderr: process.stderr })
  await program.parseAsync(['data', 'profile', train, '--compare', serving, '--html', report], { from: 'user' })
  assert.match(printed.join(''), /wrote HTML report to .*report\.html/)
  assert.match(printed.join(''), /age\s.*DRIFT/)

  const html = readFileSync(report, 'utf8')
  assert.doesNotMatch(html, /<script|src="http|<link/i, 'the report must be self-contained and script-free')

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  })
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  await page.goto(`file://${report}`)

  // Histograms: one per numeric column, each with visible bars of both data sets.
  const histograms = page.locator('table.numeric svg.histogram')
  assert.equal(await histograms.count(), 3)
  for (let i = 0; i < 3; i++) {
    for (const series of ['a', 'b']) {
      const heights = await histograms.nth(i).locator(`rect.bar.series-${series}`).evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().height))
      assert.ok(heights.length > 0 && heights.some((h) => h > 2), `histogram ${i} series ${series}: expected bars with height, got ${heights}`)
    }
  }
  const topBars = await page.locator('table.categorical svg.top-values rect.bar').evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().width))
  assert.ok(topBars.filter((w) => w > 2).length >= 8, `top-values bars: ${topBars}`)

  // Drift: the shifted column is flagged, a stable one is not.
  const age = page.locator('tr[data-column="age"][data-set="a"]')
  assert.ok(await age.locator('td.name .badge.drift').isVisible(), 'age should carry a visible drift badge')
  assert.match(await age.locator('td.drift-cell').innerText(), /drift\s+KS D=0\.\d+,\s*p=/)
  assert.equal(await page.locator('tr[data-column="city"] .badge.drift').count(), 0, 'city has the same distribution in both files')
  assert.match(await page.locator('.summary.bad').innerText(), /1 of 6 columns drifted: age/)

  // Data strings are text, never markup.
  const xss = page.locator('td.name', { hasText: XSS_COLUMN })
  assert.equal(await xss.count(), 1)
  assert.ok((await xss.innerText()).startsWith(XSS_COLUMN))
  assert.ok(html.includes(XSS_VALUE.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')))
  assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined)
  assert.equal(await page.locator('img').count(), 0)

  await page.screenshot({ path: SCREENSHOT, fullPage: true })
})
