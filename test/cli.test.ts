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
  // The native addon is built by npm install here (.ci/run installs libdnnl-dev), so it is chosen.
  assert.equal(report.backend.name, 'malt-native', JSON.stringify(report.backend.tried))
  assert.ok(report.backend.tried.some((t: { provider: string }) => t.provider === '@tensorflow/tfjs-node'))
  for (const kernel of ['Conv2D', 'Conv2DBackpropFilter', 'BatchMatMul', 'MaxPoolGrad', 'Softmax']) {
    assert.ok(report.native.kernels.includes(kernel), `native kernels lack ${kernel}: ${report.native.kernels.join(', ')}`)
  }
  // The report must agree with a direct probe of each service, whichever way that goes here.
  const redis = report.services.find((s: { name: string }) => s.name === 'Redis')
  const postgres = report.services.find((s: { name: string }) => s.name === 'PostgreSQL')
  assert.equal(redis.probe.reachable, (await probeRedis(redis.url)).reachable)
  assert.equal(postgres.probe.reachable, (await probePostgres(postgres.url)).reachable)
  // A port with nothing behind it is reported as not reachable, with the reason.
  const off = await runMalt(['doctor'], { env: { REDIS_URL: 'redis://127.0.0.1:1' } })
  assert.equal(off.code, 0)
  assert.match(off.stdout, /✗ Redis redis:\/\/127\.0\.0\.1:1 \(from env\): not reachable — 127\.0\.0\.1:1: connect ECONNREFUSED/)
  // A malformed setting is reported, not a crash.
  const garbage = await runMalt(['doctor'], { env: { REDIS_URL: 'garbage' } })
  assert.equal(garbage.code, 0, garbage.stderr)
  assert.match(garbage.stdout, /✗ Redis garbage \(from env\): not reachable — "garbage" is not a valid URL/)
})

test('malt doctor lists the native kernels; without the addon Malt says once why it runs on the CPU backend', async () => {
  const run = await runMalt(['doctor'])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /backend +malt-native \(oneDNN\)\n/)
  assert.match(run.stdout, /native +oneDNN 2\.\d+\.\d+, \d+ threads/)
  assert.match(run.stdout, /native kernels \(\d+; other ops run the CPU kernels\): [\s\S]*\bConv2D\b/)
  assert.equal(run.stderr, '')
  const missing = await runMalt(['doctor'], { env: { MALT_NATIVE_ADDON: '/nonexistent/malt_native.node' } })
  assert.equal(missing.code, 0, missing.stderr)
  assert.match(missing.stdout, /backend +cpu/)
  assert.match(missing.stdout, /· malt-native \(oneDNN\): addon not built \(\/nonexistent\/malt_native\.node missing\)/)
  const warnings = missing.stderr.split('\n').filter((line) => line.includes('pure-JavaScript CPU backend'))
  assert.equal(warnings.length, 1, missing.stderr)
  assert.match(warnings[0], /to fix: install oneDNN \(Debian\/Ubuntu: apt-get install libdnnl-dev\), then npm rebuild malt/)
  // A relative addon path is taken from the working directory.
  const relative = await runMalt(['doctor'], { env: { MALT_NATIVE_ADDON: 'native/build/Release/malt_native.node' } })
  assert.match(relative.stdout, /backend +malt-native \(oneDNN\)\n/, relative.stdout + relative.stderr)
})

test('MALT_NUM_THREADS sets the native threads; a bad value is a clear error', async () => {
  const one = await runMalt(['doctor'], { env: { MALT_NUM_THREADS: '1' } })
  assert.equal(one.code, 0, one.stderr)
  assert.match(one.stdout, /native +oneDNN 2\.\d+\.\d+, 1 thread \(/)
  for (const bad of ['0', 'two', '100000']) {
    const run = await runMalt(['doctor'], { env: { MALT_NUM_THREADS: bad } })
    assert.equal(run.code, 1, run.stdout)
    assert.match(run.stderr, new RegExp(`malt: error: MALT_NUM_THREADS must be an integer from 1 to 1024, got "${bad}"`))
  }
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

test('convert keeps one kind per TFRecord feature and every column of ragged rows', async () => {
  const jsonlPath = join(dir, 'ragged.jsonl')
  writeFileSync(jsonlPath, '{"x":1,"tag":"a"}\n{"x":2.5}\n{"x":3,"extra":true}\n')
  const tfrecordPath = join(dir, 'ragged.tfrecord')
  const toTfRecord = await runMalt(['data', 'convert', jsonlPath, tfrecordPath])
  assert.equal(toTfRecord.code, 0, toTfRecord.stderr)
  const { tfrecordRecords } = await import('../src/data/sources/tfrecord.js')
  const { decodeExample } = await import('../src/data/tfrecord/example.js')
  const kinds = (await tfrecordRecords(tfrecordPath).toArray()).map((record) => decodeExample(record).x?.kind)
  // x holds 1, 2.5 and 3: every record stores it as a float list, none as int64.
  assert.deepEqual(kinds, ['float', 'float', 'float'])

  const csvPath = join(dir, 'ragged.csv')
  const toCsv = await runMalt(['data', 'convert', jsonlPath, csvPath])
  assert.equal(toCsv.code, 0, toCsv.stderr)
  assert.equal(readFileSync(csvPath, 'utf8'), 'x,tag,extra\n1,a,\n2.5,,\n3,,true\n')
})

test('convert --on-error skip also applies to CSV → TFRecord; .tfrecords.gz is gzip', async () => {
  const bad = join(dir, 'bad2.csv')
  writeFileSync(bad, 'a,b\n1,2\n3\n4,5\n')
  const out = join(dir, 'bad2.tfrecords.gz')
  const run = await runMalt(['data', 'convert', bad, out, '--on-error', 'skip'])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /wrote 2 rows/)
  const back = join(dir, 'bad2.jsonl')
  assert.equal((await runMalt(['data', 'convert', out, back])).code, 0)
  assert.deepEqual(readFileSync(back, 'utf8').trim().split('\n').map((line) => JSON.parse(line)), [{ a: 1, b: 2 }, { a: 4, b: 5 }])
})

test('a directory where a file is expected is a one-line error, not a stack trace', async () => {
  const { mkdirSync } = await import('node:fs')
  mkdirSync(join(dir, 'folder.csv'))
  const input = await runMalt(['data', 'convert', join(dir, 'folder.csv'), join(dir, 'y.jsonl')])
  assert.equal(input.code, 1)
  assert.match(input.stderr, /^malt: error: .*folder\.csv is a directory; expected a file path to read\n$/)
  writeFileSync(join(dir, 'ok.csv'), 'a\n1\n')
  mkdirSync(join(dir, 'taken.jsonl'))
  const output = await runMalt(['data', 'convert', join(dir, 'ok.csv'), join(dir, 'taken.jsonl')])
  assert.equal(output.code, 1)
  assert.match(output.stderr, /^malt: error: .*taken\.jsonl is a directory; expected a file path to write\n$/)
})
