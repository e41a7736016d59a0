// Asserts that a promise rejects with a MaltError of a given code whose message names the
// given parts (file, offset, column...); returns the error for further checks.
import assert from 'node:assert/strict'
import { MaltError } from '../../src/errors.js'

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
