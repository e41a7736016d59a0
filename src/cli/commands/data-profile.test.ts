// Tests of `malt data profile`: text and JSON output, schema writing and checking, drift,
// --limit, and errors, on real files in a temp dir.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { MaltError } from '../../errors.js'
import { registerDataProfile, runDataProfile, type DataProfileIo } from './data-profile.js'

let dir: string

function capture(): DataProfileIo & { out: () => string; err: () => string } {
  const out: string[] = []
  const err: string[] = []
  return {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text), isTTY: false },
    out: () => out.join(''),
    err: () => err.join(''),
  }
}

function csvFile(name: string, rows: number, ageShift: number, extra = ''): string {
  const lines = ['age,city,score']
  for (let i = 0; i < rows; i++) lines.push(`${20 + (i % 40) + ageShift},${['Oslo', 'Rome'][i % 2]},${i % 10 === 0 ? '' : (i % 7) / 7}`)
  const path = join(dir, name)
  writeFileSync(path, `${lines.join('\n')}\n${extra}`)
  return path
}

/** Runs the registered command the way `malt` does; resolves to the error it throws, if any. */
async function command(args: string[]): Promise<unknown> {
  const program = new Command('malt').exitOverride()
  registerDataProfile(program.command('data').exitOverride(), capture())
  try {
    await program.parseAsync(['data', 'profile', ...args], { from: 'user' })
    return undefined
  } catch (error) {
    return error
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'malt-'))
})

after(() => rmSync(dir, { recursive: true, force: true }))

test('prints aligned text tables per column kind', async () => {
  const file = csvFile('train.csv', 200, 0)
  const io = capture()
  const result = await runDataProfile(file, {}, io)
  assert.equal(result.profile.rows, 200)
  const text = io.out()
  assert.match(text, /^train\.csv: 200 rows, 3 columns \(2 numeric, 1 categorical, 0 vector\)/)
  const lines = text.split('\n')
  const header = lines.find((l) => l.startsWith('column') && l.includes('median'))!
  const age = lines.find((l) => l.startsWith('age '))!
  // Right-aligned numbers end under their header.
  assert.equal(age.indexOf('39.5') + '39.5'.length, header.indexOf('mean') + 'mean'.length)
  assert.match(lines.find((l) => l.startsWith('score '))!, /\s10\.0%\s/)
  assert.match(text, /city\s+200\s+0\.0%\s+2\s+Oslo\s+100/)
  assert.equal(io.err(), '', 'no progress output when stderr is not a terminal')
})

test('--json prints one JSON document without samples; --compare adds the drift', async () => {
  const train = csvFile('a.csv', 500, 0)
  const test2 = csvFile('b.csv', 500, 30)
  const io = capture()
  await runDataProfile(train, { json: true, compare: test2, html: join(dir, 'r.html') }, io)
  const json = JSON.parse(io.out())
  assert.equal(json.profile.rows, 500)
  assert.deepEqual(json.profile.columns[0].numeric.sample, [])
  assert.equal(json.compared.profile.name, 'b.csv')
  assert.deepEqual(json.compared.comparison.drifted, ['age'])
  assert.match(io.err(), /wrote HTML report to .*r\.html/, 'file notes go to stderr with --json')
  assert.ok(readFileSync(join(dir, 'r.html'), 'utf8').startsWith('<!DOCTYPE html>'))
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'no temp files left behind')
})

test('--write-schema then --schema: a matching file passes, a drifted one fails listing violations', async () => {
  const train = csvFile('train2.csv', 300, 0)
  const schemaPath = join(dir, 'schema.json')
  assert.equal(await command([train, '--write-schema', schemaPath]), undefined)
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8'))
  assert.deepEqual(schema.columns[0], { name: 'age', type: 'integer', nullable: false, min: 20, max: 59 })
  assert.equal(await command([train, '--schema', schemaPath]), undefined)

  const bad = csvFile('bad.csv', 300, 5)
  const io = capture()
  const result = await runDataProfile(bad, { schema: schemaPath, show: 3 }, io)
  assert.equal(result.validation?.valid, false)
  assert.equal(result.validation?.counts.total, 35) // ages 60..64, 7 times each
  assert.match(io.out(), /schema check: 35 violations in 300 rows\nby kind: range 35\nby column: age 35\nfirst 3:\n {2}record 36 \(data row 36\), column "age": expected a value in \[20, 59\], received 60\n/)
  const error = await command([bad, '--schema', schemaPath])
  assert.ok(error instanceof MaltError && error.code === 'DATA_SCHEMA_VIOLATIONS', String(error))
  assert.match(error.message, /bad\.csv does not match .*schema\.json: 35 violations \(first: record 36 \(data row 36\), column "age"/)
})

test('--schema reports rows the reader cannot parse instead of stopping', async () => {
  const schemaPath = join(dir, 'schema3.json')
  writeFileSync(schemaPath, JSON.stringify({ columns: [{ name: 'age', type: 'integer' }, { name: 'city', type: 'string' }, { name: 'score', type: 'number', nullable: true }] }))
  const file = csvFile('late-bad.csv', 1_200, 0, 'abc,Oslo,0.5\n')
  const io = capture()
  const result = await runDataProfile(file, { schema: schemaPath }, io)
  assert.equal(result.unreadable?.rows, 1)
  assert.match(io.out(), /1 rows could not be read:\n {2}.*late-bad\.csv:1202: column "age": expected a number/)
  const error = await command([file, '--schema', schemaPath])
  assert.ok(error instanceof MaltError && /1 violation \(first: .*late-bad\.csv:1202/.test(error.message), String(error))
})

test('--limit stops early; bad options and files fail with clear errors', async () => {
  const file = csvFile('big.csv', 1_000, 0)
  const io = capture()
  const result = await runDataProfile(file, { limit: 100 }, io)
  assert.equal(result.profile.rows, 100)
  assert.match(io.out(), /100 rows \(stopped at --limit\)/)
  const limit = await command([file, '--limit', '0'])
  assert.ok(limit instanceof MaltError && /--limit: expected a positive integer, received "0"/.test(limit.message), String(limit))
  const format = await command([join(dir, 'x.xls')])
  assert.ok(format instanceof MaltError && format.code === 'DATA_UNKNOWN_FORMAT')
  const schemaPath = join(dir, 'broken.json')
  writeFileSync(schemaPath, '{ "columns": [ }')
  const broken = await command([file, '--schema', schemaPath])
  assert.ok(broken instanceof MaltError && broken.code === 'SCHEMA_INVALID' && /broken\.json: expected a JSON schema/.test(broken.message), String(broken))
  assert.equal(existsSync(join(dir, 'never.html')), false)
})
