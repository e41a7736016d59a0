// The parameter server as an executor task: the trainers' driver runs `parameterServerTask` in an
// executor process, learns its address from a `listening` message, and ends it with `stop`.
import { hostname } from 'node:os'
import type { JsonValue, TaskChannel } from '../../cluster/types.js'
import { MaltError, describeValue } from '../../errors.js'
import { readWeightsSlice } from './checkpoint.js'
import { ParameterServer } from './server.js'
import type { ParameterRange } from './slices.js'
import { UPDATE_RULES, type UpdateRule } from './types.js'

/** The task's payload (JSON). */
export interface ParameterServerTaskPayload {
  /** The run's shared secret. */
  secret: string
  /** Raw little-endian float32 file of the initial flat weights (the trainers' weights file). */
  weightsPath: string
  /** The slice of it this server holds. @defaultValue all of it */
  range?: ParameterRange
  /** @defaultValue 'add' */
  rule?: UpdateRule
  /** Interface to listen on; '0.0.0.0' for workers on other machines. @defaultValue '127.0.0.1' */
  host?: string
  /** @defaultValue 0 (a free port) */
  port?: number
  /** Host name put in the `listening` address when listening on all interfaces. @defaultValue os.hostname() */
  advertiseHost?: string
  /** Checkpoint file: resumed from when it exists, written on stop and by the two triggers below. */
  checkpointPath?: string
  checkpointEveryUpdates?: number
  checkpointEveryMs?: number
}

/** What the task sends the driver once its port is open. */
export interface ParameterServerListening {
  type: 'listening'
  /** `host:port` for the workers. */
  address: string
  /** True when the server continued from its checkpoint, at update `updates`. */
  resumed: boolean
  updates: number
  /** The executor process serving it (fault tests kill it). */
  pid: number
}

/** The driver's message that ends the task: final checkpoint, close, resolve with the server's stats. */
export const STOP_MESSAGE = { type: 'stop' } as const

function badPayload(field: string, expected: string, received: unknown): MaltError {
  return new MaltError('PS_BAD_PAYLOAD', `parameterServerTask payload field "${field}" must be ${expected}; received ${describeValue(received)}`, {
    location: { field },
  })
}

function parsePayload(payload: JsonValue): ParameterServerTaskPayload {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw badPayload('(payload)', 'an object', payload)
  const string = (field: string, required: boolean): string | undefined => {
    const value = payload[field]
    if (value === undefined && !required) return undefined
    if (typeof value !== 'string' || value === '') throw badPayload(field, 'a non-empty string', value)
    return value
  }
  const number = (field: string): number | undefined => {
    const value = payload[field]
    if (value === undefined) return undefined
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw badPayload(field, 'a number >= 0', value)
    return value
  }
  const rule = payload.rule
  if (rule !== undefined && !UPDATE_RULES.includes(rule as UpdateRule)) throw badPayload('rule', `one of ${UPDATE_RULES.join(', ')}`, rule)
  const range = payload.range
  if (range !== undefined && (typeof range !== 'object' || range === null || Array.isArray(range) || typeof range.start !== 'number' || typeof range.end !== 'number')) {
    throw badPayload('range', '{ start, end }', range)
  }
  return {
    secret: string('secret', true) as string,
    weightsPath: string('weightsPath', true) as string,
    range: range === undefined ? undefined : { start: range.start as number, end: range.end as number },
    rule: rule as UpdateRule | undefined,
    host: string('host', false),
    port: number('port'),
    advertiseHost: string('advertiseHost', false),
    checkpointPath: string('checkpointPath', false),
    checkpointEveryUpdates: number('checkpointEveryUpdates'),
    checkpointEveryMs: number('checkpointEveryMs'),
  }
}

function isStop(message: JsonValue): boolean {
  return typeof message === 'object' && message !== null && !Array.isArray(message) && message.type === STOP_MESSAGE.type
}

/**
 * Executor runner: starts a {@link ParameterServer} from `payload` ({@link ParameterServerTaskPayload}),
 * sends {@link ParameterServerListening}, serves until the driver sends `{ type: 'stop' }`, then
 * writes the final checkpoint, closes and resolves with the server's stats.
 */
export async function parameterServerTask(payload: JsonValue, channel: TaskChannel): Promise<JsonValue> {
  const options = parsePayload(payload)
  // Listen for stop first: a driver may send it as soon as it has the address.
  const stopped = new Promise<void>((resolve) => channel.onMessage((message) => isStop(message) && resolve()))
  const initial = await readWeightsSlice(options.weightsPath, options.range)
  const checkpoint =
    options.checkpointPath === undefined
      ? undefined
      : { path: options.checkpointPath, everyUpdates: options.checkpointEveryUpdates, everyMs: options.checkpointEveryMs }
  const server = await ParameterServer.start({ secret: options.secret, initial, rule: options.rule, host: options.host, port: options.port, checkpoint })
  const allInterfaces = options.host === '0.0.0.0' || options.host === '::'
  const address = allInterfaces ? `${options.advertiseHost ?? hostname()}:${server.port}` : server.address
  const listening: ParameterServerListening = { type: 'listening', address, resumed: server.resumed, updates: server.updates, pid: process.pid }
  channel.send({ ...listening })
  await stopped
  await server.close()
  return { ...server.stats() }
}
