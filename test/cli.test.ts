// The `malt` command from a user's side: doctor, convert, error messages, exit codes.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runMalt } from './helpers/cli.js'
import { probeRedis, probePostgres } from '../src/util/probe.js'

let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'malt-cli-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

test('malt --help lists the commands; an unknown command exits non-zero', async () => {
  const help = await runMalt(['--help'])
  assert.equal(help.code, 0)
  for (const command of ['quickstart', 'doctor', 'data']) assert.match(help.stdout, new RegExp(`\\b${command}\\b`))
  const unknown = await runMalt(['frobnicate'])
  assert.notEqual(unknown.code, 0)
  assert.match(unknown.stderr, /unknown command 'frobnicate'/)
})

test('malt doctor reports node, tfjs, the backend and the services as they really are', async () => {
  const run = await runMalt(['doctor', '--json'])
  assert.equal(run.code, 0, run.stderr)
  const report = JSON.parse(run.stdout)
  assert.equal(report.node, process.version)
  assert.match(report.tfjs, /^4\.\d+\.\d+$/)
  assert.equal(report.backend.name, 'cpu')
  assert.ok(report.backend.tried.some((t: { provider: string }) => t.provider === '@tensorflow/tfjs-node'))
  // The report must agree with a direct probe of each service, whichever way that goes here.
  const redis = report.services.find((s: { name: string }) => s.name === 'Redis')
  const postgres = report.services.find((s: { name: string }) => s.name === 'PostgreSQL')
  assert.equal(redis.probe.reachable, (await probeRedis(redis.url)).reachable)
  assert.equal(postgres.probe.reachable, (await probePostgres(postgres.url)).reachable)
  // A port with nothing behind it is reported as not reachable, with the reason.
  const off = await runMalt(['doctor'], { env: { REDIS_URL: 'redis://127.0.0.1:1' } })
  assert.equal(off.code, 0)
  assert.match(off.stdout, /✗ Redis redis:\/\/127\.0\.0\.1:1 \(from env\): not reachable — 127\.0\.0\.1:1: connect ECONNREFUSED/)
})

test('malt data convert streams CSV → TFRecord → JSONL → CSV without losing values', async () => {
  const csvPath = join(dir, 'in.csv')
  writeFileSync(csvPath, 'id,price,name,ok\n1,2.5,"Smith, J",true\n2,3,"say ""hi""",false\n3,,plain,true\n')
  const tfrecordPath = join(dir, 'out.tfrecord')
  const first = await runMalt(['data', 'convert', csvPath, tfrecordPath])
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, /wrote 3 rows .*\(csv\) .*\(tfrecord\)/)
  const jsonlPath = join(dir, 'out.jsonl')
  assert.equal((await runMalt(['data', 'convert', tfrecordPath, jsonlPath])).code, 0)
  const rows = readFileSync(jsonlPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line))
  assert.equal(rows.length, 3)
  assert.equal(rows[0].name, 'Smith, J')
  assert.equal(rows[1].name, 'say "hi"')
  // price is a float column in the CSV: 3 stays a float feature, the missing price is left out.
  assert.equal(rows[1].price, 3)
  assert.equal(rows[2].price, undefined)
  const backToCsv = join(dir, 'back.csv')
  assert.equal((await runMalt(['data', 'convert', jsonlPath, backToCsv])).code, 0)
  assert.match(readFileSync(backToCsv, 'utf8'), /"Smith, J"/)
})

test('user errors print one line naming the file, exit 1, and leave no partial output', async () => {
  const missing = await runMalt(['data', 'convert', join(dir, 'nope.csv'), join(dir, 'x.jsonl')])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^malt: error: .*nope\.csv/)
  assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace for a user error')

  const unknown = await runMalt(['data', 'convert', join(dir, 'a.xlsx'), join(dir, 'b.csv')])
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /Cannot tell the format of .*a\.xlsx.*supported: \.csv/)

  const bad = join(dir, 'bad.csv')
  writeFileSync(bad, 'a,b\n1,2\n3,4,5\n6,7\n')
  const out = join(dir, 'bad.jsonl')
  const failed = await runMalt(['data', 'convert', bad, out])
  assert.equal(failed.code, 1)
  assert.match(failed.stderr, /bad\.csv:3/)
  assert.equal(existsSync(out), false, 'no half-written output file')
  assert.deepEqual(readdirSync(dir).filter((name) => name.includes('.tmp')), [], 'no temp file left behind')

  const skipped = await runMalt(['data', 'convert', bad, out, '--on-error', 'skip'])
  assert.equal(skipped.code, 0, skipped.stderr)
  assert.match(skipped.stdout, /wrote 2 rows/)
  assert.match(skipped.stderr, /skipped 1 malformed rows:\n.*bad\.csv:3/)
})
