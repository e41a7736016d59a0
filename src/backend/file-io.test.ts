// file:// model IO: a Layers model round-trips through real files; a Graph model with two
// weight shards loads; bad paths and bad JSON give clear errors.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, readFileSync, writeFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tf, ready } from './index.js'

let dir: string
before(async () => {
  await ready()
  dir = mkdtempSync(join(tmpdir(), 'malt-fileio-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

test('a Layers model saves to file:// and loads back with the same predictions', async () => {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'relu' }), tf.layers.dense({ units: 2, activation: 'softmax' })],
  })
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' })
  const target = join(dir, 'layers')
  const result = await model.save(`file://${target}`)
  assert.ok((result.modelArtifactsInfo.weightDataBytes ?? 0) > 0)
  assert.deepEqual(readdirSync(target).sort(), ['model.json', 'weights.bin'])
  const json = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8'))
  assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin'])
  assert.equal(json.format, 'layers-model')

  const loaded = await tf.loadLayersModel(`file://${target}/model.json`)
  const input = tf.tensor2d([[1, 2, 3, 4], [-1, 0, 0.5, 2]])
  const expected = (model.predict(input) as typeof input).arraySync()
  const actual = (loaded.predict(input) as typeof input).arraySync()
  assert.deepEqual(actual, expected)
})

test('a Graph model with two weight shards loads and runs', async () => {
  // y = x · W + b, written as a TF GraphDef in the TF.js graph-model JSON format.
  const target = join(dir, 'graph')
  const W = new Float32Array([1, 2, 3, 4, 5, 6]) // shape [3, 2]
  const b = new Float32Array([0.5, -1])
  const float = { type: 'DT_FLOAT' }
  const modelJSON = {
    format: 'graph-model',
    generatedBy: 'hand-written test graph',
    convertedBy: 'none',
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: float, shape: { shape: { dim: [{ size: '-1' }, { size: '3' }] } } } },
        { name: 'W', op: 'Const', attr: { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '3' }, { size: '2' }] } } } } },
        { name: 'b', op: 'Const', attr: { dtype: float, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: { dim: [{ size: '2' }] } } } } },
        { name: 'xw', op: 'MatMul', input: ['x', 'W'], attr: { T: float, transpose_a: { b: false }, transpose_b: { b: false } } },
        { name: 'y', op: 'BiasAdd', input: ['xw', 'b'], attr: { T: float, data_format: { s: Buffer.from('NHWC').toString('base64') } } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [
      { paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: [{ name: 'W', shape: [3, 2], dtype: 'float32' }, { name: 'b', shape: [2], dtype: 'float32' }] },
    ],
  }
  const bytes = Buffer.concat([Buffer.from(W.buffer), Buffer.from(b.buffer)])
  tf.util.assert(bytes.length === 32, () => 'test setup')
  const { mkdirSync } = await import('node:fs')
  mkdirSync(target)
  writeFileSync(join(target, 'model.json'), JSON.stringify(modelJSON))
  writeFileSync(join(target, 'group1-shard1of2.bin'), bytes.subarray(0, 20))
  writeFileSync(join(target, 'group1-shard2of2.bin'), bytes.subarray(20))

  const graph = await tf.loadGraphModel(`file://${target}/model.json`)
  const y = graph.predict(tf.tensor2d([[1, 0, 0], [1, 1, 1]])) as ReturnType<typeof tf.tensor2d>
  assert.deepEqual(y.arraySync(), [[1.5, 1], [9.5, 11]])
})

test('loading a missing or broken model.json says which file', async () => {
  await assert.rejects(tf.loadLayersModel(`file://${dir}/nope/model.json`), /No such file or directory: .*nope\/model.json/)
  const broken = join(dir, 'broken')
  const { mkdirSync } = await import('node:fs')
  mkdirSync(broken)
  writeFileSync(join(broken, 'model.json'), '{"modelTopology": ')
  await assert.rejects(tf.loadLayersModel(`file://${broken}/model.json`), /broken\/model.json is not a valid model.json/)
})

test('a model.json naming weights outside its directory is refused', async () => {
  const { mkdirSync } = await import('node:fs')
  const evil = join(dir, 'evil')
  mkdirSync(evil)
  writeFileSync(join(dir, 'secret.bin'), Buffer.alloc(8))
  const topology = JSON.parse(readFileSync(join(dir, 'layers', 'model.json'), 'utf8'))
  topology.weightsManifest[0].paths = ['../secret.bin']
  writeFileSync(join(evil, 'model.json'), JSON.stringify(topology))
  await assert.rejects(tf.loadLayersModel(`file://${evil}/model.json`), /weight file "\.\.\/secret\.bin" is outside the model directory/)
})
