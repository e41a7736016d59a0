// Streaming keeps memory bounded: a pipeline over a CSV file several times larger than the
// JavaScript heap it is allowed runs to the end (a reader that buffered the file would die).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, createWriteStream, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const HEAP_MB = 32
let dir: string
let file: string
const ROWS = 1_000_000

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'malt-stream-'))
  file = join(dir, 'big.csv')
  const out = createWriteStream(file)
  out.write('id,x,y,name,label\n')
  for (let i = 0; i < ROWS; i++) {
    const line = `${i},${(i * 0.37) % 101},${Math.sin(i).toFixed(6)},"item, number ${i % 997}",${i % 10}\n`
    if (!out.write(line)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
  }
  await new Promise<void>((resolve) => out.end(() => resolve()))
})
after(() => rmSync(dir, { recursive: true, force: true }))

test(`a CSV pipeline over a file much larger than a ${HEAP_MB} MB heap finishes`, () => {
  const size = statSync(file).size
  // The rows as JS objects take several times the file size; the file alone exceeds the heap.
  assert.ok(size > HEAP_MB * 1024 * 1024, `test file is ${size} bytes`)
  const script = `
    import { csv } from './src/data/sources/csv.ts'
    let rows = 0, sum = 0
    for await (const batch of csv(process.argv[1]).shuffle(1000, 1).batch(256).prefetch(4)) {
      rows += batch.length
      for (const row of batch) sum += row.label
    }
    console.log(JSON.stringify({ rows, sum, heapMB: process.memoryUsage().heapUsed / 2 ** 20 }))
  `
  const root = fileURLToPath(new URL('..', import.meta.url))
  const result = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--import', 'tsx', '--input-type=module', '-e', script, file], {
    cwd: root,
    encoding: 'utf8',
    timeout: 240_000,
  })
  assert.equal(result.status, 0, `child failed: ${result.stderr.slice(-2000)}`)
  const summary = JSON.parse(result.stdout.trim().split('\n').pop()!)
  assert.equal(summary.rows, ROWS)
  assert.equal(summary.sum, 4.5 * ROWS)
})
