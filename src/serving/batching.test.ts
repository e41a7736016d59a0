// Tests of the batch queue: coalescing on a real TF.js model, when batches start, which
// requests merge, and how overload, model failures and shutdown reach each request.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { MaltError } from '../errors.js'
import { tf, ready } from '../backend/index.js'
import { BatchQueue, batchingOptions, BATCHING_DEFAULTS } from './batching.js'
import { ServingError, type DataType, type Tensor } from './types.js'

/** A request of one input `x` whose row r holds values r*width + c + offset. */
function request(rows: number, width = 3, offset = 0, datatype: DataType = 'FP32'): Map<string, Tensor> {
  const data = datatype === 'INT32' ? new Int32Array(rows * width) : new Float32Array(rows * width)
  for (let i = 0; i < data.length; i++) data[i] = i + offset
  return new Map([['x', { name: 'x', datatype, shape: [rows, width], data }]])
}

/** A model that doubles `x` into `y`, recording the rows of every call and how many run at once. */
function doubler(delayMs = 0, gate?: Promise<void>) {
  const calls: number[][] = []
  let active = 0
  let maxActive = 0
  const run = async (inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> => {
    const x = inputs.get('x') as Tensor
    calls.push(x.shape)
    active++
    maxActive = Math.max(maxActive, active)
    if (gate !== undefined) await gate
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
    active--
    const data = (x.data as Float32Array).map((value) => value * 2)
    return new Map([['y', { name: 'y', datatype: x.datatype, shape: [...x.shape], data }]])
  }
  return { run, calls, maxActive: () => maxActive }
}

function deferred(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {}
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

function doubled(tensor: Tensor | undefined, rows: number, width = 3, offset = 0): void {
  assert.ok(tensor)
  assert.deepEqual(tensor.shape, [rows, width])
  assert.deepEqual(Array.from(tensor.data as Float32Array), Array.from({ length: rows * width }, (_, i) => (i + offset) * 2))
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

test('batchingOptions fills in the defaults and keeps the values given', () => {
  assert.deepEqual(batchingOptions(), { maxBatchSize: 32, batchTimeoutMicros: 1000, maxEnqueuedBatches: 100, maxConcurrentBatches: 1 })
  assert.deepEqual(batchingOptions({ maxBatchSize: 8, batchTimeoutMicros: 0, maxConcurrentBatches: 2 }), { ...BATCHING_DEFAULTS, maxBatchSize: 8, batchTimeoutMicros: 0, maxConcurrentBatches: 2 })
})

test('batchingOptions names the option and the value it refuses', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ maxBatchSize: 0 }, /maxBatchSize must be an integer >= 1, received 0/],
    [{ maxBatchSize: 1.5 }, /maxBatchSize .* received 1\.5/],
    [{ maxBatchSize: '32' }, /maxBatchSize .* received "32"/],
    [{ batchTimeoutMicros: -1 }, /batchTimeoutMicros must be an integer >= 0, received -1/],
    [{ maxEnqueuedBatches: Number.NaN }, /maxEnqueuedBatches .* received NaN/],
    [{ maxConcurrentBatches: 0 }, /maxConcurrentBatches .* received 0/],
    [{ max_batch_size: 8 }, /unknown option "max_batch_size"; expected one of maxBatchSize/],
  ]
  for (const [options, message] of bad) {
    assert.throws(() => batchingOptions(options), (error: unknown) => error instanceof MaltError && error.code === 'SERVING_BAD_OPTION' && message.test(error.message), JSON.stringify(options))
  }
  assert.throws(() => new BatchQueue({ maxBatchSize: -4 }, doubler().run), /maxBatchSize .* received -4/)
})

test('concurrent requests to a TF.js model run as one batch and each gets its own rows', async () => {
  await ready()
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tf.layers.dense({ units: 3 })] })
  const predict = (x: Tensor): Float32Array => tf.tidy(() => (model.predict(tf.tensor(x.data as Float32Array, x.shape)) as tfjs.Tensor).dataSync() as Float32Array)
  let runs = 0
  const run = async (inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> => {
    runs++
    const x = inputs.get('x') as Tensor
    return new Map([['y', { name: 'y', datatype: 'FP32', shape: [x.shape[0], 3], data: predict(x) }]])
  }
  const batches: [number, number][] = []
  const queue = new BatchQueue({ maxBatchSize: 32, batchTimeoutMicros: 20_000 }, run, { onBatch: (rows, requests) => batches.push([rows, requests]) })
  const rowsOf = [1, 3, 2, 1, 4, 1, 2, 5]
  const requests = rowsOf.map((rows, i) => request(rows, 4, i * 100))
  const results = await Promise.all(requests.map((inputs, i) => queue.submit(inputs, rowsOf[i])))
  assert.equal(runs, 1)
  assert.deepEqual(batches, [[19, 8]])
  for (const [i, inputs] of requests.entries()) {
    const alone = predict(inputs.get('x') as Tensor)
    const y = results[i].get('y') as Tensor
    assert.deepEqual(y.shape, [rowsOf[i], 3])
    assert.equal(y.data.length, alone.length)
    for (let j = 0; j < alone.length; j++) assert.ok(Math.abs((y.data as Float32Array)[j] - alone[j]) < 1e-5, `request ${i} value ${j}`)
  }
  await queue.close()
  model.dispose()
})

test('a full batch starts at once; a partial one when its oldest request has waited the timeout', async () => {
  const full = doubler()
  const long = new BatchQueue({ maxBatchSize: 4, batchTimeoutMicros: 30_000_000 }, full.run)
  const started = performance.now()
  await Promise.all([0, 1, 2, 3].map((i) => long.submit(request(1, 3, i), 1)))
  assert.ok(performance.now() - started < 2000, 'a full batch waited for the 30 s timeout')
  assert.deepEqual(full.calls, [[4, 3]])
  await long.close()

  const partial = doubler()
  const queue = new BatchQueue({ maxBatchSize: 32, batchTimeoutMicros: 60_000 }, partial.run)
  const first = queue.submit(request(1), 1).then(() => performance.now())
  const opened = performance.now()
  await new Promise((resolve) => setTimeout(resolve, 15))
  const second = queue.submit(request(2), 2).then(() => performance.now())
  const [firstDone, secondDone] = await Promise.all([first, second])
  assert.ok(firstDone - opened >= 55, `the batch started after ${firstDone - opened} ms, before the 60 ms timeout`)
  assert.ok(Math.abs(secondDone - firstDone) < 5, 'both requests finished with one batch')
  assert.deepEqual(partial.calls, [[3, 3]])
  await queue.close()
})

test('at most maxConcurrentBatches batches run at once', async () => {
  for (const maxConcurrentBatches of [1, 2]) {
    const model = doubler(20)
    const queue = new BatchQueue({ maxBatchSize: 2, batchTimeoutMicros: 0, maxConcurrentBatches }, model.run)
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => queue.submit(request(1, 3, i * 3), 1)))
    for (const [i, outputs] of results.entries()) doubled(outputs.get('y'), 1, 3, i * 3)
    assert.deepEqual(model.calls, [[2, 3], [2, 3], [2, 3]])
    assert.equal(model.maxActive(), maxConcurrentBatches)
    await queue.close()
  }
})

test('a request larger than maxBatchSize is refused with 400, as TF Serving does, and the queue goes on', async () => {
  const model = doubler()
  const queue = new BatchQueue({ maxBatchSize: 4 }, model.run)
  await assert.rejects(queue.submit(request(5), 5), (error: unknown) => {
    assert.ok(error instanceof ServingError)
    assert.equal(error.status, 400)
    assert.equal(error.code, 'SERVING_BATCH_TOO_LARGE')
    assert.equal(error.message, 'Task size 5 is larger than maximum input batch size 4')
    return true
  })
  doubled((await queue.submit(request(4), 4)).get('y'), 4)
  assert.deepEqual(model.calls, [[4, 3]])
  await queue.close()
})

test('only requests whose inputs agree after the first dimension are merged', async () => {
  const model = doubler()
  const queue = new BatchQueue({ maxBatchSize: 32, batchTimeoutMicros: 5000 }, model.run)
  const [a, b, c, d] = await Promise.all([
    queue.submit(request(1, 3), 1),
    queue.submit(request(1, 4), 1),
    queue.submit(request(2, 3, 10), 2),
    queue.submit(request(1, 3, 0, 'INT32'), 1),
  ])
  doubled(a.get('y'), 1, 3)
  doubled(b.get('y'), 1, 4)
  doubled(c.get('y'), 2, 3, 10)
  doubled(d.get('y'), 1, 3)
  assert.ok(d.get('y')?.data instanceof Int32Array)
  assert.deepEqual(model.calls, [[3, 3], [1, 4], [1, 3]])
  await queue.close()
})

test('inputs that do not have the request rows are refused with 400', async () => {
  const queue = new BatchQueue({}, doubler().run)
  await assert.rejects(queue.submit(request(2), 3), { status: 400, code: 'SERVING_BAD_BATCH', message: /input "x": expected 3 rows .* received shape \[2,3\]/ })
  await assert.rejects(queue.submit(request(1), 0), { status: 400, code: 'SERVING_BAD_BATCH' })
  await queue.close()
})

test('a request needing more than maxEnqueuedBatches waiting batches fails at once with 503', async () => {
  const gate = deferred()
  const model = doubler(0, gate.promise)
  const queue = new BatchQueue({ maxBatchSize: 2, batchTimeoutMicros: 30_000_000, maxEnqueuedBatches: 2, model: 'mnist' }, model.run)
  const running = queue.submit(request(2), 2) // full: starts at once and holds the model
  await tick()
  assert.equal(model.calls.length, 1)
  const waiting = [queue.submit(request(2, 3, 1), 2), queue.submit(request(1, 3, 2), 1), queue.submit(request(1, 3, 3), 1)] // two batches
  await assert.rejects(queue.submit(request(1, 3, 4), 1), (error: unknown) => {
    assert.ok(error instanceof ServingError)
    assert.equal(error.status, 503)
    assert.equal(error.code, 'SERVING_QUEUE_FULL')
    assert.match(error.message, /^the batch queue of model "mnist" is full: 2 batches are waiting \(max_enqueued_batches 2\)/)
    return true
  })
  gate.open()
  doubled((await running).get('y'), 2)
  const [b, c, d] = await Promise.all(waiting)
  doubled(b.get('y'), 2, 3, 1)
  doubled(c.get('y'), 1, 3, 2)
  doubled(d.get('y'), 1, 3, 3)
  assert.deepEqual(model.calls, [[2, 3], [2, 3], [2, 3]])
  await queue.close()
})

test('a failing run rejects every request of its batch with its error, and later batches still run', async () => {
  const boom = new Error('model exploded')
  let calls = 0
  const good = doubler().run
  const failing = async (inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> => {
    calls++
    if (calls === 1) throw boom
    return good(inputs)
  }
  const queue = new BatchQueue({ maxBatchSize: 2, batchTimeoutMicros: 0 }, failing)
  const settled = await Promise.allSettled([queue.submit(request(1), 1), queue.submit(request(1), 1), queue.submit(request(1, 3, 5), 1)])
  assert.deepEqual(settled.slice(0, 2), [{ status: 'rejected', reason: boom }, { status: 'rejected', reason: boom }])
  assert.equal(settled[2].status, 'fulfilled')
  doubled((settled[2] as PromiseFulfilledResult<Map<string, Tensor>>).value.get('y'), 1, 3, 5)

  // A run that throws before returning a promise fails its batch the same way.
  const oops = new TypeError('not a promise')
  const throwing = new BatchQueue({ batchTimeoutMicros: 0 }, () => {
    throw oops
  })
  await assert.rejects(throwing.submit(request(1), 1), (error: unknown) => error === oops)
  await Promise.all([queue.close(), throwing.close()])
})

test('outputs without one row per input row fail every request of the batch with 500', async () => {
  let calls = 0
  const good = doubler().run
  const broken = async (inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> => {
    calls++
    if (calls > 1) return good(inputs)
    return new Map([['y', { name: 'y', datatype: 'FP32', shape: [1, 3], data: new Float32Array(3) }]])
  }
  const queue = new BatchQueue({ batchTimeoutMicros: 2000 }, broken)
  const settled = await Promise.allSettled([queue.submit(request(2), 2), queue.submit(request(1), 1)])
  const errors = settled.map((result) => (result.status === 'rejected' ? result.reason : undefined))
  assert.ok(errors[0] instanceof ServingError)
  assert.equal(errors[0], errors[1])
  assert.equal(errors[0].status, 500)
  assert.equal(errors[0].code, 'SERVING_BAD_BATCH_OUTPUT')
  assert.match(errors[0].message, /output "y": expected 3 rows \(the batch of 2 requests\) .* returned shape \[1,3\]/)
  doubled((await queue.submit(request(2), 2)).get('y'), 2)
  await queue.close()
})

test('close runs what is queued without waiting for the timeout, then refuses new requests with 503', async () => {
  const model = doubler(10)
  const queue = new BatchQueue({ maxBatchSize: 2, batchTimeoutMicros: 30_000_000 }, model.run)
  const done: number[] = []
  const pending = [0, 1, 2].map((i) =>
    queue.submit(request(1, 3, i), 1).then((outputs) => {
      doubled(outputs.get('y'), 1, 3, i)
      done.push(i)
    }),
  )
  const started = performance.now()
  await queue.close()
  assert.ok(performance.now() - started < 2000)
  assert.deepEqual(done.sort(), [0, 1, 2], 'close resolved before its requests')
  await Promise.all(pending)
  assert.deepEqual(model.calls, [[2, 3], [1, 3]])
  await assert.rejects(queue.submit(request(1), 1), { status: 503, code: 'SERVING_QUEUE_CLOSED', message: /batch queue is closed/ })
  await queue.close() // a second close is harmless
})

test('no timer is left behind after close', async () => {
  const timers = (): number => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
  const before = timers()
  const queue = new BatchQueue({ batchTimeoutMicros: 60_000_000 }, doubler().run)
  const pending = queue.submit(request(1), 1)
  assert.equal(timers(), before + 1, 'the batch timeout is a timer')
  await queue.close()
  await pending
  assert.equal(timers(), before)
})

test('a timeout of 0 merges the requests that arrived in the same turn of the event loop; sub-millisecond timeouts are not rounded up to 1 ms', async () => {
  const model = doubler()
  const queue = new BatchQueue({ maxBatchSize: 64, batchTimeoutMicros: 0 }, model.run)
  // Requests parsed in one poll phase (here: submitted together) form one batch…
  const together = await Promise.all([1, 2, 3].map((rows) => queue.submit(request(rows), rows)))
  together.forEach((outputs, i) => doubled(outputs.get('y'), i + 1))
  assert.deepEqual(model.calls, [[6, 3]])
  // …and a request alone runs without waiting for company.
  await queue.submit(request(1), 1)
  assert.deepEqual(model.calls, [[6, 3], [1, 3]])
  await queue.close()

  // 300 µs: a lone request waits about that long, not a whole timer millisecond each time.
  const fast = new BatchQueue({ maxBatchSize: 64, batchTimeoutMicros: 300 }, doubler().run)
  const started = performance.now()
  for (let i = 0; i < 20; i++) await fast.submit(request(1), 1)
  const perRequestMs = (performance.now() - started) / 20
  await fast.close()
  // 1 ms timers would make this ≥ 1; the bound leaves room for a loaded machine.
  assert.ok(perRequestMs < 0.95, `a lone request took ${perRequestMs.toFixed(3)} ms with a 300 µs timeout`)
})
