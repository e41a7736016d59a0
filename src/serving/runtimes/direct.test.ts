// Direct execution of served Layers models (direct.ts): models saved by TF.js, loaded through the
// tfjs runtime, answer as the TF.js path does (MALT_SERVING_DIRECT=0) to 1e-5 relative at batch 1
// and 64, and models or setups the plan does not cover fall back to TF.js and still answer right.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type * as tfjs from '@tensorflow/tfjs'
import { ready, tf } from '../../backend/index.js'
import { relativeError, requireNativeBackend, seededValues } from '../../../test/helpers/native.js'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import type { LoadedModel, Tensor } from '../types.js'
import { tfjsRuntime } from './tfjs.js'

const temp = useTempDir()
const TOLERANCE = 1e-5
let dirs = 0

type Served = LoadedModel & { readonly execution: 'direct' | 'tfjs' }

const glorot = (seed: number) => tf.initializers.glorotUniform({ seed })
const normal = (seed: number) => tf.initializers.randomNormal({ seed, stddev: 0.5 })

/** Saves `model` into a fresh version directory and returns the directory. */
async function save(model: tfjs.LayersModel): Promise<string> {
  await ready()
  const dir = temp.join(`v${++dirs}`)
  mkdirSync(dir)
  await model.save(`file://${dir}`)
  return dir
}

/** Loads `dir` through the tfjs runtime, with MALT_SERVING_DIRECT set as given for the load. */
async function load(dir: string, direct?: '0'): Promise<Served> {
  const previous = process.env.MALT_SERVING_DIRECT
  if (direct === undefined) delete process.env.MALT_SERVING_DIRECT
  else process.env.MALT_SERVING_DIRECT = direct
  try {
    return (await tfjsRuntime.load(dir)) as Served
  } finally {
    if (previous === undefined) delete process.env.MALT_SERVING_DIRECT
    else process.env.MALT_SERVING_DIRECT = previous
  }
}

/** Seeded FP32 input of `rows` rows for the model's only input. */
function inputOf(model: LoadedModel, rows: number, seed: number): Map<string, Tensor> {
  const [spec] = model.inputs
  const shape = [rows, ...spec.shape.slice(1)]
  const data = seededValues(shape.reduce((a, b) => a * b, 1), seed, -2, 2)
  return new Map([[spec.name, { name: spec.name, datatype: 'FP32', shape, data }]])
}

/** The only output of a prediction. */
function only(outputs: Map<string, Tensor>): Tensor {
  assert.equal(outputs.size, 1)
  return [...outputs.values()][0]
}

/** Predicts on both models at batch 1 and 64 and asserts equal shapes, FP32 and values within TOLERANCE. */
async function assertSameAnswers(actual: LoadedModel, expected: LoadedModel, label: string): Promise<void> {
  for (const rows of [1, 64]) {
    const feeds = inputOf(actual, rows, rows + 3)
    const got = only(await actual.predict(feeds))
    const want = only(await expected.predict(feeds))
    assert.equal(got.name, want.name, `${label}: output name`)
    assert.equal(got.datatype, 'FP32', `${label}: datatype`)
    assert.deepEqual(got.shape, want.shape, `${label}, batch ${rows}: shape`)
    assert.equal(got.shape[0], rows)
    const error = relativeError(got.data as Float32Array, want.data as Float32Array)
    assert.ok(error <= TOLERANCE, `${label}, batch ${rows}: relative error ${error.toExponential(2)} > ${TOLERANCE}`)
  }
}

/** Saves `model`, asserts it runs directly and answers as the TF.js path does. */
async function assertDirectMatches(model: tfjs.LayersModel, label: string): Promise<void> {
  const dir = await save(model)
  const direct = await load(dir)
  const reference = await load(dir, '0')
  try {
    assert.equal(direct.execution, 'direct', `${label}: expected the direct plan`)
    assert.equal(reference.execution, 'tfjs', `${label}: MALT_SERVING_DIRECT=0 must keep TF.js`)
    await assertSameAnswers(direct, reference, label)
  } finally {
    await direct.dispose()
    await reference.dispose()
    model.dispose()
  }
}

/** Saves `model`, asserts it falls back to TF.js and answers as `model.predict` does. */
async function assertFallsBack(model: tfjs.LayersModel, label: string): Promise<void> {
  const dir = await save(model)
  const served = await load(dir)
  try {
    assert.equal(served.execution, 'tfjs', `${label}: expected the TF.js fallback`)
    for (const rows of [1, 64]) {
      const feeds = inputOf(served, rows, 11)
      const got = only(await served.predict(feeds))
      const [feed] = feeds.values()
      const want = tf.tidy(() => (model.predict(tf.tensor(feed.data as Float32Array, feed.shape)) as tfjs.Tensor).dataSync() as Float32Array)
      assert.ok(relativeError(got.data as Float32Array, want) <= TOLERANCE, `${label}, batch ${rows}`)
    }
  } finally {
    await served.dispose()
    model.dispose()
  }
}

/** The Fashion-MNIST CNN of the native-backend note (bench/lib/models.ts buildCnn). */
function referenceCnn(): tfjs.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: glorot(1), biasInitializer: normal(11) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: glorot(2), biasInitializer: normal(12) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: glorot(3), biasInitializer: normal(13) }),
    ],
  })
}

describe('direct execution of Layers models', () => {
  it('needs the native backend (the checks below compare it with TF.js)', async () => {
    await requireNativeBackend()
  })

  for (const activation of ['linear', 'relu', 'sigmoid', 'tanh', 'softmax', 'relu6', 'elu'] as const) {
    it(`runs an MLP with ${activation} activations directly, as TF.js answers`, async () => {
      const model = tf.sequential({
        layers: [
          tf.layers.dense({ inputShape: [20], units: 32, activation, kernelInitializer: glorot(1), biasInitializer: normal(2) }),
          tf.layers.dense({ units: 16, activation, kernelInitializer: glorot(3), biasInitializer: normal(4) }),
          tf.layers.dense({ units: 5, activation, kernelInitializer: glorot(5), biasInitializer: normal(6) }),
        ],
      })
      await assertDirectMatches(model, `MLP ${activation}`)
    })
  }

  it('runs the 784→256→128→10 MLP and Dense layers without bias', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu', kernelInitializer: glorot(1), useBias: false }),
        tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: glorot(2), biasInitializer: normal(3) }),
        tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: glorot(4), useBias: false }),
      ],
    })
    await assertDirectMatches(model, 'MLP without bias')
  })

  it('runs the CNN of the native-backend note', async () => {
    await assertDirectMatches(referenceCnn(), 'CNN')
  })

  it('runs convolutions with same padding, strides, no bias and non-fused activations, and average pooling', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [15, 13, 3], filters: 8, kernelSize: [3, 5], strides: 2, padding: 'same', activation: 'tanh', kernelInitializer: glorot(1), biasInitializer: normal(2) }),
        tf.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
        tf.layers.conv2d({ filters: 6, kernelSize: 2, useBias: false, activation: 'sigmoid', kernelInitializer: glorot(3) }),
        tf.layers.maxPooling2d({ poolSize: [2, 3], strides: [1, 2], padding: 'valid' }),
        tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'softmax', kernelInitializer: glorot(4) }),
        tf.layers.flatten(),
      ],
    })
    await assertDirectMatches(model, 'conv variants')
  })

  it('treats Dropout and noise layers as identities and applies Activation, Reshape and BatchNormalization (moving statistics)', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.reshape({ inputShape: [24], targetShape: [4, 6] }),
        tf.layers.dense({ units: 8, kernelInitializer: glorot(1), biasInitializer: normal(2) }),
        tf.layers.batchNormalization({}),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.flatten(),
        tf.layers.gaussianNoise({ stddev: 1 }),
        tf.layers.dense({ units: 6, kernelInitializer: glorot(3) }),
        tf.layers.batchNormalization({ center: false, epsilon: 0.01 }),
        tf.layers.activation({ activation: 'softmax' }),
      ],
    })
    // Moving statistics and scale/offset far from their initial 0/1, so a mix-up would show.
    for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
      layer.setWeights(layer.getWeights().map((w, i) => tf.add(tf.mul(tf.randomUniform(w.shape, 0, 1, 'float32', 40 + i), 2), i === 0 ? 0.5 : 0.1)))
    }
    await assertDirectMatches(model, 'identities, activations, batch norm')
  })

  it('returns fresh output arrays, takes input views and serves any batch size', async () => {
    const dir = await save(referenceCnn())
    const served = await load(dir)
    const reference = await load(dir, '0')
    try {
      assert.equal(served.execution, 'direct')
      const first = only(await served.predict(inputOf(served, 2, 1)))
      const kept = Float32Array.from(first.data as Float32Array)
      await served.predict(inputOf(served, 2, 2))
      assert.deepEqual(first.data, kept, 'a later call changed an earlier output')
      // An input that is a view into a larger buffer, as a protocol or the batcher may hand over.
      const [spec] = served.inputs
      const values = seededValues(3 * 784 + 16, 5)
      const view = new Float32Array(values.buffer, 16 * 4, 3 * 784)
      const feeds = new Map([[spec.name, { name: spec.name, datatype: 'FP32' as const, shape: [3, 28, 28, 1], data: view }]])
      assert.ok(relativeError(only(await served.predict(feeds)).data as Float32Array, only(await reference.predict(feeds)).data as Float32Array) <= TOLERANCE)
      for (const rows of [5, 1, 33, 64, 7]) {
        const got = only(await served.predict(inputOf(served, rows, rows)))
        const want = only(await reference.predict(inputOf(served, rows, rows)))
        assert.deepEqual(got.shape, [rows, 10])
        assert.ok(relativeError(got.data as Float32Array, want.data as Float32Array) <= TOLERANCE, `batch ${rows}`)
      }
    } finally {
      await served.dispose()
      await reference.dispose()
    }
  })

  it('leaves inputs it does not cover to TF.js, which rejects a wrong shape as before', async () => {
    const dir = await save(referenceCnn())
    const served = await load(dir)
    try {
      assert.equal(served.execution, 'direct')
      const [spec] = served.inputs
      const wrong = new Map([[spec.name, { name: spec.name, datatype: 'FP32' as const, shape: [1, 27, 28, 1], data: new Float32Array(27 * 28) }]])
      await assert.rejects(served.predict(wrong))
      assert.equal(served.execution, 'direct', 'a bad request must not turn the plan off')
    } finally {
      await served.dispose()
    }
  })

  it('falls back to TF.js for an LSTM', async () => {
    await assertFallsBack(tf.sequential({ layers: [tf.layers.lstm({ inputShape: [5, 3], units: 4, kernelInitializer: glorot(1), recurrentInitializer: glorot(2) })] }), 'LSTM')
  })

  it('falls back to TF.js for a dilated convolution', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 4, kernelSize: 3, dilationRate: 2, activation: 'relu', kernelInitializer: glorot(1) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, kernelInitializer: glorot(2) }),
      ],
    })
    await assertFallsBack(model, 'dilated Conv2D')
  })

  it('falls back to TF.js for a functional model with two branches', async () => {
    const input = tf.input({ shape: [6] })
    const left = tf.layers.dense({ units: 4, activation: 'relu', kernelInitializer: glorot(1) }).apply(input) as tfjs.SymbolicTensor
    const right = tf.layers.dense({ units: 4, activation: 'tanh', kernelInitializer: glorot(2) }).apply(input) as tfjs.SymbolicTensor
    const joined = tf.layers.add().apply([left, right]) as tfjs.SymbolicTensor
    const output = tf.layers.dense({ units: 2, kernelInitializer: glorot(3) }).apply(joined) as tfjs.SymbolicTensor
    await assertFallsBack(tf.model({ inputs: input, outputs: output }), 'two branches')
  })

  it('runs a single-branch functional model directly', async () => {
    const input = tf.input({ shape: [6] })
    const hidden = tf.layers.dense({ units: 4, activation: 'relu', kernelInitializer: glorot(1) }).apply(input) as tfjs.SymbolicTensor
    const output = tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: glorot(2) }).apply(hidden) as tfjs.SymbolicTensor
    await assertDirectMatches(tf.model({ inputs: input, outputs: output }), 'functional chain')
  })

  it('falls back to TF.js when the native addon is not loaded', async () => {
    const model = referenceCnn()
    const dir = await save(model)
    const feed = seededValues(2 * 784, 9)
    const expected = tf.tidy(() => (model.predict(tf.tensor(feed, [2, 28, 28, 1])) as tfjs.Tensor).dataSync() as Float32Array)
    model.dispose()
    const script = [
      `const { tfjsRuntime } = await import(${JSON.stringify(fileURLToPath(new URL('./tfjs.ts', import.meta.url)))})`,
      `const { tf } = await import(${JSON.stringify(fileURLToPath(new URL('../../backend/index.ts', import.meta.url)))})`,
      `const served = await tfjsRuntime.load(${JSON.stringify(dir)})`,
      'const [spec] = served.inputs',
      `const data = new Float32Array(${JSON.stringify(Array.from(feed))})`,
      'const outputs = await served.predict(new Map([[spec.name, { name: spec.name, datatype: "FP32", shape: [2, 28, 28, 1], data }]]))',
      'console.log(JSON.stringify({ backend: tf.getBackend(), execution: served.execution, output: Array.from([...outputs.values()][0].data) }))',
    ].join('\n')
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, MALT_NATIVE_ADDON: '/nonexistent/malt_native.node', MALT_SERVING_DIRECT: '' },
    })
    assert.equal(child.status, 0, child.stderr)
    const result = JSON.parse(child.stdout) as { backend: string; execution: string; output: number[] }
    assert.equal(result.backend, 'cpu')
    assert.equal(result.execution, 'tfjs')
    assert.ok(relativeError(result.output, expected) <= 1e-4, 'CPU backend answer')
  })
})
