// The fast path from TFRecord files of tf.train.Example to training tensors: walks the
// protobuf bytes of each record (or matches it to an earlier one's layout) and copies values
// straight into growing Float32Arrays.
import { endianness } from 'node:os'
import { MaltError, describeValue } from '../../errors.js'
import { resolvePath } from '../../storage/index.js'
import type { ReadStats } from '../types.js'
import { checkRecordReadOptions, expandRecordFiles, recordError, scanRecords, type RecordReadOptions } from './framing.js'
import { LayoutCache, type LayoutOutput, type LayoutTarget } from './layout.js'
import { NameTable, WireReader, walkEntries } from './wire.js'

/** Options of {@link readTfRecordTensors}. */
export interface TfRecordTensorOptions extends RecordReadOptions {
  /**
   * The features that make up one row, in order: one name (a float or int64 list, e.g. 50
   * values) or several names (each a list or a scalar; their values are concatenated).
   */
  features: string | readonly string[]
  /** A float or int64 feature with exactly one value per Example (the target). */
  label?: string
}

/** Rows of features (row-major, `rows × width`) and their labels. */
export interface TfRecordTensors {
  features: Float32Array
  labels?: Float32Array
  rows: number
  /** Values per row: the sum of `featureWidths`. */
  width: number
  /** Values of each requested feature, as found in the first record. */
  featureWidths: number[]
}

const LITTLE_ENDIAN = endianness() === 'LE'
const KEY_STRIDE = 32
const MAX_KEY_POSITIONS = 4096
const KIND_FLOAT = 2
const KIND_INT64 = 3
const KIND_NAMES = ['no value', 'a bytes_list', 'a float_list', 'an int64_list']

/**
 * Reads float/int64 features of every Example into one Float32Array (and the label into
 * another), without building a row object per record: the fast path for training.
 * Every record must hold every requested feature with the lengths of the first record.
 *
 * @example
 * const { features, labels, rows, width } = await readTfRecordTensors('train.tfrecord', { features: 'x', label: 'y' })
 * const xs = tf.tensor2d(features, [rows, width])
 */
export async function readTfRecordTensors(uri: string | readonly string[], options: TfRecordTensorOptions): Promise<TfRecordTensors> {
  checkRecordReadOptions('readTfRecordTensors', options)
  const names = typeof options.features === 'string' ? [options.features] : [...options.features]
  if (names.length === 0) throw new MaltError('TFRECORD_BAD_ARGUMENT', 'readTfRecordTensors: expected at least one feature name, received []')
  const slots = new Map<string, number>()
  for (const name of [...names, ...(options.label === undefined ? [] : [options.label])]) {
    if (slots.has(name)) throw new MaltError('TFRECORD_BAD_ARGUMENT', `readTfRecordTensors: feature ${describeValue(name)} is requested twice (features and label must be distinct)`)
    slots.set(name, slots.size)
  }
  const files = await expandRecordFiles(uri)
  const reader = new TensorReader(names.length, slots, options.label !== undefined, options.onError === 'skip' ? options.stats : undefined, options.onError === 'skip')
  if ((options.compression ?? 'none') === 'none') {
    for (const file of files) reader.totalBytes += (await resolvePath(file).storage.stat(resolvePath(file).path)).size
  }
  for (const file of files) {
    reader.file = file
    await scanRecords(file, reader.visit, options)
  }
  if (options.stats) options.stats.rowsRead += reader.rows
  return reader.result(names)
}

/** The decoding state of one {@link readTfRecordTensors} call (also what its layouts write to). */
class TensorReader implements LayoutOutput, LayoutTarget {
  file = ''
  totalBytes = 0
  rows = 0
  private readonly reader = new WireReader()
  private readonly names = new NameTable()
  private readonly slotById: number[] = []
  private widths: number[] = []
  private columns: number[] = []
  private width = -1
  private capacity = 0
  /** The output so far, as float32s and the same memory as bytes and int32 words. */
  features = new Float32Array(0)
  labels = new Float32Array(0)
  featureBytes = new Uint8Array(0)
  labelBytes = new Uint8Array(0)
  featureWords = new Int32Array(0)
  labelWords = new Int32Array(0)
  /** Layouts of earlier records: most records are read through one of them. */
  private readonly layouts = new LayoutCache()
  private readonly slotOfKey = (start: number, end: number, entry: number): number => this.slotOf(start, end, entry)
  /** Per slot: the stamp of the record that last had it, and its Feature's byte range. */
  private readonly seen: Int32Array
  private readonly starts: Int32Array
  private readonly ends: Int32Array
  private stamp = 0
  /** Per feature slot: its byte offset in a row, and its size in bytes. */
  rowOffsets = new Int32Array(0)
  rowBytes = new Int32Array(0)
  /** The name (up to KEY_STRIDE bytes) and slot seen at each entry position last record. */
  private keyBytes = new Uint8Array(0)
  private keyLengths = new Int32Array(0)
  private keySlots = new Int32Array(0)
  private entry = 0

  constructor(
    readonly featureCount: number,
    private readonly slots: Map<string, number>,
    private readonly hasLabel: boolean,
    private readonly stats: ReadStats | undefined,
    private readonly skip: boolean,
  ) {
    const n = slots.size
    this.seen = new Int32Array(n).fill(-1)
    this.starts = new Int32Array(n)
    this.ends = new Int32Array(n)
  }

  readonly visit = (buf: Uint8Array, start: number, end: number, index: number, offset: number): void => {
    try {
      this.record(buf, start, end)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      const code = error instanceof MaltError ? error.code : 'TFRECORD_BAD_EXAMPLE'
      if (!this.skip) throw recordError(code, this.file, index, offset, message, error)
      if (this.stats) {
        this.stats.rowsSkipped++
        if (this.stats.skipped.length < 10) this.stats.skipped.push(`${this.file}: record ${index} at byte offset ${offset}: ${message}`)
      }
    }
  }

  /** Notes where a requested feature is and, once the widths are known, copies it at once. */
  private readonly onEntry = (keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void => {
    const slot = this.slotOf(keyStart, keyEnd, this.entry++)
    if (slot < 0) return
    this.seen[slot] = this.stamp
    this.starts[slot] = valueStart
    this.ends[slot] = valueEnd
    if (this.width >= 0 && valueStart >= 0) this.copySlot(slot)
  }

  private record(buf: Uint8Array, start: number, end: number): void {
    if (this.rows === this.capacity && this.width >= 0) this.grow()
    const reader = this.reader.reset(buf, start, end)
    // Most records repeat a known layout: check its bytes, copy the values, done.
    if (this.layouts.apply(reader, start, end, this, this.rows * this.width, this.rows)) {
      this.rows++
      return
    }
    this.stamp++
    this.entry = 0
    const first = this.width < 0
    if (first || !this.fastRecord(buf, start, end)) walkEntries(reader, this.onEntry)
    for (let slot = 0; slot < this.seen.length; slot++) {
      if (this.seen[slot] !== this.stamp || this.starts[slot] < 0) throw new MaltError('TFRECORD_MISSING_FEATURE', `feature ${describeValue(this.nameOf(slot))} is missing`)
    }
    if (first) {
      this.firstRecord(end - start)
      for (let slot = 0; slot < this.seen.length; slot++) this.copySlot(slot)
    }
    if (this.layouts.learning) this.layouts.learn(reader, start, end, this, this.slotOfKey)
    this.rows++
  }

  /**
   * The layout writers produce (one Features field; entries of key then value, lengths of at
   * most 3 varint bytes) in one tight loop. Returns false at anything else, and the generic
   * walk then redoes the record (the values it writes are the same).
   */
  private fastRecord(buf: Uint8Array, start: number, end: number): boolean {
    if (buf[start] !== 0x0a) return false
    let varint = varint3(buf, start + 1)
    let pos = start + 1 + (varint & 3)
    if (varint < 0 || pos + (varint >>> 2) !== end) return false
    // Fields in locals: the loop below calls out, so the compiler would reload them each time.
    const { keyBytes, keyLengths, keySlots, seen, starts, ends, rowBytes, rowOffsets, featureCount } = this
    const out = this.featureBytes
    const rowStart = this.rows * this.width * 4
    const stamp = this.stamp
    let entry = 0
    while (pos < end) {
      varint = varint3(buf, pos + 1)
      if (buf[pos] !== 0x0a || varint < 0) return false
      pos += 1 + (varint & 3)
      const entryEnd = pos + (varint >>> 2)
      const keyStart = pos + 2
      const keyEnd = keyStart + buf[pos + 1]
      if (entryEnd > end || buf[pos] !== 0x0a || buf[pos + 1] >= 0x80 || buf[keyEnd] !== 0x12) return false
      varint = varint3(buf, keyEnd + 1)
      const valueStart = keyEnd + 1 + (varint & 3)
      if (varint < 0 || valueStart + (varint >>> 2) !== entryEnd) return false
      // The name at this position is usually the one the previous record had there.
      let slot = -1
      if (entry < keyLengths.length && keyLengths[entry] === keyEnd - keyStart) {
        const shift = entry * KEY_STRIDE - keyStart
        let i = keyStart
        while (i < keyEnd && keyBytes[shift + i] === buf[i]) i++
        slot = i === keyEnd ? keySlots[entry] : this.learnKey(keyStart, keyEnd, entry)
      } else {
        slot = this.learnKey(keyStart, keyEnd, entry)
      }
      entry++
      pos = entryEnd
      if (slot < 0) continue
      seen[slot] = stamp
      starts[slot] = valueStart
      ends[slot] = entryEnd
      // A float_list (0x12) holding one packed list (0x0a) of the expected length: copy bytes.
      const packedStart = valueStart + 4
      const packedBytes = slot < featureCount ? rowBytes[slot] : -1
      if (packedBytes >= 0 && packedBytes < 0x80 && LITTLE_ENDIAN && buf[valueStart] === 0x12 && buf[valueStart + 1] === packedBytes + 2 &&
          buf[valueStart + 2] === 0x0a && buf[valueStart + 3] === packedBytes && packedStart + packedBytes === entryEnd) {
        const to = rowStart + rowOffsets[slot] - packedStart
        for (let i = packedStart; i < entryEnd; i++) out[to + i] = buf[i]
      } else {
        this.copySlot(slot)
      }
    }
    return true
  }

  private copySlot(slot: number): void {
    if (slot < this.featureCount) this.copyFeature(slot, this.rows * this.width + this.columns[slot], this.widths[slot], this.features, this.featureBytes)
    else this.copyFeature(slot, this.rows, 1, this.labels, this.labelBytes)
  }

  /** Looks the name up and remembers it as the name expected at `entry` in the next record. */
  private learnKey(start: number, end: number, entry: number): number {
    const slot = this.slotOf(start, end, entry)
    if (entry >= MAX_KEY_POSITIONS) return slot
    if (entry >= this.keyLengths.length) {
      const size = Math.min(MAX_KEY_POSITIONS, Math.max(entry + 1, this.keyLengths.length * 2))
      const lengths = new Int32Array(size).fill(-1)
      lengths.set(this.keyLengths)
      const slots = new Int32Array(size)
      slots.set(this.keySlots)
      const bytes = new Uint8Array(size * KEY_STRIDE)
      bytes.set(this.keyBytes)
      this.keyLengths = lengths
      this.keySlots = slots
      this.keyBytes = bytes
    }
    const length = end - start
    this.keyLengths[entry] = length <= KEY_STRIDE ? length : -1
    this.keySlots[entry] = slot
    if (length <= KEY_STRIDE) this.keyBytes.set(this.reader.buf.subarray(start, end), entry * KEY_STRIDE)
    return slot
  }

  /** Which requested feature the name at `buf[start, end)` is (-1: not requested). */
  private slotOf(start: number, end: number, entry: number): number {
    const id = this.names.id(this.reader.buf, start, end, entry)
    if (id < 0) return this.slots.get(this.names.lastName) ?? -1
    let slot = this.slotById[id]
    if (slot === undefined) {
      slot = this.slots.get(this.names.names[id]) ?? -1
      this.slotById[id] = slot
    }
    return slot
  }

  private firstRecord(recordBytes: number): void {
    this.width = 0
    for (let slot = 0; slot < this.featureCount; slot++) {
      const count = this.reader.numbers(this.starts[slot], this.ends[slot], null, 0, 0)
      this.checkKind(slot)
      this.columns[slot] = this.width
      this.widths[slot] = count
      this.width += count
    }
    this.rowOffsets = Int32Array.from(this.columns, (column) => column * 4)
    this.rowBytes = Int32Array.from(this.widths, (width) => width * 4)
    // Size the output from the file size when known (no regrowth for fixed-size records).
    this.capacity = this.totalBytes > 0 ? Math.ceil((this.totalBytes / (recordBytes + 16)) * 1.02) + 16 : 1024
    this.allocate(this.capacity)
  }

  private grow(): void {
    const features = this.features
    const labels = this.labels
    this.capacity *= 2
    this.allocate(this.capacity)
    this.features.set(features)
    this.labels.set(labels)
  }

  private allocate(rows: number): void {
    this.features = new Float32Array(rows * this.width)
    this.featureBytes = new Uint8Array(this.features.buffer)
    this.labels = new Float32Array(this.hasLabel ? rows : 0)
    this.labelBytes = new Uint8Array(this.labels.buffer)
    this.featureWords = new Int32Array(this.features.buffer)
    this.labelWords = new Int32Array(this.labels.buffer)
  }

  /** Copies the values of `slot` to `out[at...]`, checking that there are `width` of them. */
  private copyFeature(slot: number, at: number, width: number, out: Float32Array, outBytes: Uint8Array): void {
    const buf = this.reader.buf
    const start = this.starts[slot]
    const end = this.ends[slot]
    // Fast path, the layout every writer produces: float_list (0x12) { packed value (0x0a) },
    // lengths of at most two varint bytes.
    if (buf[start] === 0x12) {
      let pos = start + 2
      let length = buf[start + 1]
      if (length >= 0x80) length = (length & 0x7f) | (buf[pos++] << 7)
      if (length < 0x4000 && pos + length === end && buf[pos] === 0x0a) {
        let packed = buf[pos + 1]
        pos += 2
        if (packed >= 0x80) packed = (packed & 0x7f) | (buf[pos++] << 7)
        if (packed < 0x4000 && pos + packed === end && packed === width * 4) {
          if (width >= 16 && LITTLE_ENDIAN) outBytes.set(buf.subarray(pos, end), at * 4)
          else if (LITTLE_ENDIAN) for (let i = 0, to = at * 4; i < 4 * width; i++) outBytes[to + i] = buf[pos + i]
          else for (let i = 0; i < width; i++) out[at + i] = this.reader.view.getFloat32(pos + 4 * i, true)
          return
        }
      }
    }
    const count = this.reader.numbers(start, end, out, at, width)
    this.checkKind(slot)
    if (count !== width) {
      const expected = slot < this.featureCount ? `${width} (as in the first record)` : '1 (a label is one value)'
      throw new MaltError('TFRECORD_SHAPE', `feature ${describeValue(this.nameOf(slot))} has ${count} values, expected ${expected}`)
    }
  }

  private checkKind(slot: number): void {
    const kind = this.reader.kind
    if (kind === KIND_FLOAT || kind === KIND_INT64) return
    throw new MaltError('TFRECORD_BAD_FEATURE', `feature ${describeValue(this.nameOf(slot))} holds ${KIND_NAMES[kind]}; expected a float_list or an int64_list`)
  }

  private nameOf(slot: number): string {
    for (const [name, s] of this.slots) if (s === slot) return name
    return `#${slot}`
  }

  result(names: string[]): TfRecordTensors {
    const width = Math.max(this.width, 0)
    const trim = (array: Float32Array, size: number): Float32Array => (array.length === size ? array : array.slice(0, size))
    return {
      features: trim(this.features, this.rows * width),
      labels: this.hasLabel ? trim(this.labels, this.rows) : undefined,
      rows: this.rows,
      width,
      featureWidths: names.map((_name, slot) => this.widths[slot] ?? 0),
    }
  }
}

/** A varint of at most 3 bytes at `buf[pos]` as `value * 4 + byteCount`, or -1. */
function varint3(buf: Uint8Array, pos: number): number {
  const a = buf[pos]
  if (a < 0x80) return a * 4 + 1
  const b = buf[pos + 1]
  if (b < 0x80) return ((a & 0x7f) | (b << 7)) * 4 + 2
  const c = buf[pos + 2]
  if (c < 0x80) return ((a & 0x7f) | ((b & 0x7f) << 7) | (c << 14)) * 4 + 3
  return -1
}
