// Pipeline: stage-by-stage fit, passes over the data, save → load through real files, and
// the errors a bad or foreign pipeline file gives.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { MaltError } from '../../errors.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'
import {
  Imputer,
  LabelIndexer,
  MinMaxScaler,
  OneHotEncoder,
  PIPELINE_FORMAT,
  Pipeline,
  Reshape,
  StandardScaler,
  VectorAssembler,
} from './index.js'

const hasCode = (code: string, pattern?: RegExp) => (e: unknown) => e instanceof MaltError && e.code === code && (!pattern || pattern.test(e.message))

let dir: string
before(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'malt-'))
})
after(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const rows: Row[] = [
  { x: 1, y: 10, species: 'cat' },
  { x: null, y: 20, species: 'dog' },
  { x: 3, y: 30, species: 'cat' },
]

const makePipeline = (): Pipeline =>
  new Pipeline([
    new Imputer({ inputCol: 'x' }),
    new StandardScaler({ inputCol: 'x' }),
    new VectorAssembler({ inputCols: ['x', 'y'] }),
    new MinMaxScaler({ inputCol: 'features' }),
    new LabelIndexer({ inputCol: 'species', outputCol: 'label' }),
    new OneHotEncoder({ inputCol: 'label', outputCol: 'target' }),
    new Reshape({ inputCol: 'features', shape: [2, 1] }),
  ])

test('each stage is fitted on the output of the stages before it', async () => {
  const pipeline = await makePipeline().fit(rows)
  assert.equal(pipeline.fitted, true)
  const out = rows.map((row) => pipeline.transform(row))
  // Imputer fills x with 2, so the scaler sees 1, 2, 3: mean 2, std 1 → -1, 0, 1.
  assert.deepEqual(
    out.map((row) => row.x),
    [-1, 0, 1],
  )
  // The assembled [x, y] vectors are min-max scaled per element: both span their range.
  assert.deepEqual(
    out.map((row) => Array.from(row.features as Float32Array)),
    [
      [0, 0],
      [0.5, 0.5],
      [1, 1],
    ],
  )
  assert.deepEqual(
    out.map((row) => Array.from(row.target as Float32Array)),
    [
      [1, 0],
      [0, 1],
      [1, 0],
    ],
  )
  assert.equal(out[1].species, 'dog')
})

test('fit reads the data once per stage that learns, none for stateless stages', async () => {
  let passes = 0
  const data = Dataset.fromGenerator(function* () {
    passes++
    yield* rows
  })
  const seen: string[] = []
  await makePipeline().fit(data, { onStage: (index, stage) => seen.push(`${index}:${stage.type}`) })
  assert.equal(passes, 5)
  assert.deepEqual(seen, ['0:Imputer', '1:StandardScaler', '3:MinMaxScaler', '4:LabelIndexer', '5:OneHotEncoder'])
})

test('a one-shot iterator is refused when several stages learn, accepted for one', async () => {
  function* once(): Generator<Row> {
    yield* rows.map((row) => ({ ...row, v: [1, 2] }))
  }
  await assert.rejects(makePipeline().fit(once()), hasCode('TRANSFORMER_BAD_INPUT', /one pass over the data per stage that learns \(Imputer, StandardScaler/))
  const single = await new Pipeline([new Reshape({ inputCol: 'v', shape: [2] }), new MinMaxScaler({ inputCol: 'y' })]).fit(once())
  assert.equal(single.transform({ y: 20, v: [1, 2] }).y, 0.5)
})

test('a stage that fails to fit names its position', async () => {
  const pipeline = new Pipeline([new Reshape({ inputCol: 'v', shape: [1] }), new StandardScaler({ inputCol: 'x' })])
  await assert.rejects(pipeline.fit([{ v: [1], x: 'a' }]), hasCode('TRANSFORMER_BAD_INPUT', /^stage 1 \(StandardScaler\): StandardScaler: column "x" \(row 0 of the fit data\)/))
  assert.throws(() => new Pipeline([{} as never]), hasCode('TRANSFORMER_BAD_OPTION', /stage 0 to be a transformer/))
})

test('save → load from a real file gives the same output', async () => {
  const pipeline = await makePipeline().fit(rows)
  const file = join(dir, 'prep.json')
  await pipeline.save(file)
  assert.deepEqual(fs.readdirSync(dir), ['prep.json'], 'the atomic write leaves no temp file')
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'))
  assert.equal(saved.format, PIPELINE_FORMAT)
  assert.equal(saved.version, 1)
  assert.equal(saved.stages.length, 7)
  const loaded = await Pipeline.load(`file://${file}`)
  const probe = [...rows, { x: 7, y: -5, species: 'dog' }]
  assert.deepEqual(
    probe.map((row) => loaded.transform(row)),
    probe.map((row) => pipeline.transform(row)),
  )
  assert.deepEqual(loaded.toJSON(), pipeline.toJSON())
})

test('load: a file that is not JSON is named with its line', async () => {
  const file = join(dir, 'broken.json')
  // A trailing comma after the last property: the error is on line 4.
  fs.writeFileSync(file, '{\n  "format": "malt-pipeline",\n  "version": 1,\n}\n')
  await assert.rejects(Pipeline.load(file), (e: unknown) => {
    assert.ok(e instanceof MaltError && e.code === 'TRANSFORMER_BAD_JSON', String(e))
    assert.match(e.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: not valid JSON`))
    assert.equal(e.location?.file, file)
    return true
  })
})

test('load: an unknown transformer type names the file, the stage and the known types', async () => {
  const file = join(dir, 'unknown.json')
  const json = (await makePipeline().fit(rows)).toJSON()
  json.stages[2] = { type: 'FancyScaler', inputCol: 'x' }
  fs.writeFileSync(file, JSON.stringify(json))
  await assert.rejects(
    Pipeline.load(file),
    hasCode('TRANSFORMER_UNKNOWN_TYPE', /unknown\.json: stage 2 \(FancyScaler\): unknown transformer type "FancyScaler"; known types: BinaryLabel, DenseToSparse, Imputer, .*VectorAssembler/),
  )
})

test('load: wrong format, newer version, bad state and a missing file are clear errors', async () => {
  const write = (name: string, content: unknown): string => {
    const file = join(dir, name)
    fs.writeFileSync(file, JSON.stringify(content))
    return file
  }
  await assert.rejects(Pipeline.load(write('model.json', { modelTopology: {} })), hasCode('TRANSFORMER_BAD_JSON', /model\.json: expected "format" to be "malt-pipeline", received undefined/))
  await assert.rejects(Pipeline.load(write('v2.json', { format: PIPELINE_FORMAT, version: 2, stages: [] })), hasCode('TRANSFORMER_BAD_JSON', /newer Malt/))
  const badState = { format: PIPELINE_FORMAT, version: 1, stages: [{ type: 'MinMaxScaler', inputCol: 'x', min: 0, max: 1, state: { vector: false, dataMin: [0], dataMax: 'x' } }] }
  await assert.rejects(Pipeline.load(write('state.json', badState)), hasCode('TRANSFORMER_BAD_JSON', /state\.json: stage 0 \(MinMaxScaler\): MinMaxScaler JSON: expected "dataMax"/))
  await assert.rejects(Pipeline.load(join(dir, 'absent.json')), hasCode('TRANSFORMER_READ_FAILED', /absent\.json/))
})

test('an unfitted pipeline saves and loads unfitted, then fits like a fresh one', async () => {
  const file = join(dir, 'unfitted.json')
  await makePipeline().save(file)
  const loaded = await Pipeline.load(file)
  assert.equal(loaded.fitted, false)
  assert.throws(() => loaded.transform(rows[0]), hasCode('TRANSFORMER_NOT_FITTED'))
  await loaded.fit(rows)
  assert.deepEqual(loaded.toJSON(), (await makePipeline().fit(rows)).toJSON())
})
