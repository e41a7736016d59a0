// OneHotEncoder, LabelIndexer with its inverse, and BinaryLabel on hand-checked values,
// including unknown categories, thresholds and option errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { BinaryLabel, LabelIndexInverse, LabelIndexer, OneHotEncoder } from './index.js'

const hasCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof MaltError && e.code === code && (!pattern || pattern.test(e.message))
const vector = (value: unknown): number[] => Array.from(value as Float32Array)

test('OneHotEncoder learns sorted categories: numbers first, then strings', async () => {
  const encoder = await new OneHotEncoder({ inputCol: 'c' }).fit([{ c: 'red' }, { c: 10 }, { c: 'blue' }, { c: 2 }, { c: 'red' }])
  assert.deepEqual(encoder.categories, [2, 10, 'blue', 'red'])
  assert.deepEqual(vector(encoder.transform({ c: 'blue' }).c), [0, 0, 1, 0])
  assert.deepEqual(vector(encoder.transform({ c: 10 }).c), [0, 1, 0, 0])
  assert.ok(encoder.transform({ c: 2 }).c instanceof Float32Array)
})

test('OneHotEncoder with a class count encodes integer labels (dist-keras OneHotTransformer)', () => {
  const encoder = new OneHotEncoder({ inputCol: 'digit', outputCol: 'y', categories: 10 })
  const out = encoder.transform({ digit: 3 })
  assert.deepEqual(vector(out.y), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
  assert.equal(out.digit, 3)
})

test('OneHotEncoder: unknown category → error naming the known ones, or zeros with ignore', async () => {
  const strict = await new OneHotEncoder({ inputCol: 'c' }).fit([{ c: 'a' }, { c: 'b' }])
  assert.throws(() => strict.transform({ c: 'z' }), hasCode('TRANSFORMER_UNKNOWN_CATEGORY', /unknown category "z"; known categories \(2\): "a", "b"/))
  // '1' (a string) is not 1 (a number): the message shows the quotes.
  const numeric = new OneHotEncoder({ inputCol: 'c', categories: [0, 1] })
  assert.throws(() => numeric.transform({ c: '1' }), hasCode('TRANSFORMER_UNKNOWN_CATEGORY', /unknown category "1"; known categories \(2\): 0, 1/))
  const lenient = new OneHotEncoder({ inputCol: 'c', categories: ['a', 'b'], handleUnknown: 'ignore' })
  assert.deepEqual(vector(lenient.transform({ c: 'z' }).c), [0, 0])
  assert.deepEqual(vector(lenient.transform({ c: null }).c), [0, 0])
})

test('OneHotEncoder checks options and bounds the categories it learns', async () => {
  assert.throws(() => new OneHotEncoder({ inputCol: 'c', categories: ['a', 'a'] }), hasCode('TRANSFORMER_BAD_OPTION', /without duplicates.*"a"/))
  assert.throws(() => new OneHotEncoder({ inputCol: 'c', categories: 0 }), hasCode('TRANSFORMER_BAD_OPTION', /categories/))
  assert.throws(() => new OneHotEncoder({ inputCol: 'c', handleUnknown: 'skip' as 'ignore' }), hasCode('TRANSFORMER_BAD_OPTION', /'error' or 'ignore', received "skip"/))
  const rows = Array.from({ length: 6 }, (_, i) => ({ c: i }))
  await assert.rejects(new OneHotEncoder({ inputCol: 'c', maxCategories: 5 }).fit(rows), hasCode('TRANSFORMER_BAD_INPUT', /row 5 of the fit data.*maxCategories \(5\)/))
  await assert.rejects(new OneHotEncoder({ inputCol: 'c' }).fit([{ c: 'a' }, { c: null }]), hasCode('TRANSFORMER_BAD_INPUT', /row 1.*received null/))
})

test('LabelIndexer orders by frequency, ties by name; or alphabetically', async () => {
  const rows = ['cat', 'dog', 'bird', 'dog', 'cat', 'dog', 'ant'].map((animal) => ({ animal }))
  const byFrequency = await new LabelIndexer({ inputCol: 'animal', outputCol: 'label' }).fit(rows)
  assert.deepEqual(byFrequency.labels, ['dog', 'cat', 'ant', 'bird'])
  assert.deepEqual(rows.map((row) => byFrequency.transform(row).label), [1, 0, 3, 0, 1, 0, 2])
  const alphabetical = await new LabelIndexer({ inputCol: 'animal', order: 'alphabetical' }).fit(rows)
  assert.deepEqual(alphabetical.labels, ['ant', 'bird', 'cat', 'dog'])
  assert.equal(alphabetical.transform({ animal: 'cat' }).animal, 2)
})

test('LabelIndexer: numbers index by their string form; unknown labels error or keep', async () => {
  const indexer = await new LabelIndexer({ inputCol: 'y' }).fit([{ y: 7 }, { y: '7' }, { y: 3 }])
  assert.deepEqual(indexer.labels, ['7', '3'])
  assert.equal(indexer.transform({ y: 3 }).y, 1)
  assert.throws(() => indexer.transform({ y: 'x' }), hasCode('TRANSFORMER_UNKNOWN_CATEGORY', /unknown label "x"; known labels \(2\): "7", "3"/))
  const keep = new LabelIndexer({ inputCol: 'y', labels: ['a', 'b'], handleUnknown: 'keep' })
  assert.equal(keep.transform({ y: 'zzz' }).y, 2)
  assert.throws(() => new LabelIndexer({ inputCol: 'y', order: 'random' as 'frequency' }), hasCode('TRANSFORMER_BAD_OPTION', /order/))
})

test('LabelIndexer.inverse maps indices and prediction vectors back to labels', async () => {
  const indexer = await new LabelIndexer({ inputCol: 'species', outputCol: 'label', order: 'alphabetical' }).fit([
    { species: 'setosa' },
    { species: 'versicolor' },
    { species: 'virginica' },
  ])
  const fromIndex = indexer.inverse()
  assert.equal(fromIndex.inputCol, 'label')
  assert.equal(fromIndex.outputCol, 'species')
  assert.equal(fromIndex.transform({ label: 2 }).species, 'virginica')
  const fromPrediction = indexer.inverse({ inputCol: 'prediction', outputCol: 'predicted', threshold: 0.55 })
  assert.equal(fromPrediction.transform({ prediction: new Float32Array([0.1, 0.7, 0.2]) }).predicted, 'versicolor')
  assert.equal(fromPrediction.transform({ prediction: [0.4, 0.5, 0.1] }).predicted, 'unknown')
  assert.equal(fromPrediction.transform({ prediction: [0.2, 0.2, 0.6] }).predicted, 'virginica')
  assert.throws(() => new LabelIndexer({ inputCol: 'x' }).inverse(), hasCode('TRANSFORMER_NOT_FITTED'))
})

test('LabelIndexInverse: default label, arg-max ties and bad inputs', () => {
  const inverse = new LabelIndexInverse({ inputCol: 'p', labels: ['no', 'yes'], threshold: 0.9, defaultLabel: '?' })
  assert.equal(inverse.transform({ p: [0.85, 0.15] }).p, '?')
  assert.equal(inverse.transform({ p: 2 }).p, '?', 'index labels.length is the unknown label')
  assert.equal(new LabelIndexInverse({ inputCol: 'p', labels: ['a', 'b'] }).transform({ p: [0.5, 0.5] }).p, 'a')
  assert.throws(() => inverse.transform({ p: [0.1, 0.2, 0.7] }), hasCode('TRANSFORMER_BAD_INPUT', /vector of 2 numbers \(one per label\), received 3/))
  assert.throws(() => inverse.transform({ p: 3 }), hasCode('TRANSFORMER_BAD_INPUT', /integer in \[0, 1\].*received 3/))
  assert.throws(() => inverse.transform({ p: 'yes' }), hasCode('TRANSFORMER_BAD_INPUT', /received "yes"/))
  assert.throws(() => new LabelIndexInverse({ inputCol: 'p', labels: [] }), hasCode('TRANSFORMER_BAD_OPTION', /labels/))
})

test('LabelIndexInverse refuses a NaN activation, naming the column and the position', () => {
  const inverse = new LabelIndexInverse({ inputCol: 'p', labels: ['a', 'b', 'c'] })
  // NaN > x is always false: without the check, [NaN, 0.9, 0.1] would silently give 'a'.
  assert.throws(() => inverse.transform({ p: [NaN, 0.9, 0.1] }), hasCode('TRANSFORMER_BAD_INPUT', /column "p".*NaN at position 0 of 3/))
  assert.throws(() => inverse.transform({ p: Float32Array.from([0.2, 0.7, NaN]) }), hasCode('TRANSFORMER_BAD_INPUT', /NaN at position 2 of 3/))
  assert.equal(inverse.transform({ p: [0.1, 0.9, 0.1] }).p, 'b')
})

test('LabelIndexer and OneHotEncoder fits: bad cells and too many distinct values name the column and row', async () => {
  await assert.rejects(
    new LabelIndexer({ inputCol: 'y' }).fit([{ y: 'a' }, { y: null }]),
    hasCode('TRANSFORMER_BAD_INPUT', /LabelIndexer: column "y" \(row 1 of the fit data\): expected a label \(string or number\), received null/),
  )
  await assert.rejects(
    new LabelIndexer({ inputCol: 'y', maxLabels: 2 }).fit([{ y: 'a' }, { y: 'b' }, { y: 'a' }, { y: 'c' }]),
    hasCode('TRANSFORMER_BAD_INPUT', /row 3 of the fit data\): more than maxLabels \(2\) distinct labels/),
  )
  await assert.rejects(
    new OneHotEncoder({ inputCol: 'c' }).fit([{ c: 1 }, { c: true }]),
    hasCode('TRANSFORMER_BAD_INPUT', /OneHotEncoder: column "c" \(row 1 of the fit data\): expected a string or number category, received true/),
  )
  const indexer = await new LabelIndexer({ inputCol: 'y', maxLabels: 2 }).fit([{ y: 'b' }, { y: 'a' }, { y: 'a' }])
  assert.deepEqual(indexer.labels, ['a', 'b'], 'frequency order')
  assert.throws(() => new LabelIndexer({ inputCol: 'y', maxLabels: 0 }), hasCode('TRANSFORMER_BAD_OPTION', /^LabelIndexer: expected maxLabels to be a positive integer, received 0$/))
  assert.throws(() => new OneHotEncoder({ inputCol: 'c', maxCategories: 1.5 }), hasCode('TRANSFORMER_BAD_OPTION', /^OneHotEncoder: expected maxCategories to be a positive integer, received 1\.5$/))
})

test('BinaryLabel by threshold (>= is positive) and by positive class', () => {
  const byScore = new BinaryLabel({ inputCol: 'score', outputCol: 'y', threshold: 0.5 })
  assert.deepEqual([0.2, 0.5, 0.9, -1].map((score) => byScore.transform({ score }).y), [0, 1, 1, 0])
  assert.equal(byScore.transform({ score: true }).y, 1)
  const byClass = new BinaryLabel({ inputCol: 'churn', positive: ['yes', 'Y'] })
  assert.deepEqual(['yes', 'no', 'Y', 'maybe'].map((churn) => byClass.transform({ churn }).churn), [1, 0, 1, 0])
  assert.equal(new BinaryLabel({ inputCol: 'c', positive: 1 }).transform({ c: '1' }).c, 0, "'1' is not 1")
  assert.throws(() => byClass.transform({ churn: '' }), hasCode('TRANSFORMER_BAD_INPUT', /Imputer/))
  assert.throws(() => byScore.transform({ score: 'high' }), hasCode('TRANSFORMER_BAD_INPUT', /expected a number, received "high"/))
  assert.throws(() => new BinaryLabel({ inputCol: 'c' }), hasCode('TRANSFORMER_BAD_OPTION', /exactly one of them/))
  assert.throws(() => new BinaryLabel({ inputCol: 'c', threshold: 1, positive: 'a' }), hasCode('TRANSFORMER_BAD_OPTION', /exactly one/))
})
