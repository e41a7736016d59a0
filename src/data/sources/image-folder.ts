// Image-folder source: `root/<class>/**/*.jpg|png`, one sub-folder per class (as Keras'
// image_dataset_from_directory), decoded and resized with sharp into Float32Array rows.
import { posix } from 'node:path'
import sharp from 'sharp'
import { MaltError, describeValue } from '../../errors.js'
import { resolvePath, type ResolvedPath } from '../../storage/index.js'
import { requireInteger } from '../../util/checks.js'
import { Dataset } from '../dataset.js'
import type { OnError, ReadStats } from '../types.js'
import { RowErrorPolicy, checkOnError } from './row-errors.js'

/** Options of {@link imageFolder}. */
export interface ImageFolderOptions {
  /**
   * `[height, width]` every image is resized to (MobileNet's input size by default).
   * @defaultValue [224, 224]
   */
  size?: [number, number]
  /**
   * 1 for grayscale, 3 for RGB; an alpha channel is dropped.
   * @defaultValue 3
   */
  channels?: 1 | 3
  /**
   * `[min, max]` that pixel values 0..255 are mapped to, linearly.
   * @defaultValue [0, 1]
   */
  scale?: [number, number]
  /**
   * How the image fits `size`: `fill` stretches (as Keras does), `cover` crops to keep the
   * aspect ratio, `contain` pads with black.
   * @defaultValue 'fill'
   */
  fit?: 'fill' | 'cover' | 'contain'
  /**
   * File extensions read (case-insensitive); other files are ignored.
   * @defaultValue ['jpg', 'jpeg', 'png']
   */
  extensions?: string[]
  /**
   * What to do with a file that cannot be decoded: throw, or skip it and count it in `stats`.
   * @defaultValue 'throw'
   */
  onError?: OnError
  /** Filled while reading: images read and skipped (with the reasons). Reset on every pass. */
  stats?: ReadStats
  /**
   * Images decoded ahead in parallel; rows still come out in order.
   * @defaultValue 4
   */
  concurrency?: number
}

/** One image: pixels in HWC order (`height * width * channels`), its class index and name. */
export type ImageRow = {
  image: Float32Array
  label: number
  className: string
  /** The file, as `<uri>/<className>/<name>`. */
  path: string
}

const DEFAULTS = {
  size: [224, 224] as [number, number],
  channels: 3 as 1 | 3,
  scale: [0, 1] as [number, number],
  fit: 'fill' as const,
  extensions: ['jpg', 'jpeg', 'png'],
  concurrency: 4,
}

type Settings = Omit<Required<ImageFolderOptions>, 'stats' | 'onError'>

interface ImageFile {
  storagePath: string
  path: string
  label: number
  className: string
}

function badOption(name: string, expected: string, received: unknown): MaltError {
  return new MaltError('DATA_BAD_OPTION', `imageFolder: expected ${name} to be ${expected}, received ${describeValue(received)}`)
}

function checkOptions(options: ImageFolderOptions): Settings {
  const settings: Settings = { ...DEFAULTS, ...stripUndefined(options) } as Settings
  const { size, channels, scale, fit, extensions, concurrency } = settings
  if (!Array.isArray(size) || size.length !== 2) throw badOption('size', '[height, width] with positive integers', size)
  requireInteger('DATA_BAD_OPTION', 'imageFolder', 'size[0] (the height)', size[0])
  requireInteger('DATA_BAD_OPTION', 'imageFolder', 'size[1] (the width)', size[1])
  if (channels !== 1 && channels !== 3) throw badOption('channels', '1 or 3', channels)
  if (!Array.isArray(scale) || scale.length !== 2 || !scale.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw badOption('scale', '[min, max] with finite numbers', scale)
  }
  if (fit !== 'fill' && fit !== 'cover' && fit !== 'contain') throw badOption('fit', '"fill", "cover" or "contain"', fit)
  if (!Array.isArray(extensions) || extensions.length === 0 || !extensions.every((e) => typeof e === 'string' && e !== '')) {
    throw badOption('extensions', 'a non-empty array of extensions such as ["jpg", "png"]', extensions)
  }
  requireInteger('DATA_BAD_OPTION', 'imageFolder', 'concurrency', concurrency)
  return { ...settings, extensions: extensions.map((e) => e.replace(/^\./, '').toLowerCase()) }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}

function isHidden(name: string): boolean {
  return name.startsWith('.')
}

async function listClasses(root: ResolvedPath): Promise<string[]> {
  const info = await root.storage.stat(root.path)
  if (!info.isDirectory) {
    throw new MaltError('IMAGE_FOLDER_NOT_A_DIRECTORY', `imageFolder: expected ${root.uri} to be a directory with one sub-folder per class, received a file`, {
      location: { file: root.uri },
    })
  }
  const classes: string[] = []
  for (const name of await root.storage.list(root.path)) {
    if (isHidden(name)) continue
    if ((await root.storage.stat(posix.join(root.path, name))).isDirectory) classes.push(name)
  }
  if (classes.length === 0) {
    throw new MaltError('IMAGE_FOLDER_EMPTY', `imageFolder: expected one sub-folder per class in ${root.uri} (root/cat/*.jpg, root/dog/*.jpg), found none`, {
      location: { file: root.uri },
    })
  }
  return classes.sort()
}

/** Files under `dir` (recursively, sorted) whose extension is wanted, relative to `dir`. */
async function listImages(root: ResolvedPath, dir: string, extensions: string[], prefix = ''): Promise<string[]> {
  const found: string[] = []
  for (const name of await root.storage.list(posix.join(root.path, dir, prefix))) {
    if (isHidden(name)) continue
    const relative = prefix === '' ? name : `${prefix}/${name}`
    const extension = posix.extname(name).slice(1).toLowerCase()
    if (extensions.includes(extension)) found.push(relative)
    else if ((await root.storage.stat(posix.join(root.path, dir, relative))).isDirectory) {
      found.push(...(await listImages(root, dir, extensions, relative)))
    }
  }
  return found
}

/** Class folders first sorted by name, then their files interleaved round-robin across classes. */
async function listFiles(root: ResolvedPath, extensions: string[]): Promise<ImageFile[]> {
  const classes = await listClasses(root)
  const perClass = await Promise.all(classes.map((className) => listImages(root, className, extensions)))
  const files: ImageFile[] = []
  const longest = Math.max(...perClass.map((list) => list.length))
  for (let i = 0; i < longest; i++) {
    perClass.forEach((list, label) => {
      if (i >= list.length) return
      const className = classes[label]
      files.push({
        storagePath: posix.join(root.path, className, list[i]),
        path: `${root.uri.replace(/\/+$/, '')}/${className}/${list[i]}`,
        label,
        className,
      })
    })
  }
  return files
}

/** Thrown by a decode that finds its pass abandoned; its outcome is never looked at. */
const STOPPED = new Error('the pass was stopped')

async function decode(root: ResolvedPath, file: ImageFile, settings: Settings, stopped: () => boolean): Promise<Float32Array> {
  const bytes = await root.storage.readFile(file.storagePath)
  if (stopped()) throw STOPPED // The consumer left while the file was read: skip the costly part.
  const [height, width] = settings.size
  let image = sharp(bytes).autoOrient().resize(width, height, { fit: settings.fit, background: { r: 0, g: 0, b: 0 } })
  image = settings.channels === 1 ? image.grayscale() : image.toColourspace('srgb')
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true })
  if (info.channels !== settings.channels || info.width !== width || info.height !== height) {
    throw new Error(`decoded to ${info.height}x${info.width}x${info.channels}, expected ${height}x${width}x${settings.channels}`)
  }
  const [low, high] = settings.scale
  const step = (high - low) / 255
  const pixels = new Float32Array(data.length)
  for (let i = 0; i < data.length; i++) pixels[i] = low + data[i] * step
  return pixels
}

/** How one call of {@link inOrder}'s `fn` ended. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown }

/**
 * Runs `fn` on up to `concurrency` items at once and yields the outcomes in input order. Once
 * the consumer stops (the generator is returned), no further item starts, and `fn` sees
 * `stopped()` turn true so that work already started can give up early. Exported for tests.
 */
export async function* inOrder<I, O>(items: readonly I[], concurrency: number, fn: (item: I, stopped: () => boolean) => Promise<O>): AsyncGenerator<Settled<O>> {
  let stopped = false
  const isStopped = (): boolean => stopped
  const pending: Promise<Settled<O>>[] = []
  let next = 0
  const startNext = (refill: boolean): void => {
    const item = items[next++]
    // A refill is queued before the row it replaces reaches the consumer, so it waits a turn
    // of the event loop: a consumer that stops at that row (break) has returned us by then.
    const run = refill
      ? new Promise<void>((resolve) => setImmediate(resolve)).then(() => (stopped ? Promise.reject(STOPPED) : fn(item, isStopped)))
      : fn(item, isStopped)
    // Settled, never rejected: an abandoned pass leaves no unhandled rejection behind.
    pending.push(run.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })))
  }
  try {
    while (next < items.length && pending.length < concurrency) startNext(false)
    while (pending.length > 0) {
      const outcome = await pending.shift()!
      if (next < items.length) startNext(true)
      yield outcome
    }
  } finally {
    stopped = true
  }
}

/** The class names of an image folder, sorted; a class's label is its index here. */
export async function imageFolderClasses(uri: string): Promise<string[]> {
  return listClasses(resolvePath(uri))
}

/**
 * Images under `root/<class>/` as rows `{ image, label, className, path }`. Classes are the
 * sub-folders sorted by name (label = index); files are read recursively and sorted, and rows
 * are interleaved round-robin across classes so that an unshuffled stream is balanced.
 *
 * @example
 * const pets = data.imageFolder('photos/', { size: [96, 96] })   // photos/cat/*.jpg, photos/dog/*.png
 * const names = await data.imageFolderClasses('photos/')         // ['cat', 'dog']
 */
export function imageFolder(uri: string, options: ImageFolderOptions = {}): Dataset<ImageRow> {
  const settings = checkOptions(options)
  const onError = checkOnError('imageFolder', options.onError)
  const root = resolvePath(uri)
  return Dataset.fromGenerator(async function* () {
    const policy = new RowErrorPolicy(onError, options.stats)
    const files = await listFiles(root, settings.extensions)
    let index = 0
    for await (const outcome of inOrder(files, settings.concurrency, (file, stopped) => decode(root, file, settings, stopped))) {
      const file = files[index++]
      if (!outcome.ok) {
        if (outcome.error instanceof MaltError && outcome.error.code === 'STORAGE_NOT_FOUND') throw outcome.error
        const reason = outcome.error instanceof Error ? outcome.error.message : String(outcome.error)
        policy.bad('IMAGE_DECODE_FAILED', `${file.path}: cannot decode the image: ${reason}`, { file: file.path }, outcome.error)
        continue
      }
      policy.read()
      yield { image: outcome.value, label: file.label, className: file.className, path: file.path }
    }
  })
}
