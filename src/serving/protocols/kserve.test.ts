// The Open Inference Protocol (KServe v2) REST codec from the spec's side
// (specification/protocol/inference_rest.md): request tensors, their datatypes, shapes and data
// (flat or nested), requested outputs, ids, parameters, the response and the metadata documents.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeInferRequest, encodeInferResponse, modelMetadataResponse, serverMetadataResponse, type ModelSignature } from './kserve.js'
import { ServingError, type DataType, type Tensor, type TensorSpec } from '../types.js'
import { throwsBadRequest } from '../../../test/helpers/errors.js'

const spec = (name: string, datatype: DataType, shape: number[]): TensorSpec => ({ name, datatype, shape })
/** The spec's example model: input0 UINT32 [2, 2] and input1 BOOL, output0 FP32 [3, 2]. */
const example: ModelSignature = {
  inputs: [spec('input0', 'UINT32', [-1, 2]), spec('input1', 'BOOL', [-1])],
  outputs: [spec('output0', 'FP32', [-1, 2]), spec('output1', 'INT32', [-1])],
}
const mnist: ModelSignature = { inputs: [spec('pixels', 'FP32', [-1, 28, 28])], outputs: [spec('probs', 'FP32', [-1, 10])] }
const pair: ModelSignature = { inputs: [spec('x', 'FP32', [-1, 2])], outputs: [spec('y', 'FP32', [-1])] }

const input = (name: string, datatype: string, shape: unknown, data: unknown): Record<string, unknown> => ({ name, shape, datatype, data })

test('the spec\'s request example: its BOOL input (shape [3], one value) is refused; corrected, it decodes', () => {
  const request = {
    id: '42',
    inputs: [input('input0', 'UINT32', [2, 2], [1, 2, 3, 4]), input('input1', 'BOOL', [3], [true])],
    outputs: [{ name: 'output0' }],
  }
  throwsBadRequest(() => decodeInferRequest(request, example), 'SERVING_BAD_SHAPE', /inputs\[1\] \("input1"\): shape \[3\] holds 3 elements, data has 1/)
  request.inputs[1] = input('input1', 'BOOL', [2], [true, false])
  const decoded = decodeInferRequest(request, example)
  assert.equal(decoded.id, '42')
  assert.equal(decoded.batchSize, 2)
  assert.deepEqual(decoded.requestedOutputs, ['output0'])
  assert.deepEqual(decoded.inputs.get('input0'), { name: 'input0', datatype: 'UINT32', shape: [2, 2], data: new Uint32Array([1, 2, 3, 4]) })
  assert.deepEqual(decoded.inputs.get('input1'), { name: 'input1', datatype: 'BOOL', shape: [2], data: [true, false] })
})

test('data may be flat or in its natural nesting (Tensor Data), and both give the same tensor', () => {
  const flat = decodeInferRequest({ inputs: [input('x', 'FP32', [2, 2], [1, 2, 4, 5])] }, pair)
  const nested = decodeInferRequest({ inputs: [input('x', 'FP32', [2, 2], [[1, 2], [4, 5]])] }, pair)
  assert.deepEqual(flat.inputs, nested.inputs)
  assert.deepEqual(flat.inputs.get('x')?.data, new Float32Array([1, 2, 4, 5]))
  assert.equal(flat.id, undefined)
  assert.equal(flat.requestedOutputs, undefined)
})

test('nested data must agree with the shape at every level', () => {
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', [2, 2], [[1, 2], [4]])] }, pair), 'SERVING_BAD_SHAPE', /input "x": inputs\[0\]\.data\[1\]: expected 2 values, got 1/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', [2, 2], [[1, 2]])] }, pair), 'SERVING_BAD_SHAPE', /inputs\[0\]\.data: expected 2 values, got 1/)
  const images = [Array.from({ length: 28 }, () => new Array<number>(28).fill(0))]
  images[0][5] = images[0][5].slice(1)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('pixels', 'FP32', [1, 28, 28], images)] }, mnist), 'SERVING_BAD_SHAPE', /inputs\[0\]\.data\[0\]\[5\]: expected 28 values, got 27/)
  // Half-nested (rows of 4 for a [2, 2, 2] shape) is neither natural nor flat.
  const cube: ModelSignature = { inputs: [spec('c', 'FP32', [-1, 2, 2])], outputs: [] }
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('c', 'FP32', [2, 2, 2], [[1, 2, 3, 4], [5, 6, 7, 8]])] }, cube), 'SERVING_BAD_SHAPE', /data\[0\]: expected 2 values, got 4/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', [1, 2], [1, [2]])] }, pair), 'SERVING_BAD_VALUE', /inputs\[0\]\.data\[1\]: expected a number \(FP32\), got a list/)
})

test('shape: non-negative integers whose product is the element count, fitting the model\'s shape', () => {
  for (const shape of [[-1, 2], [1.5, 2], ['2', 2], 'x', [2, 2 ** 64]]) {
    throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', shape, [1, 2])] }, pair), 'SERVING_BAD_SHAPE', /\.shape: expected a list of non-negative integers/)
  }
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', [2, 2], [1, 2, 3])] }, pair), 'SERVING_BAD_SHAPE', /shape \[2, 2\] holds 4 elements, data has 3/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', [1, 3], [1, 2, 3])] }, pair), 'SERVING_BAD_SHAPE', /\.shape: expected \[-1, 2\] \(-1: any size\), got \[1, 3\]/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', [2], [1, 2])] }, pair), 'SERVING_BAD_SHAPE', /expected \[-1, 2\].*got \[2\]/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', [0, 2], [])] }, pair), 'SERVING_BAD_SHAPE', /holds no elements/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP32', [1e9, 2], [1, 2])] }, pair), 'SERVING_BAD_SHAPE', /holds 2000000000 elements, data has 2/)
})

test('datatype: one of the spec\'s Tensor Data Types and the model input\'s own', () => {
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FLOAT32', [1, 2], [1, 2])] }, pair), 'SERVING_BAD_DATATYPE', /expected one of the protocol's data types.*got "FLOAT32"/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'FP16', [1, 2], [1, 2])] }, pair), 'SERVING_BAD_DATATYPE', /the model's input is FP32, got FP16/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('x', 'fp32', [1, 2], [1, 2])] }, pair), 'SERVING_BAD_DATATYPE', /got "fp32"/)
})

test('elements: the JSON type of the datatype, integers in range, no NaN unless allowed', () => {
  const one = (datatype: DataType, data: unknown[], options = {}): unknown =>
    decodeInferRequest({ inputs: [input('n', datatype, [data.length], data)] }, { inputs: [spec('n', datatype, [-1])], outputs: [] }, options).inputs.get('n')?.data
  throwsBadRequest(() => one('FP32', [1, '2']), 'SERVING_BAD_VALUE', /input "n": inputs\[0\]\.data\[1\]: expected a number \(FP32\), got "2"/)
  throwsBadRequest(() => one('UINT8', [256]), 'SERVING_BAD_VALUE', /expected an integer from 0 to 255 \(UINT8\), got 256/)
  throwsBadRequest(() => one('INT32', [2 ** 31]), 'SERVING_BAD_VALUE', /INT32\), got 2147483648/)
  throwsBadRequest(() => one('INT16', [0.5]), 'SERVING_BAD_VALUE', /got 0\.5/)
  throwsBadRequest(() => one('BOOL', [0]), 'SERVING_BAD_VALUE', /expected true or false/)
  throwsBadRequest(() => one('BYTES', [{ b64: 'AAAA' }]), 'SERVING_BAD_VALUE', /expected a string \(BYTES\)/)
  assert.deepEqual(one('BYTES', ['héllo', '']), ['héllo', ''])
  assert.deepEqual(one('INT64', [-(2 ** 62), 7]), new BigInt64Array([-(2n ** 62n), 7n]))
  assert.deepEqual(one('UINT64', [2 ** 64 - 2 ** 11]), new BigUint64Array([2n ** 64n - 2n ** 11n]))
  assert.deepEqual(one('FP64', [0.1]), new Float64Array([0.1]))
  // NaN from TF Serving-style tokens or the strings this codec writes: refused, then allowed.
  throwsBadRequest(() => one('FP32', [1, NaN]), 'SERVING_BAD_VALUE', /data\[1\]: expected a finite number \(FP32\), got NaN/)
  throwsBadRequest(() => one('FP32', ['Infinity']), 'SERVING_BAD_VALUE', /data\[0\]: expected a finite number \(FP32\), got Infinity/)
  const allowed = one('FP32', ['NaN', '-Infinity', Infinity], { allowNonFinite: true }) as Float32Array
  assert.ok(Number.isNaN(allowed[0]))
  assert.deepEqual([...allowed.slice(1)], [-Infinity, Infinity])
  throwsBadRequest(() => one('FP32', ['nan'], { allowNonFinite: true }), 'SERVING_BAD_VALUE', /got "nan"/)
})

test('every model input exactly once; unknown names are 400s', () => {
  const x = input('x', 'FP32', [1, 2], [1, 2])
  throwsBadRequest(() => decodeInferRequest({ inputs: [] }, pair), 'SERVING_BAD_REQUEST', /missing input "x"/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [x, x] }, pair), 'SERVING_BAD_REQUEST', /inputs\[1\]: input "x" is given twice/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [x, input('z', 'FP32', [1], [1])] }, pair), 'SERVING_BAD_REQUEST', /inputs\[1\]: unknown input "z"; the model's inputs are "x"/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [input('input0', 'UINT32', [1, 2], [1, 2])] }, example), 'SERVING_BAD_REQUEST', /missing input "input1"/)
  throwsBadRequest(() => decodeInferRequest({ inputs: x }, pair), 'SERVING_BAD_REQUEST', /"inputs": expected a list of input tensors/)
  throwsBadRequest(() => decodeInferRequest({}, pair), 'SERVING_BAD_REQUEST', /"inputs": expected a list/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [{ shape: [1, 2], datatype: 'FP32', data: [1, 2] }] }, pair), 'SERVING_BAD_REQUEST', /inputs\[0\]\.name: expected a string/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32' }] }, pair), 'SERVING_BAD_REQUEST', /\.data: expected a list of elements, got undefined/)
  throwsBadRequest(() => decodeInferRequest('{}', pair), 'SERVING_BAD_REQUEST', /expected an inference request object/)
})

test('inputs share the first dimension (Malt batches along it)', () => {
  throwsBadRequest(
    () => decodeInferRequest({ inputs: [input('input0', 'UINT32', [2, 2], [1, 2, 3, 4]), input('input1', 'BOOL', [3], [true, true, false])] }, example),
    'SERVING_BAD_SHAPE',
    /inputs\[1\] \("input1"\): 3 rows but inputs\[0\] \("input0"\) has 2/,
  )
})

test('requested outputs must name model outputs, once each; id must be a string; parameters scalars', () => {
  const x = input('x', 'FP32', [1, 2], [1, 2])
  throwsBadRequest(() => decodeInferRequest({ inputs: [x], outputs: [{ name: 'nope' }] }, pair), 'SERVING_BAD_REQUEST', /outputs\[0\]: unknown output "nope"; the model's outputs are "y"/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [x], outputs: [{ name: 'y' }, { name: 'y' }] }, pair), 'SERVING_BAD_REQUEST', /requested twice/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [x], outputs: ['y'] }, pair), 'SERVING_BAD_REQUEST', /outputs\[0\]: expected \{"name": <string>\}/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [x], id: 42 }, pair), 'SERVING_BAD_REQUEST', /"id": expected a string, got 42/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [x], parameters: { deep: { a: 1 } } }, pair), 'SERVING_BAD_REQUEST', /"parameters"\.deep: expected a string, number or boolean/)
  throwsBadRequest(() => decodeInferRequest({ inputs: [{ ...x, parameters: [1] }] }, pair), 'SERVING_BAD_REQUEST', /inputs\[0\] \("x"\)\.parameters: expected an object/)
  const decoded = decodeInferRequest({ inputs: [{ ...x, parameters: { content_type: 'np' } }], parameters: { priority: 1, trace: true }, outputs: [{ name: 'y', parameters: {} }] }, pair)
  assert.deepEqual(decoded.parameters, { priority: 1, trace: true })
  assert.deepEqual(decoded.requestedOutputs, ['y'])
})

test('the response: model name and version, the request\'s id, outputs {name, datatype, shape, data} flat', () => {
  const outputs = new Map<string, Tensor>([
    ['output0', { name: 'output0', datatype: 'FP32', shape: [3, 2], data: new Float32Array([1.0, 1.1, 2.0, 2.1, 3.0, 3.1]) }],
    ['output1', { name: 'output1', datatype: 'INT64', shape: [3], data: new BigInt64Array([1n, 2n ** 60n + 1n, -3n]) }],
  ])
  const text = encodeInferResponse({ modelName: 'mymodel', modelVersion: '1', id: '42', outputs, requestedOutputs: ['output0'] })
  const body = JSON.parse(text) as { model_name: string; model_version: string; id: string; outputs: { name: string; shape: number[]; datatype: string; data: number[] }[] }
  assert.equal(body.model_name, 'mymodel')
  assert.equal(body.model_version, '1')
  assert.equal(body.id, '42')
  assert.equal(body.outputs.length, 1)
  assert.deepEqual({ ...body.outputs[0], data: undefined }, { name: 'output0', shape: [3, 2], datatype: 'FP32', data: undefined })
  // float32 written as the shortest double for its value: it reads back to the same float32.
  assert.deepEqual(new Float32Array(body.outputs[0].data), outputs.get('output0')?.data)
  const all = encodeInferResponse({ modelName: 'm', modelVersion: '2', outputs })
  assert.ok(!('id' in JSON.parse(all)))
  assert.match(all, /"name":"output1","datatype":"INT64","shape":\[3\],"data":\[1,1152921504606846977,-3\]/)
  const ordered = JSON.parse(encodeInferResponse({ modelName: 'm', modelVersion: '2', outputs, requestedOutputs: ['output1', 'output0'] })) as { outputs: { name: string }[] }
  assert.deepEqual(ordered.outputs.map((output) => output.name), ['output1', 'output0'])
})

test('the response stays strict JSON: NaN and ±Infinity become the strings "NaN", "Infinity", "-Infinity"', () => {
  const outputs = new Map<string, Tensor>([['y', { name: 'y', datatype: 'FP32', shape: [4], data: new Float32Array([NaN, 1.5, Infinity, -Infinity]) }]])
  const text = encodeInferResponse({ modelName: 'm', modelVersion: '1', outputs })
  const body = JSON.parse(text) as { outputs: { data: unknown[] }[] }
  assert.deepEqual(body.outputs[0].data, ['NaN', 1.5, 'Infinity', '-Infinity'])
  // And this codec reads its own response data back when non-finite values are allowed.
  const back = decodeInferRequest({ inputs: [input('n', 'FP32', [4], body.outputs[0].data)] }, { inputs: [spec('n', 'FP32', [-1])], outputs: [] }, { allowNonFinite: true })
  assert.deepEqual([...(back.inputs.get('n')?.data as Float32Array)], [NaN, 1.5, Infinity, -Infinity])
})

test('the response writes BOOL and BYTES elements as JSON booleans and strings', () => {
  const outputs = new Map<string, Tensor>([
    ['ok', { name: 'ok', datatype: 'BOOL', shape: [2], data: [true, false] }],
    ['label', { name: 'label', datatype: 'BYTES', shape: [2], data: ['cat "tabby"', 'dög'] }],
  ])
  const body = JSON.parse(encodeInferResponse({ modelName: 'm', modelVersion: '1', outputs })) as { outputs: { data: unknown[] }[] }
  assert.deepEqual(body.outputs.map((output) => output.data), [[true, false], ['cat "tabby"', 'dög']])
  assert.throws(() => encodeInferResponse({ modelName: 'm', modelVersion: '1', outputs, requestedOutputs: ['gone'] }), (error: unknown) => error instanceof ServingError && error.status === 500)
})

test('server and model metadata documents', () => {
  assert.deepEqual(serverMetadataResponse('0.1.0'), { name: 'malt', version: '0.1.0', extensions: [] })
  assert.deepEqual(modelMetadataResponse('mnist', ['1', '2'], 'tensorflowjs_layers', mnist), {
    name: 'mnist',
    versions: ['1', '2'],
    platform: 'tensorflowjs_layers',
    inputs: [{ name: 'pixels', datatype: 'FP32', shape: [-1, 28, 28] }],
    outputs: [{ name: 'probs', datatype: 'FP32', shape: [-1, 10] }],
  })
})
