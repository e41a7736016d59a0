// Argument checks shared by the library and the CLI, so every "expected a positive integer"
// reads the same and names the option, the value received and where.
import { MaltError, describeValue } from '../errors.js'

function integerWords(min: number): string {
  if (min === 1) return 'a positive integer'
  if (min === 0) return 'a non-negative integer'
  return `an integer ≥ ${min}`
}

/**
 * Returns `value` when it is an integer ≥ `min`, else throws `MaltError(code)`:
 * "`context`: expected `name` to be a positive integer, received 1.5".
 */
export function requireInteger(code: string, context: string, name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new MaltError(code, `${context}: expected ${name} to be ${integerWords(min)}, received ${describeValue(value)}`)
  }
  return value
}

/** A commander option parser for an integer flag ≥ `min` (`--limit <n>`). */
export function integerOption(flag: string, min = 1): (text: string) => number {
  return (text: string): number => {
    const parsed = text.trim() === '' ? Number.NaN : Number(text)
    if (!Number.isInteger(parsed) || parsed < min) {
      throw new MaltError('CLI_BAD_OPTION', `${flag}: expected ${integerWords(min)}, received ${describeValue(text)}`)
    }
    return parsed
  }
}
