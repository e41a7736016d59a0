// Option parsers shared by the CLI commands: each names the flag and the value it received.
import { MaltError, describeValue } from '../errors.js'
import type { OnError } from '../data/types.js'

export { integerOption } from '../util/checks.js'

/** `--on-error throw|skip`: what a reader does with a malformed row. */
export function onErrorOption(value: string): OnError {
  if (value !== 'throw' && value !== 'skip') {
    throw new MaltError('CLI_BAD_OPTION', `--on-error: expected "throw" or "skip", received ${describeValue(value)}`)
  }
  return value
}
