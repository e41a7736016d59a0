// The rendezvous through the executor channel: each worker task opens a RingListener and sends
// `{ type: 'ring-address', address }`; the driver, once it has every address, answers each task
// `{ type: 'ring', rank, addresses, ringId }` (rank = the task's place in the driver's list).
// Users never write addresses: the worker calls `joinRing(channel, …)`, the driver `formRing(…)`.
import type { JsonValue, RunningTask, TaskChannel } from '../../cluster/types.js'
import { describeValue } from '../../errors.js'
import { ringError } from './errors.js'
import { RingListener, type RingJoinOptions, type RingListenerOptions } from './listener.js'
import type { AllReduceRing } from './ring.js'

// Type aliases, not interfaces: only those are assignable to JsonValue's index signature.

/** Worker → driver: where this worker's listener is. */
export type RingAddressMessage = {
  type: 'ring-address'
  address: string
}

/** Driver → worker: its rank and every worker's address, ordered by rank. */
export type RingAssignmentMessage = {
  type: 'ring'
  rank: number
  addresses: string[]
  /** Names this ring (its generation) in the handshake, so connections meant for an older ring are refused. */
  ringId?: string
}

function field(message: JsonValue, key: string): JsonValue | undefined {
  return typeof message === 'object' && message !== null && !Array.isArray(message) ? message[key] : undefined
}

/** The message as a RingAssignmentMessage, or undefined when it is another kind of message. */
export function readRingAssignment(message: JsonValue): RingAssignmentMessage | undefined {
  if (field(message, 'type') !== 'ring') return undefined
  const rank = field(message, 'rank')
  const addresses = field(message, 'addresses')
  const ringId = field(message, 'ringId') ?? ''
  if (typeof rank !== 'number' || !Array.isArray(addresses) || addresses.some((address) => typeof address !== 'string') || typeof ringId !== 'string') {
    throw ringError('RING_BAD_MESSAGE', `A "ring" message needs a numeric rank, a list of address strings and an optional string ringId; received ${describeValue(message)}`)
  }
  return { type: 'ring', rank, addresses: addresses as string[], ringId }
}

/** Options of {@link joinRing}: the listener's, the join's (minus what the driver sends), and a wait limit. */
export interface JoinRingOptions extends RingListenerOptions, Omit<RingJoinOptions, 'rank' | 'addresses' | 'ringId'> {
  /** How long to wait for the driver's `ring` message. @defaultValue 120000 */
  assignmentTimeoutMs?: number
}

/**
 * Worker side: opens a listener, reports its address to the driver, waits for the driver's ring
 * message and joins. Call it again (in the same task) to join a new ring after a failure.
 *
 * @example
 * export async function worker(payload: JsonValue, channel: TaskChannel): Promise<JsonValue> {
 *   const ring = await joinRing(channel, { secret: String(field(payload, 'secret')) })
 *   await ring.allReduce(gradients, { op: 'mean' })
 *   await ring.close()
 *   return null
 * }
 */
export async function joinRing(channel: TaskChannel, options: JoinRingOptions): Promise<AllReduceRing> {
  const listener = await RingListener.open(options)
  const timeoutMs = options.assignmentTimeoutMs ?? 120_000
  let waiting = true
  const assignment = new Promise<RingAssignmentMessage>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting = false
      reject(ringError('RING_TIMEOUT', `Executor ${channel.executorId} sent its ring address ${listener.address} but got no "ring" message from the driver within ${timeoutMs} ms`))
    }, timeoutMs)
    channel.onMessage((message) => {
      if (!waiting) return // An earlier join's listener: the channel cannot remove it.
      try {
        const ring = readRingAssignment(message)
        if (ring === undefined) return
        waiting = false
        clearTimeout(timer)
        resolve(ring)
      } catch (error) {
        waiting = false
        clearTimeout(timer)
        reject(error)
      }
    })
  })
  const report: RingAddressMessage = { type: 'ring-address', address: listener.address }
  channel.send(report)
  try {
    const { rank, addresses, ringId } = await assignment
    return await listener.join({ ...options, rank, addresses, ringId })
  } finally {
    await listener.close()
  }
}

/**
 * Driver side: one worker task's rendezvous messages. Create it as soon as the task runs (it
 * listens from then on and queues the addresses the worker reports), then pass it to
 * {@link formRing} for every ring that task joins.
 */
export class RingMember {
  private readonly addresses: string[] = []
  private waiter: { resolve(address: string): void; reject(error: Error): void } | undefined
  private ended: string | undefined

  constructor(readonly task: Pick<RunningTask, 'executorId' | 'send' | 'onMessage' | 'outcome'>) {
    task.onMessage((message) => {
      const address = field(message, 'address')
      if (field(message, 'type') !== 'ring-address' || typeof address !== 'string') return
      if (this.waiter !== undefined) this.waiter.resolve(address)
      else this.addresses.push(address)
    })
    void task.outcome.then((outcome) => {
      this.ended = outcome.ok ? 'finished' : `ended (${outcome.reason}: ${outcome.message})`
      this.waiter?.reject(this.endedError())
    })
  }

  /** The next address the worker reports (an already reported one first). */
  nextAddress(timeoutMs: number): Promise<string> {
    const queued = this.addresses.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    if (this.ended !== undefined) return Promise.reject(this.endedError())
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.waiter?.reject(ringError('RING_TIMEOUT', `Executor ${this.task.executorId} sent no ring address within ${timeoutMs} ms`)), timeoutMs)
      const settle = (): void => {
        clearTimeout(timer)
        this.waiter = undefined
      }
      this.waiter = {
        resolve: (address) => (settle(), resolve(address)),
        reject: (error) => (settle(), reject(error)),
      }
    })
  }

  private endedError(): Error {
    return ringError('RING_WORKER_ENDED', `Executor ${this.task.executorId}'s task ${this.ended ?? 'ended'} before sending its ring address`)
  }
}

/** Options of {@link formRing}. */
export interface FormRingOptions {
  /** Sent to the workers and bound into the handshake; use a new one per ring. @defaultValue 'ring-<n>' (a counter) */
  ringId?: string
  /** How long to wait for every member's address. @defaultValue 120000 */
  timeoutMs?: number
}

let ringsFormed = 0

/**
 * Driver side: waits for an address from every member, then sends each its rank (its index in
 * `members`) and the full list. Resolves with the addresses, ordered by rank.
 */
export async function formRing(members: readonly RingMember[], options: FormRingOptions = {}): Promise<string[]> {
  const ringId = options.ringId ?? `ring-${++ringsFormed}`
  const addresses = await Promise.all(members.map((member) => member.nextAddress(options.timeoutMs ?? 120_000)))
  members.forEach((member, rank) => {
    const assignment: RingAssignmentMessage = { type: 'ring', rank, addresses, ringId }
    member.task.send(assignment)
  })
  return addresses
}
