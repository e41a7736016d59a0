// The root error of Malt: every error thrown on purpose carries a stable `code`, a message
// that says what was expected, what was received and where, and an optional cause.

/** Where in an input a problem was found: a file with a line, a byte offset, or a field. */
export interface ErrorLocation {
  file?: string
  line?: number
  offset?: number
  field?: string
}

/** Options of a {@link MaltError}. */
export interface MaltErrorOptions {
  cause?: unknown
  location?: ErrorLocation
}

/**
 * An error Malt raises on purpose. `code` is stable (safe to branch on); the message is for
 * people. The CLI prints these without a stack trace: they are user errors, not bugs.
 */
export class MaltError extends Error {
  readonly code: string
  readonly location?: ErrorLocation

  constructor(code: string, message: string, options: MaltErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'MaltError'
    this.code = code
    this.location = options.location
  }
}


/** Renders any value for an error message: short, quoted strings, JSON for the rest. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)
  if (value === undefined) return 'undefined'
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value) // JSON would say null
  if (typeof value === 'bigint') return `${value}n`
  if (typeof value === 'function') return 'a function'
  try {
    const json = JSON.stringify(value)
    return json.length > 80 ? `${json.slice(0, 77)}...` : json
  } catch {
    return String(value)
  }
}
