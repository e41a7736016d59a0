// Checkpoints: written by count, by timer and on close, resumed by a restarted server with the same
// center and counter; bad files are refused with the path and what is wrong; weight-file slices.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { rejectsWith } from '../../../test/helpers/errors.js'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { encodeCheckpoint, readCheckpoint, readWeightsSlice } from './checkpoint.js'
import { ParameterClient } from './client.js'
import { ParameterServer } from './server.js'

const temp = useTempDir()
const secret = 'checkpoint test secret'

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('a server checkpoints every N updates and on close; restarted, it resumes with the same center and counter', async () => {
  const path = temp.join('every-n/ps.ckpt')
  const initial = Float32Array.of(1, 2, 3, 4)
  const first = await ParameterServer.start({ secret, initial, checkpoint: { path, everyUpdates: 3 }, rule: 'staleness' })
  assert.equal(first.resumed, false)
  const client = await ParameterClient.connect({ servers: [first.address], secret, workerId: 0 })
  for (let i = 0; i < 3; i++) await client.commitPull(Float32Array.of(0.25, -1, 0, 1e-3))
  await eventually(async () => (await readCheckpoint(path))?.updates === 3, 'the checkpoint of update 3')
  await client.commit(Float32Array.of(1, 1, 1, 1))
  const before = first.centerSnapshot()
  await first.close()
  await rejectsWith(client.pull(), 'PS_CONNECTION_LOST', [first.address])
  await client.close()
  assert.deepEqual(await readCheckpoint(path), { center: before, updates: 4 })
  assert.equal(first.stats().checkpoints, 2)

  const second = await ParameterServer.start({ secret, initial: new Float32Array(4), checkpoint: { path }, rule: 'staleness' })
  assert.deepEqual([second.resumed, second.updates], [true, 4])
  assert.deepEqual(second.centerSnapshot(), before)
  const resumed = await ParameterClient.connect({ servers: [second.address], secret, workerId: 0 })
  const pulled = await resumed.commitPull(new Float32Array(4))
  assert.deepEqual([pulled.updates, pulled.center], [5, before])
  await resumed.close()
  await second.close()
})

test('a server checkpoints on a timer when there were updates', async () => {
  const path = temp.join('timer.ckpt')
  const server = await ParameterServer.start({ secret, initial: new Float32Array(3), checkpoint: { path, everyMs: 30 } })
  const client = await ParameterClient.connect({ servers: [server.address], secret, workerId: 0 })
  await client.commit(Float32Array.of(1, 2, 3))
  await eventually(async () => (await readCheckpoint(path))?.updates === 1, 'the timed checkpoint')
  assert.deepEqual(Array.from((await readCheckpoint(path))?.center ?? []), [1, 2, 3])
  await client.close()
  await server.close()
})

test('a bad checkpoint is refused with its path and what is wrong', async () => {
  const initial = new Float32Array(4)
  const start = (path: string): Promise<ParameterServer> => ParameterServer.start({ secret, initial, checkpoint: { path } })
  const garbage = temp.file('garbage.ckpt', 'not a checkpoint at all, just text')
  await rejectsWith(start(garbage), 'PS_CHECKPOINT_CORRUPT', [garbage, 'expected the magic "MALTPSCK" at byte 0'])
  const truncated = temp.file('truncated.ckpt', encodeCheckpoint(Float32Array.of(1, 2, 3, 4), 9).subarray(0, 30))
  await rejectsWith(start(truncated), 'PS_CHECKPOINT_CORRUPT', [truncated, 'the header says 4 parameters, so 40 bytes; the file has 30'])
  const other = temp.file('other.ckpt', encodeCheckpoint(Float32Array.of(1, 2), 9))
  await rejectsWith(start(other), 'PS_CHECKPOINT_MISMATCH', [other, 'holds 2 parameters; this server was started for 4'])
  const header = Buffer.from(readFileSync(other))
  header.writeUInt32LE(2, 8)
  writeFileSync(other, header)
  await rejectsWith(start(other), 'PS_CHECKPOINT_CORRUPT', ['format version 2 is not supported'])
})

test('a weights file is read whole or by slice', async () => {
  const values = Float32Array.from({ length: 10 }, (_, i) => i * 1.5)
  const path = temp.file('weights.f32', new Uint8Array(values.buffer))
  assert.deepEqual(await readWeightsSlice(path), values)
  assert.deepEqual(await readWeightsSlice(path, { start: 3, end: 7 }), values.subarray(3, 7))
  await rejectsWith(readWeightsSlice(path, { start: 8, end: 11 }), 'PS_BAD_WEIGHTS', [path, 'holds 10 float32 values; the range [8, 11) is not inside it'])
  await rejectsWith(readWeightsSlice(temp.file('odd.f32', new Uint8Array(6))), 'PS_BAD_WEIGHTS', ['a multiple of 4 bytes; this one has 6'])
})
