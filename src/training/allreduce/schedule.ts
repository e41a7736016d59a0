// The ring all-reduce's transfer plan for one collective on one rank: which float ranges it
// sends and receives, in which order, and which receive each send waits for. Pure arithmetic,
// shared by every rank so that both ends of a connection agree byte for byte.

/** A range of the buffer being reduced, in floats. */
export interface FloatRange {
  offset: number
  length: number
}

/** One received segment: added to what this rank holds (reduce-scatter) or written over it (all-gather). */
export interface ReceiveItem extends FloatRange {
  mode: 'reduce' | 'copy'
  /** The last addition into this range: the sum is complete here (the rank then applies `mean`). */
  completesSum: boolean
}

/** The plan of one collective on one rank. */
export interface RingSchedule {
  /** Segments to send to the downstream neighbour, in stream order. */
  sends: FloatRange[]
  /** Segments received from the upstream neighbour, in stream order. */
  receives: ReceiveItem[]
  /**
   * Sends `[0, freeSends)` use this rank's own data and can go at once; send `i ≥ freeSends`
   * forwards what receive `i - freeSends` brought in, so it waits for that receive.
   */
  freeSends: number
}

/** Float offsets of the `size` chunks of a buffer of `length` floats: as even as possible, the first `length % size` one longer. */
export function chunkRanges(length: number, size: number): FloatRange[] {
  const base = Math.floor(length / size)
  const longer = length % size
  const ranges: FloatRange[] = []
  let offset = 0
  for (let chunk = 0; chunk < size; chunk++) {
    const chunkLength = base + (chunk < longer ? 1 : 0)
    ranges.push({ offset, length: chunkLength })
    offset += chunkLength
  }
  return ranges
}

function segments(range: FloatRange, segmentFloats: number): FloatRange[] {
  const parts: FloatRange[] = []
  for (let start = 0; start < range.length; start += segmentFloats) {
    parts.push({ offset: range.offset + start, length: Math.min(segmentFloats, range.length - start) })
  }
  return parts
}

const modulo = (value: number, size: number): number => ((value % size) + size) % size

/**
 * The plan of rank `rank` in a ring of `size` ranks where data flows from each rank to rank − 1
 * (it receives from rank + 1). Step s ∈ [0, 2·size − 2): the rank sends chunk (rank + s) and
 * receives chunk (rank + s + 1), mod size. Steps below size − 1 are the reduce-scatter (the
 * received chunk is added in; after them the rank holds the full sum of chunk rank + size − 1 ≡
 * rank − 1), the rest the all-gather (the received chunk, already complete, overwrites). What a
 * rank sends at step s is what it received at step s − 1, segment by segment, so a segment is
 * forwarded as soon as it arrives: the pipeline keeps every link busy instead of pausing at steps.
 */
export function ringSchedule(length: number, size: number, rank: number, segmentFloats: number): RingSchedule {
  const chunks = chunkRanges(length, size)
  const sends: FloatRange[] = []
  const receives: ReceiveItem[] = []
  let freeSends = 0
  if (size < 2) return { sends, receives, freeSends }
  for (let step = 0; step < 2 * size - 2; step++) {
    const sent = segments(chunks[modulo(rank + step, size)], segmentFloats)
    if (step === 0) freeSends = sent.length
    sends.push(...sent)
    const reducing = step < size - 1
    for (const part of segments(chunks[modulo(rank + step + 1, size)], segmentFloats)) {
      receives.push({ ...part, mode: reducing ? 'reduce' : 'copy', completesSum: step === size - 2 })
    }
  }
  return { sends, receives, freeSends }
}
