// The JSON Lines source: one JSON object per line, streamed line by line so that memory is
// bounded by the longest line, with bad lines thrown or skipped by file:line.
import { MaltError, describeValue } from '../../errors.js'
import { resolvePath } from '../../storage/index.js'
import { requireInteger } from '../../util/checks.js'
import { Dataset } from '../dataset.js'
import type { OnError, ReadStats, Row } from '../types.js'
import { RowErrorPolicy, checkOnError } from './row-errors.js'

/** Options of {@link jsonl}. */
export interface JsonlOptions {
  /** What to do with a line that is not valid JSON or not an object. @defaultValue 'throw' */
  onError?: OnError
  /** Filled while reading: rows read, rows skipped and why. Reset at the start of each pass. */
  stats?: ReadStats
  /** A line longer than this many bytes is an error (guards memory against a file with no newlines). @defaultValue 64 MiB */
  maxLineBytes?: number
}

const NEWLINE = 0x0a
const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024

/** Splits a byte stream into lines (without `\n` or a trailing `\r`), with their 1-based numbers. */
async function* lines(chunks: AsyncIterable<Uint8Array>, uri: string, maxLineBytes: number): AsyncGenerator<{ text: string; line: number }> {
  // The pieces of a line that started in an earlier chunk (a list, so a long line is copied once).
  const carry: Buffer[] = []
  let carried = 0
  let line = 0
  const decode = (bytes: Buffer): string => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length
    return bytes.toString('utf8', 0, end)
  }
  const joinCarry = (last: Buffer): Buffer => {
    const joined = Buffer.concat([...carry, last])
    carry.length = 0
    carried = 0
    return joined
  }
  for await (const raw of chunks) {
    const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
    let from = 0
    let newline = chunk.indexOf(NEWLINE)
    while (newline >= 0) {
      const piece = chunk.subarray(from, newline)
      yield { text: decode(carried > 0 ? joinCarry(piece) : piece), line: ++line }
      from = newline + 1
      newline = chunk.indexOf(NEWLINE, from)
    }
    if (from < chunk.length) {
      carry.push(chunk.subarray(from))
      carried += chunk.length - from
      if (carried > maxLineBytes) {
        throw new MaltError('JSONL_LINE_TOO_LONG', `${uri}:${line + 1}: expected lines of at most ${maxLineBytes} bytes, found a longer one; is this JSON Lines?`, {
          location: { file: uri, line: line + 1 },
        })
      }
    }
  }
  if (carried > 0) yield { text: decode(joinCarry(Buffer.alloc(0))), line: ++line }
}

/**
 * Reads a JSON Lines file (one JSON object per line) as a Dataset of rows. Blank lines are
 * ignored; a line that is not a JSON object is thrown, or skipped with `onError: 'skip'`.
 *
 * @example
 * for await (const event of jsonl('logs/requests.jsonl')) console.log(event.latencyMs)
 */
export function jsonl(uri: string, options: JsonlOptions = {}): Dataset<Row> {
  const onError = checkOnError('jsonl', options.onError)
  const maxLineBytes = requireInteger('DATA_BAD_OPTION', 'jsonl', 'maxLineBytes', options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES)
  return Dataset.fromGenerator(async function* () {
    const policy = new RowErrorPolicy(onError, options.stats)
    const { storage, path } = resolvePath(uri)
    const input = storage.createReadStream(path)
    try {
      for await (const { text, line } of lines(input, uri, maxLineBytes)) {
        const trimmed = line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
        if (trimmed.trim() === '') continue
        let value: unknown
        try {
          value = JSON.parse(trimmed)
        } catch (error) {
          policy.bad('JSONL_BAD_LINE', `${uri}:${line}: expected a JSON object, found invalid JSON (${(error as Error).message})`, { file: uri, line }, error)
          continue
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          const kind = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`
          policy.bad('JSONL_NOT_OBJECT', `${uri}:${line}: expected a JSON object, found ${kind}: ${describeValue(value)}`, { file: uri, line })
          continue
        }
        policy.read()
        yield value as Row
      }
    } finally {
      input.destroy()
    }
  })
}
