// Splitting the flat vector over servers: near-equal ranges, cuts on tensor boundaries, and checks.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { checkRanges, splitParameters } from './slices.js'

const sizesOf = (ranges: { start: number; end: number }[]): number[] => ranges.map(({ start, end }) => end - start)

test('near-equal contiguous ranges', () => {
  assert.deepEqual(splitParameters(10, 3), [
    { start: 0, end: 3 },
    { start: 3, end: 6 },
    { start: 6, end: 10 },
  ])
  assert.deepEqual(sizesOf(splitParameters(1_000_003, 4)), [250_000, 250_001, 250_001, 250_001])
  assert.deepEqual(splitParameters(5, 1), [{ start: 0, end: 5 }])
})

test('cuts fall on the tensor boundary nearest the equal cut', () => {
  assert.deepEqual(splitParameters(10, 2, [4, 4, 2]), [
    { start: 0, end: 4 },
    { start: 4, end: 10 },
  ])
  // A dense layer's kernel and bias, twice: the cut goes between the layers.
  assert.deepEqual(sizesOf(splitParameters(2 * (784 * 256 + 256), 2, [784 * 256, 256, 784 * 256, 256])), [784 * 256 + 256, 784 * 256 + 256])
  // One huge tensor first: each remaining part still gets a tensor.
  assert.deepEqual(sizesOf(splitParameters(1003, 3, [1000, 1, 0, 1, 1])), [1000, 1, 2])
  for (const ranges of [splitParameters(1003, 3, [1000, 1, 0, 1, 1]), splitParameters(999, 7)]) checkRanges(ranges, ranges[ranges.length - 1].end)
})

test('impossible splits and bad ranges name the problem', () => {
  const refused = (run: () => unknown, pattern: RegExp): void =>
    assert.throws(run, (error: unknown) => error instanceof MaltError && error.code === 'PS_BAD_SPLIT' && pattern.test(error.message))
  refused(() => splitParameters(2, 3), /cannot split 2 parameters into 3/)
  refused(() => splitParameters(10, 3, [5, 5]), /cannot split 2 non-empty tensors into 3/)
  refused(() => splitParameters(10, 2, [5, 4]), /add up to 9; expected the total, 10/)
  refused(() => splitParameters(10, 0), /"parts" must be an integer >= 1; received 0/)
  refused(() => checkRanges([{ start: 0, end: 4 }, { start: 5, end: 9 }]), /range 1 starts at 5; expected 4/)
  refused(() => checkRanges([{ start: 0, end: 4 }], 9), /end at 4; expected 9/)
})
