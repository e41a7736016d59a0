// Local storage: byte ranges, atomic writes, early-closed streams, and file system errors
// turned into MaltErrors that name the path.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, readdirSync, mkdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalStorage } from './local.js'
import { resolvePath } from './index.js'
import { MaltError } from '../errors.js'

const storage = new LocalStorage()
let dir: string
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'malt-storage-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

const openFds = (): number => readdirSync('/proc/self/fd').length

test('readFile and createReadStream honour byte ranges', async () => {
  const path = join(dir, 'bytes.bin')
  writeFileSync(path, Buffer.from('0123456789'))
  assert.equal(Buffer.from(await storage.readFile(path, { start: 2, end: 5 })).toString(), '234')
  const chunks: Buffer[] = []
  for await (const chunk of storage.createReadStream(path, { start: 7 })) chunks.push(chunk as Buffer)
  assert.equal(Buffer.concat(chunks).toString(), '789')
})

test('a read stream destroyed early closes its file', async () => {
  const path = join(dir, 'big.bin')
  writeFileSync(path, Buffer.alloc(5 << 20, 1))
  const before = openFds()
  for await (const _chunk of storage.createReadStream(path)) break
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(openFds(), before)
})

test('an atomic writer publishes only on commit; abort leaves nothing', async () => {
  const path = join(dir, 'out', 'data.txt')
  const writer = await storage.createWriter(path)
  await writer.write('hello ')
  assert.equal(await storage.exists(path), false, 'not visible before commit')
  await writer.write('world')
  await writer.commit()
  assert.equal(readFileSync(path, 'utf8'), 'hello world')
  const aborted = await storage.createWriter(join(dir, 'out', 'never.txt'))
  await aborted.write('x')
  await aborted.abort()
  assert.deepEqual(readdirSync(join(dir, 'out')), ['data.txt'])
})

test('file system errors become MaltErrors naming the path and the problem', async () => {
  mkdirSync(join(dir, 'a-directory'))
  writeFileSync(join(dir, 'a-file'), 'x')
  const cases: [() => Promise<unknown>, string, RegExp][] = [
    [() => storage.readFile(join(dir, 'missing')), 'STORAGE_NOT_FOUND', /No such file or directory: .*missing/],
    [() => storage.readFile(join(dir, 'a-directory')), 'STORAGE_IS_DIRECTORY', /a-directory is a directory; expected a file path to read/],
    [() => storage.writeFile(join(dir, 'a-directory'), 'x'), 'STORAGE_IS_DIRECTORY', /a-directory is a directory; expected a file path to write/],
    [() => storage.writeFile(join(dir, 'a-file', 'x.html'), 'x'), 'STORAGE_EXISTS', /Cannot write .*a-file\/x\.html: a file stands where a directory/],
    [() => storage.list(join(dir, 'a-file')), 'STORAGE_NOT_DIRECTORY', /a-file is not a directory/],
    [async () => { for await (const _ of storage.createReadStream(join(dir, 'a-directory'))) void _ }, 'STORAGE_IS_DIRECTORY', /is a directory/],
  ]
  for (const [attempt, code, message] of cases) {
    await assert.rejects(attempt, (error: unknown) => error instanceof MaltError && error.code === code && message.test(error.message))
  }
})

test('resolvePath: plain paths and file:// are local; an unknown scheme lists the known ones', () => {
  assert.equal(resolvePath('/tmp/x.csv').path, '/tmp/x.csv')
  assert.equal(resolvePath('file:///tmp/x.csv').path, '/tmp/x.csv')
  assert.equal(resolvePath('file://rel/x.csv').path, 'rel/x.csv')
  assert.throws(() => resolvePath('s3://bucket/key'), /Unknown storage scheme "s3:\/\/" in s3:\/\/bucket\/key; known schemes: file:\/\//)
})
