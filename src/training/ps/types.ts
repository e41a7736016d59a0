// What the parameter server and its clients share besides framing: the update rules, the
// WELCOME payload and the STATS reply (float64s in a fixed order).
import { MaltError } from '../../errors.js'

/**
 * How the server applies a commit Δ: `'add'` — C += Δ (DOWNPOUR; ADAG, whose workers already
 * divided by their window; AEASGD's elastic term) — or `'staleness'` — C += Δ / (u − u_pulled + 1),
 * DynSGD, with u the server's update counter and u_pulled the one the worker last pulled.
 */
export type UpdateRule = 'add' | 'staleness'

export const UPDATE_RULES: readonly UpdateRule[] = ['add', 'staleness']

/** A server's counters, as `stats()` and the STATS request give them. */
export interface ParameterServerStats {
  /** Values this server holds (its slice of the flat vector). */
  parameters: number
  /** Commits applied: the update counter u (it survives a restart from a checkpoint). */
  updates: number
  /** Commits applied since this process started. */
  commits: number
  /** Centers sent (PULL and COMMIT_PULL). */
  pulls: number
  /** Bytes received and sent on worker connections, headers included. */
  bytesIn: number
  bytesOut: number
  /** Workers connected now. */
  connections: number
  /** Connections refused (wrong secret, protocol error, handshake time-out). */
  refused: number
  /** Checkpoints written, and failed attempts (a failed one is retried at the next trigger). */
  checkpoints: number
  checkpointFailures: number
  /** Commits applied to a fresh copy of the center because a pull's send still read the old one. */
  centerCopies: number
}

/** The order of the STATS reply's float64s. */
export const STATS_FIELDS = [
  'parameters',
  'updates',
  'commits',
  'pulls',
  'bytesIn',
  'bytesOut',
  'connections',
  'refused',
  'checkpoints',
  'checkpointFailures',
  'centerCopies',
] as const satisfies readonly (keyof ParameterServerStats)[]

export function encodeStats(stats: ParameterServerStats): Buffer {
  const bytes = Buffer.allocUnsafe(STATS_FIELDS.length * 8)
  STATS_FIELDS.forEach((field, i) => bytes.writeDoubleLE(stats[field], i * 8))
  return bytes
}

export function decodeStats(payload: Uint8Array, server: string): ParameterServerStats {
  if (payload.byteLength < STATS_FIELDS.length * 8) {
    throw new MaltError('PS_PROTOCOL', `Parameter server ${server} sent ${payload.byteLength} bytes of stats; expected ${STATS_FIELDS.length * 8}`)
  }
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  const stats = {} as ParameterServerStats
  STATS_FIELDS.forEach((field, i) => (stats[field] = view.readDoubleLE(i * 8)))
  return stats
}

/** WELCOME payload: u32 parameter count, u8 rule (index in UPDATE_RULES), 3 bytes reserved. */
export function encodeWelcome(parameters: number, rule: UpdateRule): Buffer {
  const bytes = Buffer.alloc(8)
  bytes.writeUInt32LE(parameters, 0)
  bytes.writeUInt8(UPDATE_RULES.indexOf(rule), 4)
  return bytes
}

export function decodeWelcome(payload: Uint8Array, server: string): { parameters: number; rule: UpdateRule } {
  const rule = payload.byteLength === 8 ? UPDATE_RULES[payload[4]] : undefined
  if (rule === undefined) throw new MaltError('PS_PROTOCOL', `Parameter server ${server} sent a malformed WELCOME (${payload.byteLength} bytes); is it a Malt parameter server of this version?`)
  return { parameters: Buffer.from(payload.buffer, payload.byteOffset, 4).readUInt32LE(0), rule }
}
