// Tests of the image-folder source on real PNG and JPEG files encoded with sharp at test time.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import sharp from 'sharp'
import { MaltError } from '../../errors.js'
import { LocalStorage, registerStorage, type Storage } from '../../storage/index.js'
import { newReadStats } from '../types.js'
import { imageFolder, imageFolderClasses, inOrder, type ImageRow } from './image-folder.js'

const H = 4
const W = 4

/** A 4x4 RGB image whose pixel (y, x) is (base + 10y + x, 2 * base, 255 - base - x). */
function pattern(base: number): Buffer {
  const pixels = Buffer.alloc(H * W * 3)
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const at = (y * W + x) * 3
      pixels[at] = base + 10 * y + x
      pixels[at + 1] = 2 * base
      pixels[at + 2] = 255 - base - x
    }
  }
  return pixels
}

async function encode(pixels: Buffer, width: number, height: number, channels: 1 | 3 | 4, format: 'png' | 'jpeg'): Promise<Buffer> {
  const image = sharp(pixels, { raw: { width, height, channels } })
  return format === 'png' ? image.png().toBuffer() : image.jpeg({ quality: 95 }).toBuffer()
}

async function collect(data: AsyncIterable<ImageRow>): Promise<ImageRow[]> {
  const rows: ImageRow[] = []
  for await (const row of data) rows.push(row)
  return rows
}

function uniform(width: number, height: number, rgb: [number, number, number]): Buffer {
  const pixels = Buffer.alloc(width * height * 3)
  for (let i = 0; i < width * height; i++) pixels.set(rgb, i * 3)
  return pixels
}

describe('imageFolder', () => {
  let root: string
  const red: [number, number, number] = [200, 30, 40]

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'malt-'))
    for (const name of ['cat', 'dog', 'bird', 'dog/more']) mkdirSync(join(root, name), { recursive: true })
    // cat: exact PNGs (one with an upper-case extension); a text file that must be ignored.
    for (const [i, name] of ['a.png', 'b.PNG', 'c.png'].entries()) {
      writeFileSync(join(root, 'cat', name), await encode(pattern(i * 20), W, H, 3, 'png'))
    }
    writeFileSync(join(root, 'cat', 'readme.txt'), 'not an image')
    writeFileSync(join(root, 'cat', '.DS_Store'), 'hidden')
    // dog: uniform JPEGs, one nested one level down.
    writeFileSync(join(root, 'dog', 'x.jpg'), await encode(uniform(W, H, red), W, H, 3, 'jpeg'))
    writeFileSync(join(root, 'dog', 'more', 'y.jpeg'), await encode(uniform(W, H, [10, 220, 90]), W, H, 3, 'jpeg'))
    // bird: one grayscale PNG with values 0, 17, 34, ...
    const gray = Buffer.from(Array.from({ length: H * W }, (_, i) => i * 17))
    writeFileSync(join(root, 'bird', 'g.png'), await encode(gray, W, H, 1, 'png'))
    writeFileSync(join(root, 'notes.txt'), 'files at the root are not classes')
  })
  after(() => rmSync(root, { recursive: true, force: true }))

  test('classes are the sub-folders sorted by name', async () => {
    assert.deepEqual(await imageFolderClasses(root), ['bird', 'cat', 'dog'])
  })

  test('rows carry label, class name, path and interleave across classes', async () => {
    const rows = await collect(imageFolder(root, { size: [H, W] }))
    assert.deepEqual(
      rows.map((r) => `${r.label}:${r.path.slice(root.length + 1)}`),
      ['0:bird/g.png', '1:cat/a.png', '2:dog/more/y.jpeg', '1:cat/b.PNG', '2:dog/x.jpg', '1:cat/c.png'],
    )
    assert.deepEqual(
      rows.map((r) => r.className),
      ['bird', 'cat', 'dog', 'cat', 'dog', 'cat'],
    )
    for (const row of rows) assert.equal(row.image.length, H * W * 3)
  })

  test('PNG pixels come back exactly, in HWC order, scaled to [0, 1]', async () => {
    const rows = await collect(imageFolder(root, { size: [H, W] }))
    const b = rows.find((r) => r.path.endsWith('b.PNG'))!
    const expected = pattern(20)
    assert.ok(b.image instanceof Float32Array)
    for (let i = 0; i < expected.length; i++) assert.equal(Math.round(b.image[i] * 255), expected[i], `value ${i}`)
    assert.ok(Math.abs(b.image[0] - 20 / 255) < 1e-6)
  })

  test('JPEG pixels come back close to the encoded colour', async () => {
    const rows = await collect(imageFolder(root, { size: [H, W] }))
    const x = rows.find((r) => r.path.endsWith('x.jpg'))!
    for (let i = 0; i < H * W; i++) {
      for (let c = 0; c < 3; c++) {
        assert.ok(Math.abs(x.image[i * 3 + c] * 255 - red[c]) <= 6, `pixel ${i} channel ${c}: ${x.image[i * 3 + c] * 255}`)
      }
    }
  })

  test('grayscale with channels 1, grayscale expanded with channels 3, custom scale', async () => {
    const one = await collect(imageFolder(root, { size: [H, W], channels: 1, scale: [-1, 1] }))
    const g1 = one.find((r) => r.className === 'bird')!
    assert.equal(g1.image.length, H * W)
    for (let i = 0; i < H * W; i++) assert.ok(Math.abs(g1.image[i] - (-1 + (2 * i * 17) / 255)) < 1e-5)
    const three = await collect(imageFolder(root, { size: [H, W] }))
    const g3 = three.find((r) => r.className === 'bird')!
    assert.equal(g3.image[5 * 3], g3.image[5 * 3 + 2])
    assert.equal(Math.round(g3.image[5 * 3 + 1] * 255), 5 * 17)
  })

  test('resizes to [height, width]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'malt-'))
    try {
      mkdirSync(join(dir, 'only'))
      writeFileSync(join(dir, 'only', 'wide.png'), await encode(uniform(10, 6, [50, 100, 150]), 10, 6, 3, 'png'))
      const [row] = await collect(imageFolder(dir, { size: [3, 5] }))
      assert.equal(row.image.length, 3 * 5 * 3)
      for (let i = 0; i < 15; i++) assert.ok(Math.abs(row.image[i * 3 + 1] * 255 - 100) <= 1)
      const [cover] = await collect(imageFolder(dir, { size: [8, 8], fit: 'cover' }))
      assert.equal(cover.image.length, 8 * 8 * 3)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('an alpha channel is dropped, colours kept as stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'malt-'))
    try {
      mkdirSync(join(dir, 'k'))
      const rgba = Buffer.from([10, 20, 30, 255, 40, 50, 60, 128, 70, 80, 90, 0, 100, 110, 120, 255])
      writeFileSync(join(dir, 'k', 'a.png'), await encode(rgba, 2, 2, 4, 'png'))
      const [row] = await collect(imageFolder(dir, { size: [2, 2] }))
      assert.deepEqual(
        Array.from(row.image, (v) => Math.round(v * 255)),
        [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120],
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a corrupt image is named in the error, or skipped and counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'malt-'))
    try {
      mkdirSync(join(dir, 'a'))
      writeFileSync(join(dir, 'a', '1.png'), await encode(uniform(W, H, red), W, H, 3, 'png'))
      writeFileSync(join(dir, 'a', '2.jpg'), Buffer.from('this is not a jpeg at all'))
      const jpeg = await encode(pattern(5), W, H, 3, 'jpeg')
      writeFileSync(join(dir, 'a', '3.jpg'), jpeg.subarray(0, jpeg.length >> 1))
      writeFileSync(join(dir, 'a', '4.png'), await encode(uniform(W, H, red), W, H, 3, 'png'))
      await assert.rejects(
        collect(imageFolder(dir, { size: [H, W] })),
        (error: unknown) => error instanceof MaltError && error.code === 'IMAGE_DECODE_FAILED' && error.message.includes(join('a', '2.jpg')),
      )
      const stats = newReadStats()
      const rows = await collect(imageFolder(dir, { size: [H, W], onError: 'skip', stats }))
      assert.deepEqual(
        rows.map((r) => r.path.slice(dir.length + 1)),
        ['a/1.png', 'a/4.png'],
      )
      assert.equal(stats.rowsRead, 2)
      assert.equal(stats.rowsSkipped, 2)
      assert.match(stats.skipped[0], /2\.jpg/)
      assert.match(stats.skipped[1], /3\.jpg/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a folder without class sub-folders, and bad options, are reported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'malt-'))
    try {
      writeFileSync(join(dir, 'loose.png'), await encode(uniform(W, H, red), W, H, 3, 'png'))
      await assert.rejects(imageFolderClasses(dir), (error: unknown) => error instanceof MaltError && error.code === 'IMAGE_FOLDER_EMPTY')
      await assert.rejects(collect(imageFolder(join(dir, 'loose.png'))), /expected .* to be a directory/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    assert.throws(() => imageFolder(root, { size: [0, 4] }), /size/)
    assert.throws(() => imageFolder(root, { channels: 4 as 3 }), /channels/)
    assert.throws(() => imageFolder(root, { onError: 'ignore' as 'skip' }), /onError/)
  })
})

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

test('inOrder starts nothing more, and tells work in flight, once the consumer stops', async () => {
  const started: number[] = []
  const finished: number[] = []
  const work = async (item: number, stopped: () => boolean): Promise<number> => {
    started.push(item)
    await delay(item === 0 ? 0 : 30) // Items 1..3 are still in their first stage when the consumer stops.
    if (stopped()) return -1
    finished.push(item)
    return item
  }
  const items = Array.from({ length: 20 }, (_, i) => i)
  for await (const outcome of inOrder(items, 4, work)) {
    assert.deepEqual(outcome, { ok: true, value: 0 })
    break
  }
  await delay(100)
  assert.deepEqual(started, [0, 1, 2, 3])
  assert.deepEqual(finished, [0])
  // A full pass still yields every outcome, in order, failures included.
  const outcomes = []
  for await (const outcome of inOrder(items, 3, async (item) => (item === 5 ? Promise.reject(new Error('five')) : item))) outcomes.push(outcome)
  assert.deepEqual(outcomes.map((o) => (o.ok ? o.value : 'failed')), items.map((i) => (i === 5 ? 'failed' : i)))
})

test('imageFolder reads no further file once the consumer breaks out', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'malt-'))
  try {
    mkdirSync(join(dir, 'a'))
    const png = await encode(uniform(W, H, [1, 2, 3]), W, H, 3, 'png')
    for (let i = 0; i < 12; i++) writeFileSync(join(dir, 'a', `${String(i).padStart(2, '0')}.png`), png)
    // Local files behind a scheme whose readFile is slow and counted.
    const local = new LocalStorage()
    const reads: string[] = []
    const slow = new Proxy<Storage>(local, {
      get(target, key, receiver) {
        if (key === 'scheme') return 'slowtest'
        if (key === 'readFile') {
          return async (path: string) => {
            reads.push(path)
            await delay(20)
            return target.readFile(path)
          }
        }
        return Reflect.get(target, key, receiver) as unknown
      },
    })
    registerStorage(slow)
    for await (const row of imageFolder(`slowtest://${dir}`, { size: [H, W], concurrency: 3 })) {
      assert.equal(row.className, 'a')
      break
    }
    await delay(150)
    // The three started before the first row came out; none after.
    assert.deepEqual(reads.map((path) => path.slice(-6)), ['00.png', '01.png', '02.png'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
