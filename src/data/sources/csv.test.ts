// Tests of the csv() source: type inference, quoting, options, and how malformed rows are
// thrown or skipped with file:line, on real files in a temp directory.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { newReadStats } from '../types.js'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { assertClosesOnBreak } from '../../../test/helpers/fds.js'
import { csv, csvColumnNames, inferCsvSchema } from './csv.js'

const dir = useTempDir()
const file = dir.file

test('infers integer, number, boolean and string columns; empty fields are null', async () => {
  const path = file('types.csv', 'id,score,ok,city,none\n1,2.5,true,Oslo,\n2,,FALSE,,\n-3,1e3,false,42,\n')
  const rows = await csv(path).toArray()
  assert.deepEqual(rows, [
    { id: 1, score: 2.5, ok: true, city: 'Oslo', none: null },
    { id: 2, score: null, ok: false, city: null, none: null },
    { id: -3, score: 1000, ok: false, city: '42', none: null },
  ])
  const schema = await inferCsvSchema(path)
  assert.deepEqual(schema.columns, [
    { name: 'id', type: 'integer' },
    { name: 'score', type: 'number' },
    { name: 'ok', type: 'boolean' },
    { name: 'city', type: 'string' },
    { name: 'none', type: 'string' },
  ])
  assert.equal(schema.rowsSampled, 3)
})

test('quoted fields hold delimiters, newlines and doubled quotes; line numbers stay right', async () => {
  const path = file('quotes.csv', 'a,b\n"x, y","line1\nline2"\n"say ""hi""",z\n1,2,3\n')
  const stats = newReadStats()
  const rows = await csv(path, { onError: 'skip', stats }).toArray()
  assert.deepEqual(rows, [
    { a: 'x, y', b: 'line1\nline2' },
    { a: 'say "hi"', b: 'z' },
  ])
  assert.deepEqual(stats.skipped, [`${path}:5: expected 2 fields, found 3`])
})

test('header: false names columns col0..; delimiter and column types are options', async () => {
  const path = file('tabs.tsv', '1\t007\n2\t010\n')
  assert.deepEqual(await csv(path, { header: false, delimiter: '\t' }).toArray(), [
    { col0: 1, col1: 7 },
    { col0: 2, col1: 10 },
  ])
  assert.deepEqual(await csv(path, { header: false, delimiter: '\t', columns: { col1: 'string' } }).toArray(), [
    { col0: 1, col1: '007' },
    { col0: 2, col1: '010' },
  ])
  assert.throws(() => csv(path, { delimiter: ',,' }), { code: 'CSV_BAD_OPTION' })
  await assert.rejects(csv(path, { columns: { nope: 'string' } }).toArray(), /columns names "nope", which .* does not have/)
})

test('a row with the wrong number of fields throws naming file and line', async () => {
  const path = file('data.csv', 'a,b,c\n1,2,3\n\n4,5,6,7\n')
  await assert.rejects(csv(path).toArray(), (error: MaltError) => {
    assert.equal(error.code, 'CSV_BAD_ROW')
    assert.equal(error.message, `${path}:4: expected 3 fields, found 4`)
    assert.deepEqual(error.location, { file: path, line: 4 })
    return true
  })
})

test("onError 'skip' skips and counts bad rows, and a new pass resets the counts", async () => {
  const path = file('skip.csv', 'a,b\n1,2\n3\n4,5\n6,x\n7,8\n')
  const stats = newReadStats()
  const data = csv(path, { onError: 'skip', stats, inferRows: 2 })
  assert.deepEqual(await data.toArray(), [{ a: 1, b: 2 }, { a: 4, b: 5 }, { a: 7, b: 8 }])
  assert.equal(stats.rowsRead, 3)
  assert.equal(stats.rowsSkipped, 2)
  assert.match(stats.skipped[0], /skip\.csv:3: expected 2 fields, found 1/)
  assert.match(stats.skipped[1], /skip\.csv:5: column "b": expected a number \(the type inferred from the first 2 rows\), received "x"/)
  await data.toArray()
  assert.equal(stats.rowsRead, 3)
  assert.equal(stats.skipped.length, 2)
})

test('a value of the wrong type after the inference rows throws naming line and column', async () => {
  const lines = ['n']
  for (let i = 0; i < 10; i++) lines.push(String(i))
  lines.push('ten')
  const path = file('late.csv', `${lines.join('\n')}\n`)
  await assert.rejects(csv(path, { inferRows: 5 }).toArray(), (error: MaltError) => {
    assert.equal(error.code, 'CSV_BAD_VALUE')
    assert.match(error.message, /late\.csv:12: column "n": expected a number \(the type inferred from the first 5 rows\), received "ten"/)
    // The way out, for library and CLI users alike.
    assert.match(error.message, /columns: \{ 'n': 'string' \}, infer types from more rows with inferRows \(CLI: --infer-rows N\)/)
    assert.match(error.message, /onError: 'skip' \(CLI: --on-error skip\)$/)
    assert.equal(error.location?.field, 'n')
    return true
  })
  assert.equal((await csv(path, { inferRows: 20 }).toArray())[10].n, 'ten')
  // A declared type is not blamed on inference.
  await assert.rejects(csv(path, { columns: { n: 'boolean' } }).toArray(), (error: MaltError) => {
    assert.match(error.message, /late\.csv:2: column "n": expected a boolean \(as declared in columns\), received "0"; .*--on-error skip/)
    assert.doesNotMatch(error.message, /inferRows/)
    return true
  })
})

test('an integer column that later holds a fraction reads on as numbers', async () => {
  const path = file('widen.csv', 'n,m\n1,2\n2,3\n1.5,4\n-2.25e1,5\nnan,6\n')
  const schema = await inferCsvSchema(path, { inferRows: 2 })
  assert.equal(schema.columns[0].type, 'integer')
  const stats = newReadStats()
  const rows = await csv(path, { inferRows: 2, stats }).toArray()
  assert.deepEqual(rows.map((row) => row.n), [1, 2, 1.5, -22.5, NaN])
  assert.equal(stats.rowsSkipped, 0)
})

test('line numbers count a line break inside a quoted field once, with LF or CRLF', async () => {
  for (const [name, eol] of [['lf.csv', '\n'], ['crlf.csv', '\r\n']]) {
    // Line 1 header, 2–3 a quoted field with a line break in it, 4 a short row.
    const path = file(name, `a,b${eol}1,"x${eol}y"${eol}3${eol}`)
    await assert.rejects(csv(path).toArray(), (error: MaltError) => {
      assert.equal(error.message, `${path}:4: expected 2 fields, found 1`, name)
      return true
    })
    // Blank lines and several multi-line records: every record keeps its own start line.
    const many = file(`many-${name}`, ['a,b', '', '1,"p', 'q', 'r"', '', '2,"s', 't"', '4', '5,"u', 'v"', '6'].join(eol) + eol)
    const stats = newReadStats()
    const rows = await csv(many, { onError: 'skip', stats, columns: { b: 'string' } }).toArray()
    assert.deepEqual(rows.map((row) => row.b), [`p${eol}q${eol}r`, `s${eol}t`, `u${eol}v`], name)
    assert.deepEqual(stats.skipped, [`${many}:9: expected 2 fields, found 1`, `${many}:12: expected 2 fields, found 1`], name)
  }
})

test('an unterminated quote throws naming the line where its record starts', async () => {
  const path = file('open.csv', 'a,b\n1,2\n3,"never closed\n5,6\n')
  await assert.rejects(csv(path).toArray(), (error: MaltError) => {
    assert.equal(error.code, 'CSV_BAD_ROW')
    assert.match(error.message, /open\.csv:3: unterminated quote/)
    return true
  })
  const stats = newReadStats()
  assert.deepEqual(await csv(path, { onError: 'skip', stats }).toArray(), [{ a: 1, b: 2 }])
  assert.equal(stats.rowsSkipped, 1)
})

test('a duplicate header name, a missing file and an empty file', async () => {
  await assert.rejects(csv(file('dup.csv', 'a,a\n1,2\n')).toArray(), (error: MaltError) => {
    assert.equal(error.code, 'CSV_BAD_HEADER')
    assert.match(error.message, /dup\.csv:1: column "a" appears twice in the header; rename one, or pass header: false/)
    assert.deepEqual(error.location, { file: error.location?.file, line: 1, field: 'a' })
    return true
  })
  // The header's own line, after blank lines.
  await assert.rejects(csv(file('dup3.csv', '\n\nx, x \n1,2\n')).toArray(), /dup3\.csv:3: column "x" appears twice/)
  assert.deepEqual(await csv(file('nodup.csv', 'a,a\n1,2\n'), { header: false }).toArray(), [{ col0: 'a', col1: 'a' }, { col0: '1', col1: '2' }])
  await assert.rejects(csv(dir.join('missing.csv')).toArray(), { code: 'STORAGE_NOT_FOUND' })
  assert.deepEqual(await csv(file('empty.csv', '')).toArray(), [])
})

test('streams: take() stops early, and the data set can be read again', async () => {
  const lines = ['i,x']
  for (let i = 0; i < 50_000; i++) lines.push(`${i},${i / 2}`)
  const data = csv(file('big.csv', `${lines.join('\n')}\n`))
  assert.deepEqual(await data.take(2).toArray(), [{ i: 0, x: 0 }, { i: 1, x: 0.5 }])
  assert.equal(await data.count(), 50_000)
  assert.equal(await data.count(), 50_000)
})

test('csvColumnNames trims names, names blank ones col<i>, and ignores names without a header', () => {
  assert.deepEqual(csvColumnNames([' a ', '', 'b'], true, 'f.csv'), ['a', 'col1', 'b'])
  assert.deepEqual(csvColumnNames(['a', 'a'], false, 'f.csv'), ['col0', 'col1'])
  assert.throws(() => csvColumnNames(['col1', ''], true, 'f.csv', 7), /f\.csv:7: column "col1" appears twice/)
})

test('stopping a for await early closes the file', async () => {
  // 4 MB: more than the stream reads ahead, so only closing the file can release it early.
  const lines = ['i,x']
  for (let i = 0; i < 4000; i++) lines.push(`${i},${'x'.repeat(1000)}`)
  const data = csv(file('fds.csv', `${lines.join('\n')}\n`))
  await assertClosesOnBreak(data, (row) => {
    assert.equal(row.i, 0)
  })
})

test('line numbers stay right across read chunks (files over 1 MB), with CRLF in quoted fields', async () => {
  // Every 7th record spans two lines; the file is read in several chunks, so records and
  // quoted line breaks fall across chunk boundaries.
  const lines = ['a,b']
  let line = 1
  for (let i = 0; i < 30_000; i++) {
    if (i % 7 === 0) {
      lines.push(`${i},"x\r\n${'y'.repeat(30)}"`)
      line += 2
    } else {
      lines.push(`${i},${'z'.repeat(30)}`)
      line += 1
    }
  }
  lines.push('short')
  const path = file('chunks.csv', `${lines.join('\r\n')}\r\n`)
  const stats = newReadStats()
  assert.equal(await csv(path, { onError: 'skip', stats, columns: { b: 'string' } }).count(), 30_000)
  assert.deepEqual(stats.skipped, [`${path}:${line + 1}: expected 2 fields, found 1`])
})
