// Dynamic request batching, as TF Serving's batch scheduler does it: concurrent requests to one
// model are joined along the batch (first) dimension into one model call, and the outputs are
// split back so that each caller gets exactly its own rows.
import { MaltError, describeValue } from '../errors.js'
import { concatBatch, splitBatch } from './tensor.js'
import { ServingError, type BatchingOptions, type Tensor } from './types.js'

/** Batching options plus how many batches may run the model at once. */
export interface BatchQueueOptions extends BatchingOptions {
  /**
   * Batches running the model at the same time (TF Serving's `num_batch_threads`). More than 1
   * only helps a runtime that computes off the main thread (ONNX); TF.js computes synchronously.
   * @defaultValue 1
   */
  maxConcurrentBatches: number
}

/** The defaults of {@link BatchQueueOptions}: small batches and 1 ms of waiting suit CPU models. */
export const BATCHING_DEFAULTS: Readonly<BatchQueueOptions> = {
  maxBatchSize: 32,
  batchTimeoutMicros: 1000,
  maxEnqueuedBatches: 100,
  maxConcurrentBatches: 1,
}

/** The smallest value of each option (a timeout of 0 starts a batch as soon as the model is free). */
const MINIMUMS: Readonly<BatchQueueOptions> = { maxBatchSize: 1, batchTimeoutMicros: 0, maxEnqueuedBatches: 1, maxConcurrentBatches: 1 }

/**
 * Fills in the defaults and checks every value: integers, at least 1 (the timeout at least 0).
 * Throws a MaltError (`SERVING_BAD_OPTION`) naming the option and the value received.
 * @example batchingOptions({ maxBatchSize: 64 }) // { maxBatchSize: 64, batchTimeoutMicros: 1000, ... }
 */
export function batchingOptions(options: Partial<BatchingOptions> & { maxConcurrentBatches?: number } = {}): BatchQueueOptions {
  const known = Object.keys(BATCHING_DEFAULTS)
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new MaltError('SERVING_BAD_OPTION', `batching: unknown option ${describeValue(key)}; expected one of ${known.join(', ')}`)
  }
  const resolved = { ...BATCHING_DEFAULTS }
  for (const name of known as (keyof BatchQueueOptions)[]) {
    const value: unknown = options[name]
    if (value === undefined) continue
    const minimum = MINIMUMS[name]
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum) {
      throw new MaltError('SERVING_BAD_OPTION', `batching: ${name} must be an integer >= ${minimum}, received ${describeValue(value)}`)
    }
    resolved[name] = value
  }
  return resolved
}

/** Observers of a {@link BatchQueue} (metrics). */
export interface BatchQueueHooks {
  /** Called as each batch starts: rows in it and requests merged. */
  onBatch?(rows: number, requests: number): void
}

/** One caller's request, waiting for its rows of the outputs. */
interface QueuedRequest {
  inputs: ReadonlyMap<string, Tensor>
  rows: number
  resolve(outputs: Map<string, Tensor>): void
  reject(error: unknown): void
}

/** Requests of one shape signature that will run together. */
interface PendingBatch {
  /** Input names, datatypes and every dimension after the first: only equal keys can be joined. */
  key: string
  requests: QueuedRequest[]
  rows: number
  /** When its first request came, in microseconds (`performance.now()` clock). */
  openedAt: number
  /** Takes no more requests: full, or a request did not fit and opened the next batch. */
  sealed: boolean
}

const nowMicros = (): number => performance.now() * 1000

/**
 * A model's batch queue. Requests wait until their batch is full (`maxBatchSize` rows) or its
 * oldest request has waited `batchTimeoutMicros`, then run as one call of `run`; at most
 * `maxConcurrentBatches` calls run at once. Requests are merged only when their inputs agree in
 * name, datatype and every dimension after the first. As TF Serving, a request larger than
 * `maxBatchSize` is refused (400) rather than split, and a request that would need more than
 * `maxEnqueuedBatches` waiting batches is refused at once (503).
 *
 * @example
 * const queue = new BatchQueue({ maxBatchSize: 64 }, (inputs) => model.predict(inputs))
 * const outputs = await queue.submit(inputs, 3) // this request's 3 rows of every output
 */
export class BatchQueue {
  private readonly options: BatchQueueOptions
  /** The queue in error messages: `the batch queue of model "mnist"`. */
  private readonly queueName: string
  /** Batches not started yet, oldest first. */
  private readonly waiting: PendingBatch[] = []
  /** The batch of each key that still takes requests. */
  private readonly open = new Map<string, PendingBatch>()
  private running = 0
  private closed = false
  private readonly drained: (() => void)[] = []
  private timer: { cancel(): void } | undefined
  private timerDue = 0
  private pumpQueued = false

  /**
   * @param options batching knobs, checked by {@link batchingOptions}; `model` names the model in errors.
   * @param run runs the model on joined inputs; every output's first dimension must be the batch's rows.
   */
  constructor(
    options: Partial<BatchingOptions> & { maxConcurrentBatches?: number; model?: string },
    private readonly run: (inputs: ReadonlyMap<string, Tensor>) => Promise<Map<string, Tensor>>,
    private readonly hooks: BatchQueueHooks = {},
  ) {
    const { model, ...knobs } = options
    this.options = batchingOptions(knobs)
    this.queueName = model === undefined ? "the model's batch queue" : `the batch queue of model ${JSON.stringify(model)}`
  }

  /**
   * Queues one request of `rows` rows (every input's first dimension); resolves with its own
   * rows of every output, in order. Rejects with a ServingError: 400 for a request larger than
   * `maxBatchSize`, 503 when the queue is full or closed; or with the error `run` failed with.
   */
  submit(inputs: ReadonlyMap<string, Tensor>, rows: number): Promise<Map<string, Tensor>> {
    try {
      return this.enqueue(inputs, rows)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Runs what is queued (without waiting for timeouts), then refuses new work (ServingError 503). */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.clearTimer()
      for (const batch of this.waiting) batch.sealed = true
      this.open.clear()
      this.pump()
    }
    if (this.waiting.length === 0 && this.running === 0) return Promise.resolve()
    return new Promise((resolve) => this.drained.push(resolve))
  }

  private enqueue(inputs: ReadonlyMap<string, Tensor>, rows: number): Promise<Map<string, Tensor>> {
    const { maxBatchSize, maxEnqueuedBatches, batchTimeoutMicros } = this.options
    if (this.closed) throw new ServingError(503, 'SERVING_QUEUE_CLOSED', `${this.queueName} is closed (the version is unloading); retry the request`)
    if (!Number.isSafeInteger(rows) || rows < 1) throw new ServingError(400, 'SERVING_BAD_BATCH', `a request must have at least 1 row, received ${describeValue(rows)} rows`)
    // TF Serving's message (SharedBatchScheduler), kept so clients and searches recognise it.
    if (rows > maxBatchSize) throw new ServingError(400, 'SERVING_BATCH_TOO_LARGE', `Task size ${rows} is larger than maximum input batch size ${maxBatchSize}`)
    const key = batchKey(inputs, rows)

    let batch = this.open.get(key)
    let sealedOne = false
    if (batch === undefined || batch.rows + rows > maxBatchSize) {
      // A new batch is needed; the rows already waiting decide whether there is room for one.
      if (this.waiting.length >= maxEnqueuedBatches) {
        throw new ServingError(
          503,
          'SERVING_QUEUE_FULL',
          `${this.queueName} is full: ${this.waiting.length} batches are waiting (max_enqueued_batches ${maxEnqueuedBatches}) and this request's ${rows} rows do not fit in them; retry later`,
        )
      }
      if (batch !== undefined) {
        batch.sealed = true
        sealedOne = true
      }
      batch = { key, requests: [], rows: 0, openedAt: nowMicros(), sealed: false }
      this.waiting.push(batch)
      this.open.set(key, batch)
    }
    const promise = new Promise<Map<string, Tensor>>((resolve, reject) => batch.requests.push({ inputs, rows, resolve, reject }))
    batch.rows += rows
    if (batch.rows === maxBatchSize) batch.sealed = true
    if (batch.sealed) this.open.delete(key)

    if (this.running < this.options.maxConcurrentBatches) {
      const deadline = batch.openedAt + batchTimeoutMicros
      if (sealedOne || batch.sealed) this.pumpSoon()
      else if (this.timer === undefined || this.timerDue > deadline) this.armTimer(deadline)
    }
    return promise
  }

  /** Starts a pump after the current synchronous work, so requests queued together are merged. */
  private pumpSoon(): void {
    if (this.pumpQueued) return
    this.pumpQueued = true
    queueMicrotask(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  /** Starts every ready batch there is a free slot for, then waits for the next timeout. */
  private pump(now = nowMicros()): void {
    const { maxConcurrentBatches, batchTimeoutMicros } = this.options
    while (this.running < maxConcurrentBatches) {
      const index = this.waiting.findIndex((batch) => batch.sealed || batch.openedAt + batchTimeoutMicros <= now)
      if (index < 0) break
      const [batch] = this.waiting.splice(index, 1)
      if (this.open.get(batch.key) === batch) this.open.delete(batch.key)
      this.start(batch)
    }
    this.clearTimer()
    // A busy model needs no timer: the batch that finishes pumps again.
    if (this.running >= maxConcurrentBatches || this.waiting.length === 0) return
    let deadline = Infinity
    for (const batch of this.waiting) deadline = Math.min(deadline, batch.openedAt + batchTimeoutMicros)
    this.armTimer(deadline)
  }

  private armTimer(deadline: number): void {
    this.clearTimer()
    this.timerDue = deadline
    const remaining = deadline - nowMicros()
    if (remaining < 1000) {
      // Node's timers count whole milliseconds: a 200 µs timeout would wait 1 ms or more. Below a
      // millisecond, yield to I/O instead until the deadline: setImmediate runs after the poll phase,
      // so requests already received join the batch first (with a timeout of 0, exactly those).
      const handle = setImmediate(() => {
        this.timer = undefined
        if (nowMicros() >= deadline) this.pump(nowMicros())
        else this.armTimer(deadline)
      })
      this.timer = { cancel: () => clearImmediate(handle) }
      return
    }
    // Timers may fire a little before `deadline` on the microsecond clock; they count as on time.
    const handle = setTimeout(() => {
      this.timer = undefined
      this.pump(Math.max(nowMicros(), deadline))
    }, Math.ceil(remaining / 1000))
    this.timer = { cancel: () => clearTimeout(handle) }
  }

  private clearTimer(): void {
    if (this.timer === undefined) return
    this.timer.cancel()
    this.timer = undefined
  }

  private start(batch: PendingBatch): void {
    this.running++
    const rejectAll = (error: unknown): void => {
      for (const request of batch.requests) request.reject(error)
    }
    let result: Promise<Map<string, Tensor>>
    try {
      // A throwing hook fails its batch rather than the timer callback (which would crash the process).
      this.hooks.onBatch?.(batch.rows, batch.requests.length)
      result = this.run(joinInputs(batch.requests))
    } catch (error) {
      result = Promise.reject(error)
    }
    void result
      .then((outputs) => distribute(batch, outputs))
      .catch(rejectAll) // settling a request twice is a no-op, so a late failure cannot confuse callers
      .finally(() => {
        this.running--
        this.pump()
        if (this.closed && this.waiting.length === 0 && this.running === 0) {
          for (const resolve of this.drained.splice(0)) resolve()
        }
      })
  }
}

/**
 * The signature of a request's inputs that batches must share: names, datatypes and the
 * dimensions after the first. Checks that every input has `rows` rows.
 */
function batchKey(inputs: ReadonlyMap<string, Tensor>, rows: number): string {
  let key = ''
  for (const [name, tensor] of inputs) {
    if (tensor.shape.length === 0 || tensor.shape[0] !== rows) {
      throw new ServingError(400, 'SERVING_BAD_BATCH', `input ${JSON.stringify(name)}: expected ${rows} rows (the request's batch size) in the first dimension, received shape ${describeValue(tensor.shape)}`)
    }
    key += `${name}\u0000${tensor.datatype}\u0000${tensor.shape.slice(1).join(',')}\u0001`
  }
  return key
}

/** Joins the requests' inputs along the first dimension (requests of one batch share a key). */
function joinInputs(requests: readonly QueuedRequest[]): ReadonlyMap<string, Tensor> {
  if (requests.length === 1) return requests[0].inputs
  const joined = new Map<string, Tensor>()
  for (const name of requests[0].inputs.keys()) {
    joined.set(name, concatBatch(requests.map((request) => request.inputs.get(name) as Tensor)))
  }
  return joined
}

/** Gives each request its rows of every output, or fails them all when the model broke the batch contract. */
function distribute(batch: PendingBatch, outputs: Map<string, Tensor>): void {
  for (const [name, output] of outputs) {
    if (output.shape[0] !== batch.rows) {
      const error = new ServingError(
        500,
        'SERVING_BAD_BATCH_OUTPUT',
        `output ${JSON.stringify(name)}: expected ${batch.rows} rows (the batch of ${batch.requests.length} requests) in the first dimension, the model returned shape ${describeValue(output.shape)}; a batched model must return one output row per input row`,
      )
      for (const request of batch.requests) request.reject(error)
      return
    }
  }
  if (batch.requests.length === 1) {
    batch.requests[0].resolve(outputs)
    return
  }
  const rows = batch.requests.map((request) => request.rows)
  const perRequest = batch.requests.map(() => new Map<string, Tensor>())
  for (const [name, output] of outputs) {
    const pieces = splitBatch(output, rows)
    for (const [i, piece] of pieces.entries()) perRequest[i].set(name, piece)
  }
  for (const [i, request] of batch.requests.entries()) request.resolve(perRequest[i])
}
