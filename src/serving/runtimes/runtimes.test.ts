// The model runtimes on real models: TF.js Layers models saved by TF.js, a Graph model in the
// converter's JSON format, ONNX models written by the `onnx` Python package with numpy's outputs
// as the reference; loading errors; concurrent predictions.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it, type TestContext } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { tf, ready } from '../../backend/index.js'
import { MaltError } from '../../errors.js'
import { rejectsWith } from '../../../test/helpers/errors.js'
import { requireToolsPython } from '../../../test/helpers/python-tools.js'
import { useTempDir } from '../../../test/helpers/temp-dir.js'
import { GRAPH_WEIGHTS, saveSequentialModel, saveTwoHeadModel, writeGraphModel, writeOnnxModels, type OnnxModelName, type OnnxReference } from '../../../test/serving/fixtures/runtime-models.js'
import type { DataType, LoadedModel, Tensor, TensorData } from '../types.js'
import { ServingError } from '../types.js'
import { defaultRuntimes, loadModelVersion, onnxRuntime, tfjsRuntime } from './index.js'

const temp = useTempDir()
let dirs = 0

/** A fresh, empty version directory. */
function versionDir(): string {
  const dir = temp.join(`v${++dirs}`)
  mkdirSync(dir)
  return dir
}

function tensor(name: string, datatype: DataType, shape: number[], data: TensorData): Tensor {
  return { name, datatype, shape, data }
}

function inputs(...tensors: Tensor[]): Map<string, Tensor> {
  return new Map(tensors.map((t) => [t.name, t]))
}

function output(outputs: Map<string, Tensor>, name: string): Tensor {
  const found = outputs.get(name)
  assert.ok(found, `output ${name} missing; got ${[...outputs.keys()].join(', ')}`)
  return found
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`)
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: ${actual[i]} vs expected ${expected[i]} (tolerance ${tolerance})`)
  }
}

/** Deterministic inputs: `rows × columns` values in [-2, 2). */
function values(rows: number, columns: number, seed = 1): Float32Array {
  return Float32Array.from({ length: rows * columns }, (_, i) => (((i + 1) * 7919 * seed) % 400) / 100 - 2)
}

/** `model.predict` of TF.js itself, the reference for the Layers runtime. */
async function reference(model: ReturnType<typeof tf.sequential> | Awaited<ReturnType<typeof saveTwoHeadModel>>, feeds: Tensor[]): Promise<Float32Array[]> {
  const xs = feeds.map((feed) => tf.tensor(feed.data as Float32Array, feed.shape))
  const result = model.predict(xs.length === 1 ? xs[0] : xs)
  const results = Array.isArray(result) ? result : [result]
  const data = await Promise.all(results.map(async (r) => (await r.data()) as Float32Array))
  tf.dispose([...xs, ...results])
  return data
}

describe('TF.js Layers models', () => {
  it('serve a Sequential model with its metadata and the predictions of model.predict', async () => {
    const dir = versionDir()
    const model = await saveSequentialModel(dir)
    const loaded = await loadModelVersion(dir)
    try {
      assert.equal(loaded.platform, 'tensorflowjs_layers')
      assert.deepEqual(loaded.inputs, [{ name: 'hidden_input', datatype: 'FP32', shape: [-1, 4] }])
      assert.deepEqual(loaded.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }])
      const features = tensor('hidden_input', 'FP32', [5, 4], values(5, 4))
      const outputs = await loaded.predict(inputs(features))
      const probabilities = output(outputs, 'probabilities')
      assert.equal(probabilities.datatype, 'FP32')
      assert.deepEqual(probabilities.shape, [5, 3])
      const [expected] = await reference(model, [features])
      assertClose(probabilities.data as Float32Array, expected, 1e-6, 'probabilities')
      // Softmax rows sum to 1: the values are probabilities, not something equal by accident.
      for (let row = 0; row < 5; row++) assertClose([[0, 1, 2].reduce((sum, j) => sum + (probabilities.data as Float32Array)[row * 3 + j], 0)], [1], 1e-5, `row ${row} sum`)
    } finally {
      await loaded.dispose()
      model.dispose()
    }
  })

  it('serve a functional model with two inputs and two outputs', async () => {
    const dir = versionDir()
    const model = await saveTwoHeadModel(dir)
    const loaded = await loadModelVersion(dir)
    try {
      assert.deepEqual(loaded.inputs, [
        { name: 'numbers', datatype: 'FP32', shape: [-1, 3] },
        { name: 'flags', datatype: 'FP32', shape: [-1, 2] },
      ])
      assert.deepEqual(loaded.outputs, [
        { name: 'label', datatype: 'FP32', shape: [-1, 2] },
        { name: 'amount', datatype: 'FP32', shape: [-1, 1] },
      ])
      const feeds = [tensor('numbers', 'FP32', [4, 3], values(4, 3)), tensor('flags', 'FP32', [4, 2], values(4, 2, 3))]
      // Given in the opposite order: the runtime feeds by name, not by position in the map.
      const outputs = await loaded.predict(inputs(feeds[1], feeds[0]))
      const [label, amount] = await reference(model, feeds)
      assert.deepEqual(output(outputs, 'label').shape, [4, 2])
      assert.deepEqual(output(outputs, 'amount').shape, [4, 1])
      assertClose(output(outputs, 'label').data as Float32Array, label, 1e-6, 'label')
      assertClose(output(outputs, 'amount').data as Float32Array, amount, 1e-6, 'amount')
    } finally {
      await loaded.dispose()
      model.dispose()
    }
  })
})

describe('TF.js Graph models', () => {
  it('serve a hand-written graph: MatMul → BiasAdd → Relu → Softmax, and the Relu as a second output', async () => {
    const dir = versionDir()
    writeGraphModel(dir)
    const loaded = await loadModelVersion(dir)
    try {
      assert.equal(loaded.platform, 'tensorflowjs_graph')
      assert.deepEqual(loaded.inputs, [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }])
      assert.deepEqual(
        loaded.outputs.map(({ name, datatype }) => ({ name, datatype })),
        [
          { name: 'Softmax', datatype: 'FP32' },
          { name: 'hidden', datatype: 'FP32' },
        ],
      )
      const x = [1, 2, 3, -1, 0.5, 0, 0.2, -0.4, 0.1]
      const outputs = await loaded.predict(inputs(tensor('x', 'FP32', [3, 3], Float32Array.from(x))))
      const { weights: w, bias } = GRAPH_WEIGHTS
      const hidden: number[] = []
      const softmax: number[] = []
      for (let row = 0; row < 3; row++) {
        const units = [0, 1].map((j) => Math.max(0, bias[j] + [0, 1, 2].reduce((sum, k) => sum + x[row * 3 + k] * w[k * 2 + j], 0)))
        const exp = units.map(Math.exp)
        hidden.push(...units)
        softmax.push(...exp.map((e) => e / (exp[0] + exp[1])))
      }
      // Row 3's pre-activations are negative: the Relu really clips.
      assert.deepEqual(hidden.slice(4), [0, 0])
      assert.deepEqual(output(outputs, 'hidden').shape, [3, 2])
      assertClose(output(outputs, 'hidden').data as Float32Array, hidden, 1e-6, 'hidden')
      assertClose(output(outputs, 'Softmax').data as Float32Array, softmax, 1e-6, 'Softmax')
    } finally {
      await loaded.dispose()
    }
  })
})

let onnxModels: Record<OnnxModelName, OnnxReference> | undefined

/** An ONNX test model's directory and numpy's reference, or undefined when the tools venv lacks `onnx` (test skipped). */
function onnxModel(t: TestContext, name: OnnxModelName): { dir: string; reference: OnnxReference } | undefined {
  const python = requireToolsPython(t, 'onnx')
  if (!python) return undefined
  onnxModels ??= writeOnnxModels(python, temp.join('onnx'))
  return { dir: join(temp.path, 'onnx', name), reference: onnxModels[name] }
}

const flat = (nested: unknown[]): number[] => nested.flat(Infinity) as number[]

describe('ONNX models', () => {
  it('serve an MLP (Gemm, Relu, Gemm, Softmax) with its metadata and numpy\'s outputs', async (t) => {
    const model = onnxModel(t, 'mlp')
    if (!model) return
    const loaded = await loadModelVersion(model.dir)
    try {
      assert.equal(loaded.platform, 'onnxruntime_onnx')
      assert.deepEqual(loaded.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }])
      assert.deepEqual(loaded.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }])
      const features = flat(model.reference.inputs.features)
      const outputs = await loaded.predict(inputs(tensor('features', 'FP32', [5, 4], Float32Array.from(features))))
      const probabilities = output(outputs, 'probabilities')
      assert.equal(probabilities.datatype, 'FP32')
      assert.deepEqual(probabilities.shape, [5, 3])
      assert.ok(probabilities.data instanceof Float32Array)
      assertClose(probabilities.data, flat(model.reference.outputs.probabilities), 1e-5, 'probabilities')
    } finally {
      await loaded.dispose()
    }
  })

  it('serve INT64 inputs and outputs exactly (beyond int32), with BOOL and FP64 outputs', async (t) => {
    const model = onnxModel(t, 'int64')
    if (!model) return
    const loaded = await onnxRuntime.load(model.dir)
    try {
      assert.deepEqual(loaded.inputs, [{ name: 'ids', datatype: 'INT64', shape: [-1, 3] }])
      assert.deepEqual(loaded.outputs, [
        { name: 'doubled', datatype: 'INT64', shape: [-1, 3] },
        { name: 'positive', datatype: 'BOOL', shape: [-1, 3] },
        { name: 'score', datatype: 'FP64', shape: [-1, 1] },
      ])
      const ids = flat(model.reference.inputs.ids)
      const expected = model.reference.outputs
      const check = (outputs: Map<string, Tensor>, what: string) => {
        assert.deepEqual(output(outputs, 'doubled').data, BigInt64Array.from(flat(expected.doubled), BigInt), `${what}: doubled`)
        assert.deepEqual(output(outputs, 'positive').data, flat(expected.positive), `${what}: positive`)
        assert.ok(output(outputs, 'score').data instanceof Float64Array, `${what}: score is FP64`)
        assertClose(output(outputs, 'score').data as Float64Array, flat(expected.score), 1e-5, `${what}: score`)
      }
      check(await loaded.predict(inputs(tensor('ids', 'INT64', [3, 3], BigInt64Array.from(ids, BigInt)))), 'BigInt64Array')
      // JSON numbers decoded as float64 are converted (3e9 is exact in a double).
      check(await loaded.predict(inputs(tensor('ids', 'INT64', [3, 3], Float64Array.from(ids)))), 'Float64Array')
      const small = await loaded.predict(inputs(tensor('ids', 'INT32', [1, 3], Int32Array.from([4, -5, 0]))))
      assert.deepEqual(output(small, 'doubled').data, BigInt64Array.from([8n, -10n, 0n]))
      const fraction = loaded.predict(inputs(tensor('ids', 'FP64', [1, 3], Float64Array.from([1, 1.5, 2]))))
      const error = await rejectsWith(fraction, 'SERVING_BAD_VALUE', ['"ids"', 'INT64', 'element 1', '1.5'])
      assert.ok(error instanceof ServingError && error.status === 400)
    } finally {
      await loaded.dispose()
    }
  })

  it('serve FP16 tensors as float32 on the wire, rounded as numpy rounds halves', async (t) => {
    const model = onnxModel(t, 'fp16')
    if (!model) return
    const loaded = await onnxRuntime.load(model.dir)
    try {
      assert.deepEqual(loaded.inputs, [{ name: 'half', datatype: 'FP16', shape: [-1, 2] }])
      const outputs = await loaded.predict(inputs(tensor('half', 'FP16', [3, 2], Float32Array.from(flat(model.reference.inputs.half)))))
      const scaled = output(outputs, 'scaled')
      assert.equal(scaled.datatype, 'FP16')
      assert.deepEqual(scaled.data, Float32Array.from(flat(model.reference.outputs.scaled)))
    } finally {
      await loaded.dispose()
    }
  })

  it('refuse a prediction after dispose with a 503', async (t) => {
    const model = onnxModel(t, 'mlp')
    if (!model) return
    const loaded = await onnxRuntime.load(model.dir)
    await loaded.dispose()
    const error = await rejectsWith(loaded.predict(inputs(tensor('features', 'FP32', [1, 4], new Float32Array(4)))), 'SERVING_MODEL_UNLOADED', ['model.onnx'])
    assert.ok(error instanceof ServingError && error.status === 503)
  })
})

describe('loading errors', () => {
  it('name the directory and the files looked for when there is no model', async () => {
    const dir = versionDir()
    writeFileSync(join(dir, 'saved_model.pb'), 'not ours')
    const error = await rejectsWith(loadModelVersion(dir), 'MODEL_NOT_FOUND', [dir, 'model.json', 'model.onnx', 'saved_model.pb'])
    assert.equal(error.location?.file, dir)
    await rejectsWith(loadModelVersion(join(dir, 'missing')), 'MODEL_NOT_FOUND', ['does not exist'])
    // Only the runtimes given are asked: an ONNX-only list ignores model.json.
    writeGraphModel(dir)
    await rejectsWith(loadModelVersion(dir, [onnxRuntime]), 'MODEL_NOT_FOUND', ['model.onnx'])
    assert.deepEqual(defaultRuntimes, [tfjsRuntime, onnxRuntime])
  })

  it('name model.json when it is not valid JSON or not a model', async () => {
    const truncated = versionDir()
    writeFileSync(join(truncated, 'model.json'), '{"format": "layers-model", "modelTop')
    await rejectsWith(loadModelVersion(truncated), 'MODEL_BAD_JSON', [join(truncated, 'model.json')])
    const notModel = versionDir()
    writeFileSync(join(notModel, 'model.json'), '{"format": "layers-model"}')
    const error = await loadModelVersion(notModel).then(() => undefined, (e: unknown) => e)
    assert.ok(error instanceof MaltError, `expected a MaltError, got ${String(error)}`)
    assert.ok(error.message.includes(join(notModel, 'model.json')) || error.message.includes(notModel), error.message)
  })

  it('name the missing weight shard of a Layers model', async () => {
    const dir = versionDir()
    const model = await saveSequentialModel(dir)
    model.dispose()
    rmSync(join(dir, 'weights.bin'))
    const error = await loadModelVersion(dir).then(() => undefined, (e: unknown) => e)
    assert.ok(error instanceof MaltError, `expected a MaltError, got ${String(error)}`)
    assert.ok(error.message.includes(join(dir, 'weights.bin')), error.message)
  })

  it('say how to install onnxruntime-node when it is missing', () => {
    // A child process whose module resolution cannot find onnxruntime-node, as on an install without it.
    const hook = temp.file('no-onnxruntime.mjs', [
      "export async function resolve(specifier, context, next) {",
      "  if (specifier !== 'onnxruntime-node') return next(specifier, context)",
      "  throw Object.assign(new Error(\"Cannot find package 'onnxruntime-node'\"), { code: 'ERR_MODULE_NOT_FOUND' })",
      '}',
    ].join('\n'))
    const register = temp.file('register-hook.mjs', `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hook).href)})\n`)
    const dir = versionDir()
    writeFileSync(join(dir, 'model.onnx'), 'never read')
    const script = [
      `const { loadModelVersion } = await import(${JSON.stringify(fileURLToPath(new URL('./index.ts', import.meta.url)))})`,
      `const error = await loadModelVersion(${JSON.stringify(dir)}).then(() => undefined, (e) => e)`,
      'console.log(JSON.stringify({ name: error?.name, code: error?.code, message: error?.message }))',
    ].join('\n')
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--import', register, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 })
    assert.equal(child.status, 0, child.stderr)
    const error = JSON.parse(child.stdout) as { name: string; code: string; message: string }
    assert.equal(error.name, 'MaltError')
    assert.equal(error.code, 'ONNX_RUNTIME_MISSING')
    for (const part of [join(dir, 'model.onnx'), 'not installed', 'npm install onnxruntime-node']) assert.ok(error.message.includes(part), `"${error.message}" should include "${part}"`)
  })

  it('name model.onnx when ONNX Runtime cannot parse it', async () => {
    const dir = versionDir()
    writeFileSync(join(dir, 'model.onnx'), 'this is not a protobuf')
    const error = await rejectsWith(loadModelVersion(dir), 'MODEL_BAD_ONNX', [join(dir, 'model.onnx')])
    assert.equal(error.location?.file, join(dir, 'model.onnx'))
  })
})

describe('concurrent predictions', () => {
  async function sameAsSequential(model: LoadedModel, make: (i: number) => Map<string, Tensor>): Promise<void> {
    const sequential: Map<string, Tensor>[] = []
    for (let i = 0; i < 20; i++) sequential.push(await model.predict(make(i)))
    const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => model.predict(make(i))))
    for (let i = 0; i < 20; i++) {
      for (const [name, expected] of sequential[i]) assert.deepEqual(output(concurrent[i], name), expected, `call ${i}, output ${name}`)
    }
    // Different inputs gave different outputs: a mix-up between calls would show.
    assert.notDeepEqual(sequential[0], sequential[1])
  }

  it('give a TF.js Layers model\'s 20 concurrent calls the results of sequential ones', async () => {
    await ready()
    const dir = versionDir()
    ;(await saveSequentialModel(dir)).dispose()
    const loaded = await loadModelVersion(dir)
    try {
      const name = loaded.inputs[0].name
      await sameAsSequential(loaded, (i) => inputs(tensor(name, 'FP32', [1 + (i % 3), 4], values(1 + (i % 3), 4, i + 1))))
    } finally {
      await loaded.dispose()
    }
  })

  it('give an ONNX model\'s 20 concurrent calls the results of sequential ones', async (t) => {
    const model = onnxModel(t, 'mlp')
    if (!model) return
    const loaded = await loadModelVersion(model.dir)
    try {
      await sameAsSequential(loaded, (i) => inputs(tensor('features', 'FP32', [1 + (i % 3), 4], values(1 + (i % 3), 4, i + 1))))
    } finally {
      await loaded.dispose()
    }
  })
})
