// The README's experiments example, run as a user runs it (`npx tsx examples/fashion-mnist-search.ts
// --quick`, importing 'malt' from dist/), then looked at with the CLI: list, compare, report.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { useTempDir } from '../helpers/temp-dir.js'
import { runMalt } from '../helpers/cli.js'

const temp = useTempDir()
const root = fileURLToPath(new URL('../..', import.meta.url))

test('the Fashion-MNIST example launches, searches and shows up in the CLI and the HTML report', async () => {
  const home = temp.join('home')
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/fashion-mnist-search.ts', '--quick'], {
    cwd: root,
    env: { ...process.env, MALT_HOME: home },
    encoding: 'utf8',
    timeout: 300_000,
  })
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`)
  const launch = /launch: accuracy (0\.\d+)/.exec(run.stdout)
  assert.ok(launch && Number(launch[1]) > 0.7, `launch accuracy: ${run.stdout}`)
  const grid = /grid: 6 trials, best .* accuracy (0\.\d+) \(experiment (\d+)\)/.exec(run.stdout)
  assert.ok(grid && Number(grid[1]) > 0.75, `grid: ${run.stdout}`)
  assert.match(run.stdout, /random: 4 trials/)
  assert.match(run.stdout, /evolutionary: \d+ trials, best/)
  // Progress lines, one per trial, on stderr when it is not a terminal.
  assert.match(run.stderr, /fashion-mnist grid: trial t0006 .* \(\d\/6 done, best 0\.\d+/)

  const listed = await runMalt(['experiments', 'list', '--home', home, '--json'])
  assert.equal(listed.code, 0, listed.stderr)
  const rows = JSON.parse(listed.stdout) as { kind: string; state: string }[]
  assert.deepEqual(rows.map((row) => row.kind).sort(), ['evolutionary', 'grid', 'launch', 'random'])
  assert.ok(rows.every((row) => row.state === 'finished'))

  const compared = await runMalt(['experiments', 'compare', grid![2], '--home', home])
  assert.equal(compared.code, 0, compared.stderr)
  assert.match(compared.stdout, /lr.*dropout.*accuracy/s)

  const out = temp.join('report.html')
  const report = await runMalt(['experiments', 'report', grid![2], '--home', home, '--html', out])
  assert.equal(report.code, 0, report.stderr)
  assert.ok(existsSync(out))
  const html = readFileSync(out, 'utf8')
  assert.match(html, /lr=0\.001&amp;dropout=0\.5/)
  assert.match(html, /<svg/)
})
