// The ring with one rank per executor process (LocalProcessPool), formed through the executor
// channel as a trainer forms it: results against sums computed directly, tensor fusion, and a
// peer SIGKILLed mid-all-reduce — the survivors fail fast, naming it, and form a smaller ring.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { LocalProcessPool } from '../../cluster/index.js'
import type { Executor, JsonValue, RunningTask, TaskOutcome } from '../../cluster/index.js'
import { expectedValue, type ValueKind } from './fixtures/ring-worker.js'
import { formRing, RingMember } from './rendezvous.js'

const workerModule = new URL('./fixtures/ring-worker.ts', import.meta.url).href
const pool = new LocalProcessPool({ size: 4 })
after(() => pool.close())
let taskCount = 0

type Fields = Record<string, JsonValue>

/** Runs `runner` on `size` executors, one rank each; `started` sees the tasks before the ring forms. */
async function onRing(size: number, runner: string, payload: Fields, started?: (tasks: RunningTask[], members: RingMember[]) => Promise<void>): Promise<TaskOutcome[]> {
  const executors: Executor[] = []
  for (let i = 0; i < size; i++) executors.push(await pool.acquire())
  try {
    const secret = randomBytes(16).toString('hex') // One per ring, as a trainer would make.
    const tasks = executors.map((executor) =>
      executor.run({ id: `ring-${++taskCount}`, runner: { module: workerModule, export: runner }, payload: { secret, ...payload }, timeoutMs: 120_000 }),
    )
    const members = tasks.map((task) => new RingMember(task))
    const forming = formRing(members)
    await Promise.all([forming, started?.(tasks, members)])
    return await Promise.all(tasks.map((task) => task.outcome))
  } finally {
    for (const executor of executors) pool.release(executor)
  }
}

function valueOf(outcome: TaskOutcome): Fields {
  assert.ok(outcome.ok, `task failed: ${JSON.stringify(outcome)}`)
  return outcome.value as Fields
}

const field = (value: JsonValue, key: string): JsonValue => (value as Fields)[key]

test('sum and mean across 1 to 4 processes equal the direct computation, for lengths 0, 1, 7 and 1e6 + 3', async () => {
  const cases = [0, 1, 7, 1_000_003].flatMap((length) =>
    (['integer', 'real'] as ValueKind[]).flatMap((kind) => (['sum', 'mean'] as const).map((op) => ({ length, op, kind }))),
  )
  for (const size of [1, 2, 3, 4]) {
    const ranks = (await onRing(size, 'allReduceCases', { cases, segmentBytes: 64 * 1024 })).map(valueOf)
    assert.deepEqual(
      ranks.map((rank) => [field(rank, 'rank'), field(rank, 'size')]),
      ranks.map((_, rank) => [rank, size]),
    )
    cases.forEach(({ length, op, kind }, index) => {
      const results = ranks.map((rank) => (field(rank, 'results') as Fields[])[index])
      const what = `${size} processes, ${length} floats, ${op} of ${kind} values`
      for (const result of results) {
        assert.equal(result.sameArray, true, `${what}: in place`)
        const tolerance = kind === 'integer' ? 0 : 1e-6
        assert.ok((result.maxError as number) <= tolerance, `${what}: error ${result.maxError as number} > ${tolerance}`)
        const head = result.head as number[]
        head.forEach((value, i) => assert.ok(Math.abs(value - Math.fround(expectedValue(kind, size, i, op, index))) <= tolerance, `${what}: value ${i}`))
      }
      assert.equal(new Set(results.map((result) => result.digest)).size, 1, `${what}: every rank holds the same bits`)
    })
  }
})

test('the rendezvous written out by hand in a task runner forms the same ring', async () => {
  const ranks = (await onRing(3, 'handWrittenRendezvous', {})).map(valueOf)
  assert.deepEqual(ranks, [0, 1, 2].map((rank) => ({ rank, size: 3, maxError: 0 })))
})

test('tensor fusion with several buffer sizes gives the result of no fusion', async () => {
  const lengths = [1000, 7, 250_000, 1, 33_333, 0, 4096, 600_000, 5]
  const fusionBytes = [0, 64, 4096, 1 << 20, 4 << 20]
  const ranks = (await onRing(3, 'fusionCases', { lengths, fusionBytes, segmentBytes: 32 * 1024 })).map(valueOf)
  const summaries = ranks.flatMap((rank) => field(rank, 'results') as Fields[])
  assert.equal(summaries.length, 3 * fusionBytes.length)
  const digests = new Set(summaries.map((summary) => field(summary.integer, 'digest')))
  assert.equal(digests.size, 1, `integer gradients: one result for every fusion size and rank, got ${digests.size}`)
  for (const summary of summaries) {
    assert.equal(field(summary.integer, 'maxError'), 0, `fusion ${summary.fusionBytes as number} B`)
    assert.ok((field(summary.real, 'maxError') as number) <= 1e-6, `fusion ${summary.fusionBytes as number} B: real error ${field(summary.real, 'maxError') as number}`)
    assert.equal(field(summary.integer, 'sameArrays'), true, 'results land in the pushed gradients')
  }
})

test('a peer SIGKILLed during a long all-reduce: the others fail fast naming it, then a ring of the survivors works', async () => {
  const killedRank = 1
  let killedAt = 0
  const lostAt = new Map<number, number>()
  const outcomes = await onRing(4, 'survivor', { length: 4_000_000, maxLoopMs: 60_000 }, async (tasks, members) => {
    const pids = new Map<number, number>()
    const looping = new Promise<void>((resolve) => {
      tasks.forEach((task, rank) =>
        task.onMessage((message) => {
          if (field(message, 'type') === 'looping') pids.set(rank, field(message, 'pid') as number)
          if (field(message, 'type') === 'ring-lost') lostAt.set(rank, Date.now())
          if (pids.size === tasks.length) resolve()
        }),
      )
    })
    await looping
    await new Promise((resolve) => setTimeout(resolve, 300)) // Well inside the all-reduce loop.
    killedAt = Date.now()
    process.kill(pids.get(killedRank) as number, 'SIGKILL')
    await formRing(members.filter((_, rank) => rank !== killedRank)) // The survivors report new addresses.
  })
  assert.equal((outcomes[killedRank] as { reason?: string }).reason, 'crash')
  const survivors = outcomes.filter((_, rank) => rank !== killedRank).map(valueOf)
  survivors.forEach((survivor, index) => {
    const lost = survivor.lost as Fields
    const rank = field(survivor, 'firstRank') as number
    assert.equal(lost.code, 'RING_PEER_LOST', String(lost.message))
    assert.equal(lost.peerRank, killedRank, `rank ${rank} names the killed rank: ${String(lost.message)}`)
    const detectedMs = (lostAt.get(rank) as number) - killedAt
    assert.ok(detectedMs < 5000, `rank ${rank} took ${detectedMs} ms to notice`)
    const second = survivor.second as Fields
    assert.deepEqual([second.rank, second.size, second.maxError], [index, 3, 0], `rank ${rank} in the new ring`)
  })
})
