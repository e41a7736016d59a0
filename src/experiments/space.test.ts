// Tests of search spaces: range/choice normalisation, rejection of bad spaces with the key
// named, grid and zip expansion, canonical keys and trial names.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { MaltError } from '../errors.js'
import {
  MAX_TRIAL_NAME, categorical, float, gridCombinations, int, normalizeRangeSpace, paramsKey, trialName, validateValueLists, zipCombinations,
} from './space.js'
import type { SpaceInput } from './types.js'

function rejects(fn: () => unknown, key: string, fragment?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof MaltError, `expected a MaltError, got ${String(error)}`)
    assert.equal(error.code, 'EXPERIMENT_BAD_SPACE')
    assert.ok(error.message.includes(JSON.stringify(key)), `message names ${key}: ${error.message}`)
    if (fragment) assert.match(error.message, fragment)
    return true
  })
}

describe('normalizeRangeSpace', () => {
  it('reads two numbers as a range (int when both are integers) and other lists as choices', () => {
    const space = normalizeRangeSpace({
      lr: [0.0001, 0.01],
      layers: [1, 5],
      optimizer: ['adam', 'sgd'],
      units: [32, 64, 128],
      flag: [true, false],
      mixed: [1, 'a'],
    })
    assert.deepEqual(space, {
      lr: { type: 'float', min: 0.0001, max: 0.01 },
      layers: { type: 'int', min: 1, max: 5 },
      optimizer: { type: 'categorical', choices: ['adam', 'sgd'] },
      units: { type: 'categorical', choices: [32, 64, 128] },
      flag: { type: 'categorical', choices: [true, false] },
      mixed: { type: 'categorical', choices: [1, 'a'] },
    })
    assert.deepEqual(Object.keys(space), ['lr', 'layers', 'optimizer', 'units', 'flag', 'mixed'])
  })

  it('passes typed specs from the builders', () => {
    const space = normalizeRangeSpace({ lr: float(1e-4, 1e-1, { log: true }), n: int(1, 64, { log: true }), act: categorical(['relu', 'tanh']), d: float(0, 0.5) })
    assert.deepEqual(space, {
      lr: { type: 'float', min: 1e-4, max: 1e-1, log: true },
      n: { type: 'int', min: 1, max: 64, log: true },
      act: { type: 'categorical', choices: ['relu', 'tanh'] },
      d: { type: 'float', min: 0, max: 0.5 },
    })
  })

  it('rejects every kind of bad space, naming the key', () => {
    rejects(() => normalizeRangeSpace({ lr: [] }), 'lr', /non-empty/)
    rejects(() => normalizeRangeSpace({ lr: [0.1, 0.01] }), 'lr', /min <= max/)
    rejects(() => normalizeRangeSpace({ lr: float(0.1, 0.01) }), 'lr', /min <= max/)
    rejects(() => normalizeRangeSpace({ lr: { type: 'float', min: 'a', max: 1 } as unknown as SpaceInput[string] }), 'lr', /finite number/)
    rejects(() => normalizeRangeSpace({ lr: float(0, Infinity) }), 'lr', /finite number/)
    rejects(() => normalizeRangeSpace({ lr: [0, NaN] }), 'lr', /finite number/)
    rejects(() => normalizeRangeSpace({ lr: float(0, 1, { log: true }) }), 'lr', /min > 0/)
    rejects(() => normalizeRangeSpace({ n: int(0, 8, { log: true }) }), 'n', /min >= 1/)
    rejects(() => normalizeRangeSpace({ n: int(1.5, 8) }), 'n', /integer bounds/)
    rejects(() => normalizeRangeSpace({ x: { type: 'normal', min: 0, max: 1 } as unknown as SpaceInput[string] }), 'x', /"float", "int" or "categorical"/)
    rejects(() => normalizeRangeSpace({ x: 5 as unknown as SpaceInput[string] }), 'x', /typed spec/)
    rejects(() => normalizeRangeSpace({ c: categorical([]) }), 'c', /non-empty/)
    rejects(() => normalizeRangeSpace({ c: categorical(['a', 'a']) }), 'c', /distinct/)
    rejects(() => normalizeRangeSpace({ c: categorical([{}] as unknown as string[]) }), 'c', /string or a boolean/)
    rejects(() => normalizeRangeSpace({ c: [1, 2, null] as unknown as number[] }), 'c')
    assert.throws(() => normalizeRangeSpace({}), { code: 'EXPERIMENT_BAD_SPACE', message: /at least one hyperparameter/ })
    assert.throws(() => normalizeRangeSpace(null as unknown as SpaceInput), { code: 'EXPERIMENT_BAD_SPACE' })
  })

  it('accepts a one-value range and a one-choice list', () => {
    assert.deepEqual(normalizeRangeSpace({ a: [3, 3], b: ['x'] }), { a: { type: 'int', min: 3, max: 3 }, b: { type: 'categorical', choices: ['x'] } })
  })
})

describe('validateValueLists', () => {
  it('keeps lists, lists int ranges and categoricals, refuses float ranges', () => {
    assert.deepEqual(validateValueLists({ a: [1, 2], b: int(1, 3), c: categorical(['x']) }, 'gridSearch'), { a: [1, 2], b: [1, 2, 3], c: ['x'] })
    rejects(() => validateValueLists({ lr: float(0, 1) }, 'gridSearch'), 'lr', /cannot be listed/)
    rejects(() => validateValueLists({ lr: [] }, 'gridSearch'), 'lr', /non-empty/)
    rejects(() => validateValueLists({ lr: 0.1 }, 'gridSearch'), 'lr', /non-empty list/)
    rejects(() => validateValueLists({ lr: [0.1, 0.1] }, 'gridSearch'), 'lr', /distinct/)
    rejects(() => validateValueLists({ lr: [0.1, Infinity] }, 'gridSearch'), 'lr', /finite number/)
  })
})

describe('gridCombinations', () => {
  it('is the cartesian product, first key slowest', () => {
    assert.deepEqual(gridCombinations({ lr: [0.001, 0.005, 0.01], dropout: [0.5, 0.6] }), [
      { lr: 0.001, dropout: 0.5 },
      { lr: 0.001, dropout: 0.6 },
      { lr: 0.005, dropout: 0.5 },
      { lr: 0.005, dropout: 0.6 },
      { lr: 0.01, dropout: 0.5 },
      { lr: 0.01, dropout: 0.6 },
    ])
    assert.equal(gridCombinations({ a: [1, 2, 3], b: ['x', 'y'], c: [true, false] }).length, 12)
    assert.equal(new Set(gridCombinations({ a: [1, 2, 3], b: ['x', 'y'], c: [true, false] }).map(paramsKey)).size, 12)
  })

  it('refuses a grid with too many combinations', () => {
    const big = Array.from({ length: 1000 }, (_, i) => i)
    assert.throws(() => gridCombinations({ a: big, b: big }), { code: 'EXPERIMENT_BAD_SPACE', message: /1000000 combinations/ })
  })
})

describe('zipCombinations', () => {
  it('zips lists of equal length and broadcasts single values (HopsML launch)', () => {
    assert.deepEqual(zipCombinations({ a: [1, 2], b: [5, 3] }), [{ a: 1, b: 5 }, { a: 2, b: 3 }])
    assert.deepEqual(zipCombinations({ a: [1, 1], b: 'x' }), [{ a: 1, b: 'x' }, { a: 1, b: 'x' }])
    assert.deepEqual(zipCombinations({ lr: 0.01 }), [{ lr: 0.01 }])
  })

  it('rejects lists of different lengths, naming the key', () => {
    rejects(() => zipCombinations({ a: [1, 2], b: [5, 3, 4] }), 'b', /length of "a" \(2\), received 3/)
    rejects(() => zipCombinations({ a: [] }), 'a')
  })
})

describe('paramsKey', () => {
  it('ignores key order and number spelling, keeps types apart', () => {
    assert.equal(paramsKey({ a: 1, b: 'x' }), paramsKey({ b: 'x', a: 1 }))
    assert.equal(paramsKey({ a: 0.1 }), paramsKey({ a: 1e-1 }))
    assert.equal(paramsKey({ a: -0 }), paramsKey({ a: 0 }))
    assert.notEqual(paramsKey({ a: 1 }), paramsKey({ a: '1' }))
    assert.notEqual(paramsKey({ a: true }), paramsKey({ a: 'true' }))
    assert.notEqual(paramsKey({ a: 1, b: 2 }), paramsKey({ a: 2, b: 1 }))
  })
})

describe('trialName', () => {
  it('is readable for plain values, in the space order', () => {
    assert.equal(trialName({ lr: 0.01, dropout: 0.5 }), 'lr=0.01&dropout=0.5')
    assert.equal(trialName({ opt: 'adam', deep: true, lr: 1e-7 }), 'opt=adam&deep=true&lr=1e-7')
    assert.equal(trialName({}), 'default')
  })

  it('escapes separators and characters unsafe in file names', () => {
    const name = trialName({ 'a/b': 'x&y=z', path: '../etc', sp: 'a b', u: 'é%' })
    assert.equal(name, 'a%2Fb=x%26y%3Dz&path=..%2Fetc&sp=a%20b&u=%C3%A9%25')
    assert.doesNotMatch(name, /[/\\:*?"<>| ]/)
    assert.notEqual(trialName({ a: 'x&b=y' }), trialName({ a: 'x', b: 'y' }))
  })

  it('caps long names with a hash suffix that keeps them apart', () => {
    const long = (tail: string) => ({ description: `${'x'.repeat(200)}${tail}`, n: 1 })
    const [a, b] = [trialName(long('a')), trialName(long('b'))]
    assert.ok(a.length <= MAX_TRIAL_NAME)
    assert.match(a, /^description=x+~[0-9a-f]{8}$/)
    assert.notEqual(a, b)
    // A cut never leaves half an escape behind.
    const escaped = trialName({ k: '/'.repeat(100) })
    assert.match(escaped, /^k=(%2F)+~[0-9a-f]{8}$/)
  })
})
