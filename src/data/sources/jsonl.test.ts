// Tests of the jsonl() source: rows, blank lines, CRLF, long and multi-byte lines across
// stream chunks, and bad lines thrown or skipped with file:line.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { newReadStats } from '../types.js'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { assertClosesOnBreak } from '../../../test/helpers/fds.js'
import { jsonl } from './jsonl.js'

const file = useTempDir().file

test('reads one object per line; blank lines, CRLF and a missing final newline are fine', async () => {
  const path = file('a.jsonl', '{"a":1,"b":"x"}\r\n\n   \r\n{"a":2,"b":[1,2]}\n{"a":3}')
  assert.deepEqual(await jsonl(path).toArray(), [{ a: 1, b: 'x' }, { a: 2, b: [1, 2] }, { a: 3 }])
})

test('invalid JSON throws naming file and line', async () => {
  const path = file('bad.jsonl', '{"a":1}\n\n{"a":\n')
  await assert.rejects(jsonl(path).toArray(), (error: MaltError) => {
    assert.equal(error.code, 'JSONL_BAD_LINE')
    assert.match(error.message, /bad\.jsonl:3: expected a JSON object, found invalid JSON/)
    assert.deepEqual(error.location, { file: path, line: 3 })
    return true
  })
})

test('a line that is not an object throws', async () => {
  await assert.rejects(jsonl(file('arr.jsonl', '{"a":1}\n[1,2]\n')).toArray(), (error: MaltError) => {
    assert.equal(error.code, 'JSONL_NOT_OBJECT')
    assert.match(error.message, /arr\.jsonl:2: expected a JSON object, found an array: \[1,2\]/)
    return true
  })
  await assert.rejects(jsonl(file('num.jsonl', '42\n')).toArray(), /num\.jsonl:1: expected a JSON object, found a number/)
  await assert.rejects(jsonl(file('null.jsonl', 'null\n')).toArray(), /null\.jsonl:1: .*found null/)
})

test("onError 'skip' skips and counts bad lines", async () => {
  const stats = newReadStats()
  const path = file('skip.jsonl', '{"a":1}\nnope\n"str"\n{"a":2}\n')
  assert.deepEqual(await jsonl(path, { onError: 'skip', stats }).toArray(), [{ a: 1 }, { a: 2 }])
  assert.equal(stats.rowsRead, 2)
  assert.equal(stats.rowsSkipped, 2)
  assert.match(stats.skipped[0], /skip\.jsonl:2: expected a JSON object, found invalid JSON/)
  assert.match(stats.skipped[1], /skip\.jsonl:3: expected a JSON object, found a string/)
  assert.throws(() => jsonl(path, { onError: 'ignore' as never }), { code: 'DATA_BAD_OPTION' })
})

test('long lines and multi-byte characters across stream chunks keep their line numbers', async () => {
  const lines: string[] = []
  for (let i = 0; i < 400; i++) lines.push(JSON.stringify({ i, text: 'ø€😀'.repeat(1 + (i % 7) * 500) }))
  lines.push(JSON.stringify({ big: 'x'.repeat(3 * 1024 * 1024) })) // longer than one chunk
  lines.push('{oops}')
  const path = file('long.jsonl', `${lines.join('\n')}\n`)
  const rows: unknown[] = []
  await assert.rejects(jsonl(path).forEach((row) => void rows.push(row)), /long\.jsonl:402: /)
  assert.equal(rows.length, 401)
  assert.deepEqual(rows[123], JSON.parse(lines[123]))
  assert.equal((rows[400] as { big: string }).big.length, 3 * 1024 * 1024)
  await assert.rejects(jsonl(path, { maxLineBytes: 1024 * 1024 }).toArray(), { code: 'JSONL_LINE_TOO_LONG' })
})

test('maxLineBytes must be a positive integer', () => {
  assert.throws(() => jsonl('x.jsonl', { maxLineBytes: 0 }), { code: 'DATA_BAD_OPTION', message: 'jsonl: expected maxLineBytes to be a positive integer, received 0' })
  assert.throws(() => jsonl('x.jsonl', { maxLineBytes: 1.5 }), /received 1\.5/)
})

test('stopping a for await early closes the file', async () => {
  // 4 MB: more than the stream reads ahead, so only closing the file can release it early.
  const line = JSON.stringify({ text: 'x'.repeat(1000) })
  const data = jsonl(file('fds.jsonl', `${Array.from({ length: 4000 }, () => line).join('\n')}\n`))
  await assertClosesOnBreak(data, (row) => {
    assert.equal((row.text as string).length, 1000)
  })
})
