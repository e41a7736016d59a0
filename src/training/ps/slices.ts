// Slices of the flat parameter vector, one per parameter server when a model is split over
// several: contiguous, in order, covering the vector exactly once.
import { MaltError, describeValue } from '../../errors.js'

/** Parameters `[start, end)` of the flat vector. */
export interface ParameterRange {
  start: number
  end: number
}

function badSplit(message: string): MaltError {
  return new MaltError('PS_BAD_SPLIT', message)
}

/**
 * Splits `total` parameters into `parts` contiguous near-equal ranges. With `tensorSizes` (element
 * counts of the model's tensors in flat order, summing to `total`) every cut falls on a tensor
 * boundary, the one nearest to the equal cut, so no tensor spans two servers.
 *
 * @example
 * splitParameters(10, 3) // [{start: 0, end: 3}, {start: 3, end: 6}, {start: 6, end: 10}]
 * splitParameters(10, 2, [4, 4, 2]) // [{start: 0, end: 4}, {start: 4, end: 10}]
 */
export function splitParameters(total: number, parts: number, tensorSizes?: readonly number[]): ParameterRange[] {
  if (!Number.isSafeInteger(total) || total < 0) throw badSplit(`splitParameters: "total" must be an integer >= 0; received ${describeValue(total)}`)
  if (!Number.isSafeInteger(parts) || parts < 1) throw badSplit(`splitParameters: "parts" must be an integer >= 1; received ${describeValue(parts)}`)
  if (tensorSizes === undefined) {
    if (total < parts) throw badSplit(`splitParameters: cannot split ${total} parameters into ${parts} non-empty parts`)
    // Sizes differ by at most one.
    return Array.from({ length: parts }, (_, i) => ({ start: Math.floor((total * i) / parts), end: Math.floor((total * (i + 1)) / parts) }))
  }
  // Offsets where a tensor ends (empty tensors add none: a cut there would make an empty part).
  const boundaries = [0]
  for (const [i, size] of tensorSizes.entries()) {
    if (!Number.isSafeInteger(size) || size < 0) throw badSplit(`splitParameters: tensor ${i} has size ${describeValue(size)}; expected an integer >= 0`)
    if (size > 0) boundaries.push(boundaries[boundaries.length - 1] + size)
  }
  const sum = boundaries[boundaries.length - 1]
  if (sum !== total) throw badSplit(`splitParameters: the tensor sizes add up to ${sum}; expected the total, ${total}`)
  const slots = boundaries.length - 1
  if (slots < parts) throw badSplit(`splitParameters: cannot split ${slots} non-empty tensors into ${parts} non-empty parts`)
  const cuts = [0]
  for (let part = 1; part < parts; part++) {
    const target = (total * part) / parts
    // The boundary nearest the equal cut, leaving at least one slot for each part still to come.
    let best = cuts[part - 1] + 1
    for (let b = best + 1; b <= slots - (parts - part); b++) {
      if (Math.abs(boundaries[b] - target) < Math.abs(boundaries[best] - target)) best = b
      else if (boundaries[b] > target) break
    }
    cuts.push(best)
  }
  cuts.push(slots)
  return cuts.slice(1).map((cut, i) => ({ start: boundaries[cuts[i]], end: boundaries[cut] }))
}

/** Checks that `ranges` are contiguous, in order, and cover `[0, total)`; throws PS_BAD_SPLIT naming the first gap or overlap. */
export function checkRanges(ranges: readonly ParameterRange[], total?: number): void {
  let expectedStart = 0
  for (const [i, range] of ranges.entries()) {
    if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.end < range.start) {
      throw badSplit(`range ${i} must have integers start <= end; received ${describeValue(range)}`)
    }
    if (range.start !== expectedStart) {
      throw badSplit(`range ${i} starts at ${range.start}; expected ${expectedStart} (ranges must be contiguous and in server order)`)
    }
    expectedStart = range.end
  }
  if (total !== undefined && expectedStart !== total) throw badSplit(`the ranges end at ${expectedStart}; expected ${total}, the parameter count`)
}
