// Assertions on Malt's errors: a MaltError of a given code whose message names the given parts
// (file, offset, column...), and the serving codecs' 400 ServingError.
import assert from 'node:assert/strict'
import { MaltError } from '../../src/errors.js'
import { ServingError } from '../../src/serving/types.js'

export async function rejectsWith(promise: Promise<unknown>, code: string, parts: string[]): Promise<MaltError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof MaltError, `expected a MaltError, got ${String(error)}`)
    assert.equal(error.code, code, error.message)
    for (const part of parts) assert.ok(error.message.includes(part), `"${error.message}" should include "${part}"`)
    return error
  }
  assert.fail('expected a rejection')
}

/** Asserts that `run` throws a 400 ServingError with `code` whose message matches every pattern (the protocol codecs' bad-request check). */
export function throwsBadRequest(run: () => unknown, code: string, ...patterns: RegExp[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ServingError, `expected a ServingError, got ${String(error)}`)
    assert.equal(error.status, 400, error.message)
    assert.equal(error.code, code, error.message)
    for (const pattern of patterns) assert.match(error.message, pattern)
    return true
  })
}
