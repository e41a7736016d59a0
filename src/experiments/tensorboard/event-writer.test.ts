// EventWriter: file name, record framing (read back with Malt's TFRecord reader, and one record
// checked byte for byte against hand-computed bytes and CRCs), flush semantics, bad input.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, readdir, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { readRecordBatches } from '../../data/tfrecord/framing.js'
import { MaltError } from '../../errors.js'
import { EventWriter, FILE_VERSION } from './event-writer.js'
import { tensorBoardTypes } from '../../../test/helpers/tensorboard-protos.js'

const temp = useTempDir()

interface DecodedEvent {
  wall_time: number
  step: number
  file_version?: string
  summary?: { value: { tag: string; simple_value?: number }[] }
}

/** Every Event of a file, through the TFRecord reader (both CRCs of each record checked). */
async function readEvents(path: string): Promise<DecodedEvent[]> {
  const events: DecodedEvent[] = []
  const type = tensorBoardTypes().event
  for await (const batch of readRecordBatches(path, { verify: true })) {
    for (const record of batch.records) {
      events.push(type.toObject(type.decode(record), { longs: Number, defaults: true, oneofs: false }) as DecodedEvent)
    }
  }
  return events
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

test('create names the file events.out.tfevents.<seconds>.<host>.<pid>.<counter><suffix> and starts it with the version Event', async () => {
  const before = Math.floor(Date.now() / 1000)
  const dir = temp.join('names/deep/run')
  const first = await EventWriter.create(dir)
  const second = await EventWriter.create(dir, { filenameSuffix: '.v2' })
  await Promise.all([first.close(), second.close()])
  const after = Math.floor(Date.now() / 1000)

  const pattern = new RegExp(`^events\\.out\\.tfevents\\.(\\d+)\\.${escapeRegExp(hostname())}\\.${process.pid}\\.(\\d+)(\\.v2)?$`)
  const names = (await readdir(dir)).sort()
  assert.equal(names.length, 2, 'two writers in one second get two files')
  for (const path of [first.path, second.path]) {
    const match = pattern.exec(basename(path))
    assert.ok(match, `${basename(path)} should match ${pattern}`)
    assert.ok(Number(match[1]) >= before && Number(match[1]) <= after)
  }
  assert.ok(second.path.endsWith('.v2'))

  const events = await readEvents(first.path)
  assert.equal(events.length, 1)
  assert.equal(events[0].file_version, FILE_VERSION)
  assert.ok(Math.abs(events[0].wall_time - Date.now() / 1000) < 60, `wall_time ${events[0].wall_time} is in seconds, near now`)
})

test('a scalar record is framed byte for byte as TFRecord (hand-computed Event bytes and masked CRC32Cs)', async () => {
  const writer = await EventWriter.create(temp.join('bytes'))
  const headerSize = (await stat(writer.path)).size
  writer.scalar('loss', 0.25, 3, 1500)
  await writer.close()
  const record = (await readFile(writer.path)).subarray(headerSize)

  // Event { wall_time: 1.5 (09 + double LE), step: 3 (10 03), summary (2a 0d) { value (0a 0b) {
  //   tag: "loss" (0a 04 6c6f7373), simple_value: 0.25 (15 + float LE 0000803e) } } }: 26 bytes.
  const data = '09000000000000f83f' + '1003' + '2a0d' + '0a0b' + '0a046c6f7373' + '150000803e'
  // Masked CRC32Cs computed independently (TensorBoard's pure-Python crc32c), stored little-endian.
  const lengthCrc = '129bd82d' // 0x2dd89b12 of 1a00000000000000
  const dataCrc = 'd054b255' // 0x55b254d0 of the 26 data bytes
  assert.equal(Buffer.from(record).toString('hex'), '1a00000000000000' + lengthCrc + data + dataCrc)
})

test('scalars() puts one step in one Event; NaN and ±Infinity are written as they are; 0 is kept', async () => {
  const writer = await EventWriter.create(temp.join('values'))
  writer.scalars(7, { loss: Number.NaN, up: Number.POSITIVE_INFINITY, down: Number.NEGATIVE_INFINITY, zero: 0 }, 2_000)
  writer.scalar('loss', 0.125, 8)
  await writer.close()
  const [version, merged, single] = await readEvents(writer.path)
  assert.equal(version.file_version, FILE_VERSION)
  assert.equal(merged.step, 7)
  assert.equal(merged.wall_time, 2)
  const values = merged.summary!.value
  assert.deepEqual(values.map((v) => v.tag), ['loss', 'up', 'down', 'zero'])
  assert.ok(Number.isNaN(values[0].simple_value))
  assert.equal(values[1].simple_value, Number.POSITIVE_INFINITY)
  assert.equal(values[2].simple_value, Number.NEGATIVE_INFINITY)
  assert.equal(values[3].simple_value, 0)
  assert.equal(single.step, 8)
  assert.equal(single.summary!.value[0].simple_value, 0.125)
})

test('records wait in memory until flush(), and the file then holds only whole records', async () => {
  const writer = await EventWriter.create(temp.join('flush'), { flushIntervalMs: 60_000 })
  const sizeAfterCreate = (await stat(writer.path)).size
  for (let step = 0; step < 10; step++) writer.scalar('acc', step / 10, step)
  await sleep(20)
  assert.equal((await stat(writer.path)).size, sizeAfterCreate, 'nothing is appended before flush()')
  await writer.flush()
  assert.equal((await readEvents(writer.path)).length, 11)
  await writer.close()
})

test('queued records are appended after flushIntervalMs without a flush() call', async () => {
  const writer = await EventWriter.create(temp.join('timer'), { flushIntervalMs: 30 })
  writer.scalar('acc', 0.5, 1)
  const deadline = Date.now() + 5_000
  while ((await readEvents(writer.path)).length < 2) {
    assert.ok(Date.now() < deadline, 'the timer never flushed')
    await sleep(10)
  }
  await writer.close()
})

test('maxQueuedRecords appends a full queue at once', async () => {
  const writer = await EventWriter.create(temp.join('count'), { flushIntervalMs: 60_000, maxQueuedRecords: 4 })
  for (let step = 0; step < 3; step++) writer.scalar('acc', step, step)
  await sleep(20)
  assert.equal((await readEvents(writer.path)).length, 1, 'three queued records stay in memory')
  writer.scalar('acc', 3, 3)
  const deadline = Date.now() + 5_000
  while ((await readEvents(writer.path)).length < 5) {
    assert.ok(Date.now() < deadline, 'the fourth record did not trigger an append')
    await sleep(5)
  }
  await writer.close()
})

test('close() flushes, is idempotent, and later writes fail with TENSORBOARD_WRITER_CLOSED', async () => {
  const writer = await EventWriter.create(temp.join('close'), { flushIntervalMs: 60_000 })
  writer.scalar('loss', 1, 1)
  await writer.close()
  await writer.close()
  assert.equal((await readEvents(writer.path)).length, 2)
  assert.throws(() => writer.scalar('loss', 2, 2), (error: unknown) => error instanceof MaltError && error.code === 'TENSORBOARD_WRITER_CLOSED')
})

test('bad arguments are rejected with the field named', async () => {
  const writer = await EventWriter.create(temp.join('bad'))
  const rejects = (fn: () => void, part: string): void =>
    assert.throws(fn, (error: unknown) => error instanceof MaltError && error.code === 'TENSORBOARD_BAD_ARGUMENT' && error.message.includes(part))
  rejects(() => writer.scalar('loss', 1, 1.5), 'step')
  rejects(() => writer.scalar('', 1, 1), 'tag')
  rejects(() => writer.scalar('loss', '1' as unknown as number, 1), 'simpleValue')
  rejects(() => writer.scalar('loss', 1, 1, Number.NaN), 'wallTimeMs')
  rejects(() => writer.writeSummary([{ tag: 't', tensor: { dtype: 'float32', shape: [2], values: [1] } }], 0), 'shape')
  await writer.close()
  await assert.rejects(EventWriter.create(temp.join('bad2'), { maxQueuedRecords: 0 }), /maxQueuedRecords/)
  await assert.rejects(EventWriter.create(temp.join('bad3'), { filenameSuffix: 'a/b' }), /filenameSuffix/)
  await assert.rejects(EventWriter.create(temp.file('a-file', 'x')), (error: unknown) => error instanceof MaltError)
})
