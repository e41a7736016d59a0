// Request bodies: JSON as RFC 8259 has it, TF Serving's NaN/Infinity tokens when asked for, and
// 400s with a byte offset — never a SyntaxError, a RangeError or a stack overflow.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseJsonBody } from './json-body.js'
import { ServingError } from '../types.js'

const strict = { nonFiniteTokens: false }
const tokens = { nonFiniteTokens: true }

/** Asserts a 400 SERVING_BAD_JSON at `offset` whose message matches `pattern`. */
function assertBadJson(body: Buffer | string, options: Parameters<typeof parseJsonBody>[1], offset: number, pattern: RegExp): void {
  assert.throws(
    () => parseJsonBody(body, options),
    (error: unknown) => {
      assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`)
      assert.equal(error.status, 400)
      assert.equal(error.code, 'SERVING_BAD_JSON')
      assert.equal(error.location?.offset, offset, error.message)
      assert.match(error.message, new RegExp(`byte ${offset}\\b`))
      assert.match(error.message, pattern)
      return true
    },
  )
}

test('valid JSON parses as JSON.parse reads it, from a Buffer or a string', () => {
  const text = '{"instances": [[1.5, -2e-3, 0], [1E2, 3, 4]], "signature_name": "serving_default", "x": [true, false, null, "a\\"b\\u00e9"]}'
  assert.deepEqual(parseJsonBody(text, strict), JSON.parse(text))
  assert.deepEqual(parseJsonBody(Buffer.from(text), tokens), JSON.parse(text))
})

test('NaN, Infinity and -Infinity are values when the tokens are on (TF Serving JSON conformance)', () => {
  // The request from api_rest.md's "JSON conformance" section, with the spec's "Nan" spelled as its tokens are.
  const body = Buffer.from('{"example": [{"sensor_readings": [1.0, -3.14, NaN, Infinity, -Infinity]}]}')
  const parsed = parseJsonBody(body, tokens) as { example: { sensor_readings: number[] }[] }
  const readings = parsed.example[0].sensor_readings
  assert.deepEqual(readings.slice(0, 2), [1, -3.14])
  assert.ok(Number.isNaN(readings[2]))
  assert.equal(readings[3], Infinity)
  assert.equal(readings[4], -Infinity)
})

test('NaN and Infinity tokens are a 400 at their byte when the tokens are off', () => {
  assertBadJson('{"data": [1, NaN]}', strict, 13, /NaN is not JSON/)
  assertBadJson('[Infinity]', strict, 1, /Infinity is not JSON/)
  assertBadJson('[1, -Infinity]', strict, 4, /-Infinity is not JSON/)
})

test('syntax errors name the byte offset, counting UTF-8 bytes', () => {
  // "é" is two bytes: the stray ']' after the trailing comma sits at byte 13 (character 12).
  assertBadJson('{"é": [1, 2,]}', strict, 13, /expected a JSON value, got '\]'/)
  assertBadJson(Buffer.from('{"é": [1, 2,]}'), tokens, 13, /expected a JSON value/)
  assertBadJson('instances = [1, 2]', strict, 0, /expected a JSON value, got 'i'/)
  assertBadJson('{"a": 1} x', strict, 9, /unexpected 'x' after the JSON value/)
  assertBadJson('{"a" 1}', strict, 5, /expected ':'/)
  assertBadJson('{"a": 1,}', strict, 8, /expected a string key/)
  assertBadJson("{'a': 1}", strict, 1, /expected a string key/)
  assertBadJson('[1 2]', strict, 3, /expected ',' or '\]', got '2'/)
  assertBadJson('[01]', strict, 2, /expected ',' or '\]'/)
  assertBadJson('[1.]', strict, 3, /digit after the decimal point/)
  assertBadJson('[-]', strict, 2, /expected a digit/)
  assertBadJson('["a\\x"]', strict, 3, /invalid escape \\x/)
  assertBadJson('["\\u12G4"]', strict, 6, /4 hex digits/)
  assertBadJson('["a\nb"]', strict, 3, /control character/)
  assertBadJson('["abc', strict, 1, /unterminated string/)
  assertBadJson('{"a": [1, 2', strict, 11, /got the end of the body/)
})

test('an empty body is a 400, not a SyntaxError', () => {
  assertBadJson('', strict, 0, /the body is empty/)
  assertBadJson(Buffer.alloc(0), tokens, 0, /the body is empty/)
  assertBadJson('  \n ', strict, 4, /the body is empty/)
})

test('100000 levels of nesting are a 400 at the first level too deep, quickly, on both paths', () => {
  const levels = 100_000
  const bodies = [
    '['.repeat(levels) + ']'.repeat(levels),
    '['.repeat(levels), // unbalanced too
    '{"a":'.repeat(levels) + '1' + '}'.repeat(levels),
    `[NaN,${'['.repeat(levels)}${']'.repeat(levels)}]`,
  ]
  for (const body of bodies) {
    const started = performance.now()
    for (const options of [strict, tokens]) {
      assert.throws(
        () => parseJsonBody(body, options),
        (error: unknown) => error instanceof ServingError && error.status === 400 && /nesting deeper than 64 levels/.test(error.message),
      )
    }
    assert.ok(performance.now() - started < 500, `took ${performance.now() - started} ms`)
  }
  assertBadJson('['.repeat(levels) + ']'.repeat(levels), strict, 64, /nesting deeper than 64 levels/)
  assertBadJson('{"a":'.repeat(levels) + '1' + '}'.repeat(levels), strict, 320, /nesting/)
})

test('maxDepth is exact: that many levels parse, one more is refused', () => {
  const nested = (depth: number, leaf: string): string => '['.repeat(depth) + leaf + ']'.repeat(depth)
  for (const leaf of ['1', 'NaN']) {
    assert.deepEqual(parseJsonBody(nested(3, leaf), { nonFiniteTokens: true, maxDepth: 3 }), [[[leaf === '1' ? 1 : NaN]]])
    assertBadJson(nested(4, leaf), { nonFiniteTokens: true, maxDepth: 3 }, 3, /deeper than 3 levels/)
  }
  assert.deepEqual(parseJsonBody(nested(64, '1'), strict), JSON.parse(nested(64, '1')))
})

test('brackets inside strings do not count as nesting', () => {
  const text = JSON.stringify({ note: '['.repeat(500) + '\\"[[[', list: [['a]]]"']] })
  assert.deepEqual(parseJsonBody(text, strict), JSON.parse(text))
  assert.deepEqual(parseJsonBody(text.replace('}', ', "n": NaN}'), tokens), { ...JSON.parse(text), n: NaN })
})

test('the byte parser agrees with JSON.parse on what both read (escapes, unicode, numbers, __proto__)', () => {
  const value = { s: 'tab\t"quote"\\ \u00e9\u4e2d\ud83d\ude00 \u0001', n: [0, -0.5, 1e21, 1.5e-7, 123456789012], b: [true, false, null], e: {}, l: [] }
  const text = JSON.stringify(value)
  // A NaN forces the byte parser; everything else must come out as JSON.parse reads it.
  const parsed = parseJsonBody(text.slice(0, -1) + ',"nan":NaN}', tokens) as Record<string, unknown>
  assert.ok(Number.isNaN(parsed.nan))
  delete parsed.nan
  assert.deepEqual(parsed, JSON.parse(text))
  const proto = parseJsonBody('{"__proto__": {"polluted": 1}, "x": NaN}', tokens) as Record<string, unknown>
  assert.equal(Object.getPrototypeOf(proto), Object.prototype)
  assert.deepEqual(proto.__proto__, { polluted: 1 })
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
})

test('maxDepth must be a positive integer', () => {
  assert.throws(() => parseJsonBody('[]', { nonFiniteTokens: false, maxDepth: 0 }), /maxDepth: expected a positive integer/)
})
