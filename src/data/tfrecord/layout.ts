// Record layouts: Examples from one writer repeat the same bytes apart from their values, so
// once a record is decoded, later records are checked against it with one memcmp and their
// values read at known offsets, without walking the protobuf again (tensor and row readers).
import { endianness } from 'node:os'
import { walkEntries, type WireReader } from './wire.js'

/** Float bits are moved as little-endian int32s; elsewhere the full decode does everything. */
const LITTLE_ENDIAN = endianness() === 'LE'
/** Records kept as layouts at once; a miss on all of them falls back to the full decode. */
const MAX_LAYOUTS = 8
/** Larger records are not learned (each layout holds two copies of its record). */
const MAX_RECORD = 1 << 20
/** After this many tries, a layout is learned only while hits stay ≥ 8 per try... */
const FREE_TRIES = 8
/** ...or once per this many misses (the records may have become regular, say in a new file). */
const RETRY_MISSES = 1024
/** Float runs of at least this many values are moved with one `set` instead of a loop. */
const BLOCK_VALUES = 16
/** Ranges of up to this many bytes are cleared by a loop, longer ones with `fill`. */
const SHORT_RANGE = 16
/** Fields of a value list: slot, start and end of its values. */
const LIST_FIELDS = 3
/** Op fields of a tensor layout: target (0 features, 1 labels), start, index in the row, and a count or an end. */
const OP_FIELDS = 4

/** Gives the slot of the map entry whose key is `buf[keyStart, keyEnd)`; -1: not wanted. */
export type SlotOf = (keyStart: number, keyEnd: number, entry: number) => number

/**
 * A decoded record as a pattern: its bytes with the values cleared (float bytes and unwanted
 * Features to 0, int64 varint bytes to their continuation bit), and the wanted value lists,
 * float and int64 (offsets from the record's first byte). A record that clears to the same
 * bytes parses exactly like this one, since the parse looks at nothing else: the same tags,
 * lengths, names, positions and value counts. `scratch` receives each candidate record.
 */
class Pattern {
  readonly scratch: Buffer
  readonly view: DataView

  constructor(
    readonly pattern: Buffer,
    readonly floats: Int32Array,
    readonly ints: Int32Array,
    readonly clears: Int32Array,
  ) {
    this.scratch = Buffer.alloc(pattern.length)
    this.view = new DataView(this.scratch.buffer, this.scratch.byteOffset, pattern.length)
  }

  get length(): number {
    return this.pattern.length
  }

  /** Copies `buf[start, end)` to the scratch and clears what varies except float values. */
  load(buf: Uint8Array, start: number, end: number): void {
    const { scratch, ints, clears } = this
    scratch.set(buf.subarray(start, end))
    for (let l = 0; l < ints.length; l += LIST_FIELDS) for (let p = ints[l + 1]; p < ints[l + 2]; p++) scratch[p] &= 0x80
    for (let c = 0; c < clears.length; c += 2) clear(scratch, clears[c], clears[c + 1])
  }
}

function clear(bytes: Uint8Array, from: number, to: number): void {
  if (to - from > SHORT_RANGE) bytes.fill(0, from, to)
  else for (let p = from; p < to; p++) bytes[p] = 0
}

/** The pattern of the record `reader.buf[start, end)`, or undefined if a wanted Feature is not one packed list. */
function learnPattern(reader: WireReader, start: number, end: number, slotOf: SlotOf): Pattern | undefined {
  const buf = reader.buf
  const pattern = Buffer.from(buf.subarray(start, end))
  const floats: number[] = []
  const ints: number[] = []
  const clears: number[] = []
  let entry = 0
  let ok = true
  reader.reset(buf, start, end)
  walkEntries(reader, (keyStart, keyEnd, valueStart, valueEnd) => {
    const slot = slotOf(keyStart, keyEnd, entry++)
    if (slot < 0) {
      // Not wanted: the full decode skips the Feature by its length, whatever it holds.
      if (valueStart >= 0) clears.push(valueStart - start, valueEnd - start)
      return
    }
    const values = packedValues(buf, valueStart, valueEnd)
    if (values < 0) ok = false
    else (buf[valueStart] === 0x12 ? floats : ints).push(slot, values - start, valueEnd - start)
  })
  if (!ok) return undefined
  for (let l = 0; l < floats.length; l += LIST_FIELDS) pattern.fill(0, floats[l + 1], floats[l + 2])
  for (let l = 0; l < ints.length; l += LIST_FIELDS) for (let p = ints[l + 1]; p < ints[l + 2]; p++) pattern[p] &= 0x80
  for (let c = 0; c < clears.length; c += 2) pattern.fill(0, clears[c], clears[c + 1])
  return new Pattern(pattern, Int32Array.from(floats), Int32Array.from(ints), Int32Array.from(clears))
}

/**
 * Where the values start in a Feature `buf[start, end)` that is one float_list (0x12) or
 * int64_list (0x1a) holding one packed list (0x0a), both running to `end`; -1 otherwise.
 */
function packedValues(buf: Uint8Array, start: number, end: number): number {
  if (start < 0 || (buf[start] !== 0x12 && buf[start] !== 0x1a)) return -1
  const list = varintEnd(buf, start + 1, end)
  if (list < 0 || list + varintValue(buf, start + 1) !== end || buf[list] !== 0x0a) return -1
  const values = varintEnd(buf, list + 1, end)
  if (values < 0 || values + varintValue(buf, list + 1) !== end) return -1
  return buf[start] === 0x1a || (end - values) % 4 === 0 ? values : -1
}

/** The position after a varint of at most 4 bytes at `buf[pos]`, or -1. */
function varintEnd(buf: Uint8Array, pos: number, end: number): number {
  for (let i = pos; i < end && i < pos + 4; i++) if (buf[i] < 0x80) return i + 1
  return -1
}

/** The value of a varint of at most 4 bytes at `buf[pos]` (checked by {@link varintEnd}). */
function varintValue(buf: Uint8Array, pos: number): number {
  let value = 0
  for (let shift = 0; shift < 28; shift += 7) {
    const byte = buf[pos++]
    value |= (byte & 0x7f) << shift
    if (byte < 0x80) break
  }
  return value
}

/** A few layouts, most recently matched first, and the counts that decide whether to learn more. */
class LayoutList<L extends { readonly length: number }> {
  readonly items: L[] = []
  private hits = 0
  /** Records learned or tried (not every record makes a layout). */
  private tries = 0
  /** Records that matched no layout since the last try. */
  private misses = 0

  /** Whether learning the record just decoded is worth it (layouts keep being matched). */
  get learning(): boolean {
    return LITTLE_ENDIAN && (this.tries < FREE_TRIES || this.hits >= 8 * this.tries || this.misses >= RETRY_MISSES)
  }

  /** Counts a record that matched no layout. */
  miss(): void {
    this.misses++
  }

  /** Counts a hit on `items[k]` and moves it to the front. */
  hit(k: number): void {
    this.hits++
    if (k === 0) return
    const [layout] = this.items.splice(k, 1)
    this.items.unshift(layout)
  }

  /** Counts a try and keeps what `make` gives (nothing for records over MAX_RECORD bytes). */
  add(length: number, make: () => L | undefined): void {
    this.tries++
    this.misses = 0
    const layout = length <= MAX_RECORD ? make() : undefined
    if (!layout) return
    this.items.unshift(layout)
    if (this.items.length > MAX_LAYOUTS) this.items.pop()
  }
}

/** The arrays values go to: float32 values, and the same memory as int32 words and bytes. */
export interface LayoutOutput {
  readonly features: Float32Array
  readonly featureWords: Int32Array
  readonly featureBytes: Uint8Array
  readonly labels: Float32Array
  readonly labelWords: Int32Array
  readonly labelBytes: Uint8Array
}

/** Where each requested feature's values go (the tensor reader's current state). */
export interface LayoutTarget {
  /** Features (slot < featureCount) and then the label. */
  readonly featureCount: number
  /** Per feature slot: its byte offset in a row, and its size in bytes. */
  readonly rowOffsets: Int32Array
  readonly rowBytes: Int32Array
}

/** A pattern with its float values as moves: pairs of (offset in the record, index in the row). */
interface TensorLayout {
  readonly length: number
  readonly pattern: Pattern
  readonly featureMoves: Int32Array
  readonly labelMoves: Int32Array
  /** Float lists of at least BLOCK_VALUES values, and int64 lists, as ops (OP_FIELDS each). */
  readonly blocks: Int32Array
  readonly ints: Int32Array
}

/** Layouts for the tensor reader: requested features and the label into Float32Arrays. */
export class LayoutCache {
  private readonly list = new LayoutList<TensorLayout>()

  /**
   * Copies the values of the record `reader.buf[start, end)` if it matches a known layout:
   * features from index `featureRow` of `out.features`, the label to `out.labels[labelRow]`
   * (float bits copied exactly; int64s rounded to float32). On a miss, those places may
   * hold stray values: the full decode of the record overwrites them.
   */
  apply(reader: WireReader, start: number, end: number, out: LayoutOutput, featureRow: number, labelRow: number): boolean {
    const layouts = this.list.items
    for (let k = 0; k < layouts.length; k++) {
      const layout = layouts[k]
      if (layout.length !== end - start || !matchTensor(layout, reader.buf, start, end, out, featureRow, labelRow)) continue
      const ints = layout.ints
      for (let o = 0; o < ints.length; o += OP_FIELDS) {
        // Only read once matched: before, the varints may be malformed.
        const values = ints[o] === 0 ? out.features : out.labels
        reader.reset(reader.buf, start + ints[o + 1], start + ints[o + 3])
        for (let i = (ints[o] === 0 ? featureRow : labelRow) + ints[o + 2]; reader.pos < reader.end; i++) values[i] = reader.int64Number()
      }
      this.list.hit(k)
      return true
    }
    this.list.miss()
    return false
  }

  /** Whether learning the record just decoded is worth it (layouts keep being matched). */
  get learning(): boolean {
    return this.list.learning
  }

  /**
   * Learns the record `reader.buf[start, end)`, which the full decode has just read without
   * error; `slotOf` gives the slot of each map entry's key (-1: not requested). Records with
   * a requested feature in another form than one packed float/int64 list are not learned.
   */
  learn(reader: WireReader, start: number, end: number, target: LayoutTarget, slotOf: SlotOf): void {
    this.list.add(end - start, () => {
      const pattern = learnPattern(reader, start, end, slotOf)
      if (!pattern) return undefined
      const moves: number[][] = [[], []]
      const blocks: number[] = []
      const ints: number[] = []
      const seen = new Set<number>()
      for (const [lists, isFloat] of [[pattern.floats, true], [pattern.ints, false]] as const) {
        for (let l = 0; l < lists.length; l += LIST_FIELDS) {
          const [slot, from, to] = lists.subarray(l, l + LIST_FIELDS)
          // A name twice: the last wins; ops that run floats first, then ints, could not say.
          if (seen.has(slot)) return undefined
          seen.add(slot)
          const feature = slot < target.featureCount
          const at = feature ? target.rowOffsets[slot] >>> 2 : 0
          const count = (to - from) >>> 2
          if (!isFloat) ints.push(feature ? 0 : 1, from, at, to)
          else if ((feature ? target.rowBytes[slot] : 4) !== to - from) return undefined
          else if (count >= BLOCK_VALUES) blocks.push(feature ? 0 : 1, from, at, count)
          else for (let i = 0; i < count; i++) moves[feature ? 0 : 1].push(from + 4 * i, at + i)
        }
      }
      const pack = (values: number[]): Int32Array => Int32Array.from(values)
      return { length: end - start, pattern, featureMoves: pack(moves[0]), labelMoves: pack(moves[1]), blocks: pack(blocks), ints: pack(ints) }
    })
  }
}

/** Loads the record into the layout's scratch, moves its floats out (clearing them), compares. */
function matchTensor(layout: TensorLayout, buf: Uint8Array, start: number, end: number, out: LayoutOutput, featureRow: number, labelRow: number): boolean {
  const { pattern, featureMoves, labelMoves, blocks } = layout
  const { scratch, view } = pattern
  pattern.load(buf, start, end)
  // Float bits as int32s: copied exactly, NaN payloads too.
  const featureWords = out.featureWords
  for (let m = 0; m < featureMoves.length; m += 2) {
    const from = featureMoves[m]
    featureWords[featureRow + featureMoves[m + 1]] = view.getInt32(from, true)
    view.setInt32(from, 0, true)
  }
  for (let m = 0; m < labelMoves.length; m += 2) {
    out.labelWords[labelRow + labelMoves[m + 1]] = view.getInt32(labelMoves[m], true)
    view.setInt32(labelMoves[m], 0, true)
  }
  for (let b = 0; b < blocks.length; b += OP_FIELDS) {
    const from = blocks[b + 1]
    const to = from + 4 * blocks[b + 3]
    const row = blocks[b] === 0 ? featureRow : labelRow
    ;(blocks[b] === 0 ? out.featureBytes : out.labelBytes).set(scratch.subarray(from, to), 4 * (row + blocks[b + 2]))
    scratch.fill(0, from, to)
  }
  return scratch.equals(pattern.pattern)
}

/** A row layout: the pattern of a record whose every entry is a packed list, and its row builder. */
interface RowLayout<T> {
  readonly length: number
  readonly pattern: Pattern
  readonly payload: T
}

/**
 * Layouts for the row decoder: every entry's value, by entry index, as the full decode gives
 * it (float32 → number, int64 → number or bigint; a one-value list as its value unless
 * `keepLists`). `T` is what the decoder keeps with a layout (its row builder).
 */
export class RowLayouts<T> {
  private readonly list = new LayoutList<RowLayout<T>>()

  constructor(private readonly keepLists: boolean) {}

  /** Fills `values` from `reader.buf[start, end)` if it matches a layout, and returns that layout's payload. */
  apply(reader: WireReader, start: number, end: number, values: unknown[]): T | undefined {
    const layouts = this.list.items
    for (let k = 0; k < layouts.length; k++) {
      const layout = layouts[k]
      if (layout.length !== end - start || !this.matchRow(layout.pattern, reader.buf, start, end, values)) continue
      const ints = layout.pattern.ints
      for (let l = 0; l < ints.length; l += LIST_FIELDS) {
        reader.reset(reader.buf, start + ints[l + 1], start + ints[l + 2])
        const first = reader.pos < reader.end ? reader.int64() : undefined
        if (first !== undefined && reader.pos === reader.end && !this.keepLists) {
          values[ints[l]] = first
          continue
        }
        const list: Array<number | bigint> = first === undefined ? [] : [first]
        while (reader.pos < reader.end) list.push(reader.int64())
        values[ints[l]] = list
      }
      this.list.hit(k)
      return layout.payload
    }
    this.list.miss()
    return undefined
  }

  /** See {@link LayoutCache.learning}. */
  get learning(): boolean {
    return this.list.learning
  }

  /** Learns a record just decoded without error, with the payload to return on later matches. */
  learn(reader: WireReader, start: number, end: number, payload: T): void {
    this.list.add(end - start, () => {
      const pattern = learnPattern(reader, start, end, (_keyStart, _keyEnd, entry) => entry)
      return pattern && { length: end - start, pattern, payload }
    })
  }

  private matchRow(pattern: Pattern, buf: Uint8Array, start: number, end: number, values: unknown[]): boolean {
    const { scratch, view, floats } = pattern
    pattern.load(buf, start, end)
    for (let l = 0; l < floats.length; l += LIST_FIELDS) {
      const from = floats[l + 1]
      const to = floats[l + 2]
      if (to - from === 4 && !this.keepLists) {
        values[floats[l]] = view.getFloat32(from, true)
      } else {
        const list: number[] = []
        for (let p = from; p < to; p += 4) list.push(view.getFloat32(p, true))
        values[floats[l]] = list
      }
      clear(scratch, from, to)
    }
    return scratch.equals(pattern.pattern)
  }
}
