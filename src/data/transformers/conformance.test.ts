// The shared suite every transformer runs: not-fitted errors, JSON round trips with identical
// output, rows never mutated, sync and async fit data agree, empty data refused.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../../errors.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'
import type { Transformer } from './base.js'
import {
  BinaryLabel,
  DenseToSparse,
  Imputer,
  LabelIndexInverse,
  LabelIndexer,
  MinMaxScaler,
  OneHotEncoder,
  Pipeline,
  Reshape,
  SparseToDense,
  StandardScaler,
  VectorAssembler,
  knownTransformerTypes,
  transformerFromJSON,
} from './index.js'

interface Case {
  make: () => Transformer
  /** Rows to fit on; also transformed. */
  rows: Row[]
}

const numbers: Row[] = [{ x: 2, v: [1, 10, 5] }, { x: 4, v: [3, 10, 7] }, { x: 6, v: [5, 10, 6] }]
const labelled: Row[] = [{ y: 'b' }, { y: 'a' }, { y: 'b' }, { y: 'c' }]

const cases: Record<string, Case> = {
  MinMaxScaler: { make: () => new MinMaxScaler({ inputCol: 'v', outputCol: 'scaled', min: -1, max: 1 }), rows: numbers },
  'MinMaxScaler (given range)': { make: () => new MinMaxScaler({ inputCol: 'x', inputMin: 0, inputMax: 8 }), rows: numbers },
  StandardScaler: { make: () => new StandardScaler({ inputCol: 'x', withMean: false }), rows: numbers },
  OneHotEncoder: { make: () => new OneHotEncoder({ inputCol: 'y', outputCol: 'hot' }), rows: labelled },
  'OneHotEncoder (given)': { make: () => new OneHotEncoder({ inputCol: 'x', categories: [2, 4, 6, 8] }), rows: numbers },
  LabelIndexer: { make: () => new LabelIndexer({ inputCol: 'y', outputCol: 'i', order: 'alphabetical' }), rows: labelled },
  LabelIndexInverse: { make: () => new LabelIndexInverse({ inputCol: 'v', outputCol: 'l', labels: ['p', 'q', 'r'], threshold: 9 }), rows: numbers },
  Reshape: { make: () => new Reshape({ inputCol: 'v', shape: [3, -1], output: 'nested', shapeCol: 's' }), rows: numbers },
  DenseToSparse: { make: () => new DenseToSparse({ inputCol: 'v', outputCol: 'sparse' }), rows: numbers },
  SparseToDense: {
    make: () => new SparseToDense({ inputCol: 's' }),
    rows: [{ s: { size: 3, indices: [0, 2], values: [1.5, -2] } }, { s: { size: 3, indices: [], values: [] } }],
  },
  BinaryLabel: { make: () => new BinaryLabel({ inputCol: 'y', outputCol: 'isB', positive: ['b', 'c'] }), rows: labelled },
  Imputer: { make: () => new Imputer({ inputCol: ['x', 'z'], strategy: 'median' }), rows: [{ x: 1, z: 7 }, { x: null, z: 3 }, { x: 5, z: '' }, { x: 4 }] },
  'Imputer (constant)': { make: () => new Imputer({ inputCol: 'x', strategy: 'constant', fillValue: -1 }), rows: [{ x: 1 }, { x: NaN }, {}] },
  VectorAssembler: { make: () => new VectorAssembler({ inputCols: ['x', 'v'] }), rows: numbers },
  Pipeline: {
    make: () =>
      new Pipeline([
        new VectorAssembler({ inputCols: ['x', 'v'], outputCol: 'f' }),
        new StandardScaler({ inputCol: 'f' }),
        new MinMaxScaler({ inputCol: 'f' }),
        new Pipeline([new Reshape({ inputCol: 'f', shape: [2, 2] })]),
      ]),
    rows: numbers,
  },
}

const clone = (rows: Row[]): Row[] => rows.map((row) => structuredClone(row))

test('every built-in transformer type has a conformance case', () => {
  const covered = new Set(Object.values(cases).map((c) => c.make().type))
  assert.deepEqual([...covered].sort(), knownTransformerTypes())
})

for (const [name, { make, rows }] of Object.entries(cases)) {
  test(`${name}: conforms to the transformer contract`, async () => {
    const fresh = make()
    if (fresh.learnsFromData) {
      assert.equal(fresh.fitted, false)
      assert.throws(() => fresh.transform(rows[0]), (e: unknown) => e instanceof MaltError && e.code === 'TRANSFORMER_NOT_FITTED' && /not fitted/.test(e.message))
      await assert.rejects(make().fit([]), (e: unknown) => e instanceof MaltError && e.code === 'TRANSFORMER_NO_DATA')
    }
    const unfittedJson = JSON.parse(JSON.stringify(fresh.toJSON()))
    const transformer = make()
    assert.equal(await transformer.fit(rows), transformer, 'fit resolves to the transformer')
    assert.equal(transformer.fitted, true)

    // Rows are never mutated.
    const before = clone(rows)
    const outputs = rows.map((row) => transformer.transform(row))
    assert.deepEqual(rows, before)

    // Saved through real JSON text and rebuilt by type: the same output and the same JSON.
    const json = transformer.toJSON()
    const restored = transformerFromJSON(JSON.parse(JSON.stringify(json)))
    assert.equal(restored.type, transformer.type)
    assert.equal(restored.fitted, true)
    assert.deepEqual(restored.toJSON(), JSON.parse(JSON.stringify(json)))
    assert.deepEqual(rows.map((row) => restored.transform(row)), outputs)

    // An unfitted save stays unfitted and fits to the same state.
    const reloaded = transformerFromJSON(unfittedJson)
    assert.equal(reloaded.fitted, !fresh.learnsFromData)
    await reloaded.fit(rows)
    assert.deepEqual(reloaded.toJSON(), json)

    // Async fit data (a Dataset) gives the same state as an array; transformDataset matches.
    const fromDataset = await make().fit(Dataset.fromArray(rows))
    assert.deepEqual(fromDataset.toJSON(), json)
    assert.deepEqual(await transformer.transformDataset(Dataset.fromArray(rows)).toArray(), outputs)
    assert.deepEqual(await transformer.transformDataset(rows).toArray(), outputs)
  })
}
