// TF Serving's REST API from the spec's side (tensorflow_serving/g3doc/api_rest.md): the row and
// columnar request formats with the spec's own examples, every shape and value rule as a 400 that
// says where, the response formats, and the status and metadata documents.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodePredictRequest, encodePredictResponse, modelMetadataResponse, modelStatusResponse, type ModelSignature } from './tfserving.js'
import { parseJsonBody } from './json-body.js'
import { ServingError, type DataType, type Tensor, type TensorSpec } from '../types.js'
import { throwsBadRequest } from '../../../test/helpers/errors.js'

const spec = (name: string, datatype: DataType, shape: number[]): TensorSpec => ({ name, datatype, shape })
const model = (inputs: TensorSpec[], outputs: TensorSpec[] = [spec('y', 'FP32', [-1])]): ModelSignature => ({ inputs, outputs })

/** The spec's three-input example: tag (a string), signal (5 numbers), sensor (2×2). */
const sensors = model([spec('tag', 'BYTES', [-1]), spec('signal', 'FP32', [-1, 5]), spec('sensor', 'FP32', [-1, 2, 2])])
const mnist = model([spec('pixels', 'FP32', [-1, 28, 28])])
const pair = model([spec('x', 'FP32', [-1, 2])])

const image = (rows = 28, cols = 28): number[][] => Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => (r * cols + c) / 1000))

test('row format, one input: each instance is the input\'s value (the spec\'s examples)', () => {
  const strings = decodePredictRequest({ instances: ['foo', 'bar', 'baz'] }, model([spec('s', 'BYTES', [-1])]))
  assert.equal(strings.format, 'row')
  assert.equal(strings.batchSize, 3)
  assert.deepEqual(strings.inputs.get('s'), { name: 's', datatype: 'BYTES', shape: [3], data: ['foo', 'bar', 'baz'] })

  const tensors = decodePredictRequest({ instances: [[[1, 2]], [[3, 4]]] }, model([spec('t', 'FP32', [-1, 1, 2])]))
  assert.deepEqual(tensors.inputs.get('t'), { name: 't', datatype: 'FP32', shape: [2, 1, 2], data: new Float32Array([1, 2, 3, 4]) })

  // half_plus_three from the spec's example: {"instances": [1.0, 2.0, 5.0]}.
  const scalars = decodePredictRequest(parseJsonBody('{"instances": [1.0,2.0,5.0]}', { nonFiniteTokens: true }), model([spec('x', 'FP32', [-1])]))
  assert.deepEqual(scalars.inputs.get('x')?.data, new Float32Array([1, 2, 5]))
})

test('row and columnar forms of the spec\'s three-input example decode to the same tensors', () => {
  const row = decodePredictRequest(
    {
      instances: [
        { tag: 'foo', signal: [1, 2, 3, 4, 5], sensor: [[1, 2], [3, 4]] },
        { tag: 'bar', signal: [3, 4, 1, 2, 5], sensor: [[4, 5], [6, 8]] },
      ],
    },
    sensors,
  )
  const columnar = decodePredictRequest(
    { inputs: { tag: ['foo', 'bar'], signal: [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]], sensor: [[[1, 2], [3, 4]], [[4, 5], [6, 8]]] } },
    sensors,
  )
  assert.equal(row.format, 'row')
  assert.equal(columnar.format, 'columnar')
  assert.equal(row.batchSize, 2)
  assert.equal(columnar.batchSize, 2)
  assert.deepEqual(row.inputs, columnar.inputs)
  assert.deepEqual(row.inputs.get('tag'), { name: 'tag', datatype: 'BYTES', shape: [2], data: ['foo', 'bar'] })
  assert.deepEqual(row.inputs.get('sensor'), { name: 'sensor', datatype: 'FP32', shape: [2, 2, 2], data: new Float32Array([1, 2, 3, 4, 4, 5, 6, 8]) })
})

test('one input may also be named: {"instances": [{"x": …}]} and {"inputs": {"x": …}}', () => {
  const named = decodePredictRequest({ instances: [{ x: [1, 2] }, { x: [3, 4] }] }, pair)
  const value = decodePredictRequest({ inputs: [[1, 2], [3, 4]] }, pair)
  const keyed = decodePredictRequest({ inputs: { x: [[1, 2], [3, 4]] } }, pair)
  for (const decoded of [named, value, keyed]) assert.deepEqual(decoded.inputs.get('x')?.data, new Float32Array([1, 2, 3, 4]))
  assert.equal(value.batchSize, 2)
})

test('"instances" XOR "inputs": both or neither is a 400', () => {
  throwsBadRequest(() => decodePredictRequest({ instances: [[1, 2]], inputs: [[1, 2]] }, pair), 'SERVING_BAD_REQUEST', /either "instances".*or "inputs".*not both/)
  throwsBadRequest(() => decodePredictRequest({ examples: [] }, pair), 'SERVING_BAD_REQUEST', /expected "instances" \(row format\) or "inputs"/)
  throwsBadRequest(() => decodePredictRequest([[1, 2]], pair), 'SERVING_BAD_REQUEST', /expected a JSON object/)
  throwsBadRequest(() => decodePredictRequest({ instances: { x: 1 } }, pair), 'SERVING_BAD_REQUEST', /"instances": expected a list of instances/)
})

test('signature_name: absent, "serving_default" or "" (proto3\'s unset); anything else names the known one', () => {
  assert.equal(decodePredictRequest({ instances: [[1, 2]] }, pair).signatureName, undefined)
  assert.equal(decodePredictRequest({ signature_name: 'serving_default', instances: [[1, 2]] }, pair).signatureName, 'serving_default')
  assert.equal(decodePredictRequest({ signature_name: '', inputs: [[1, 2]] }, pair).signatureName, '')
  throwsBadRequest(() => decodePredictRequest({ signature_name: 'classify_x_to_y', instances: [[1, 2]] }, pair), 'SERVING_BAD_REQUEST', /"classify_x_to_y" not found/, /"serving_default"/)
  throwsBadRequest(() => decodePredictRequest({ signature_name: 7, instances: [[1, 2]] }, pair), 'SERVING_BAD_REQUEST', /expected a string, got 7/)
})

test('several inputs: every instance is an object with every input; missing or unknown names are 400s', () => {
  const good = { tag: 'a', signal: [1, 2, 3, 4, 5], sensor: [[1, 2], [3, 4]] }
  throwsBadRequest(() => decodePredictRequest({ instances: [good, { tag: 'b', signal: [1, 2, 3, 4, 5] }] }, sensors), 'SERVING_BAD_REQUEST', /instances\[1\]: missing input "sensor"/)
  throwsBadRequest(() => decodePredictRequest({ instances: [{ ...good, extra: 1 }] }, sensors), 'SERVING_BAD_REQUEST', /unknown input "extra"; the model's inputs are "tag", "signal", "sensor"/)
  throwsBadRequest(() => decodePredictRequest({ instances: [good, [1, 2]] }, sensors), 'SERVING_BAD_REQUEST', /instances\[1\]: expected an object with the inputs/)
  throwsBadRequest(() => decodePredictRequest({ inputs: { tag: ['a'], signal: [[1, 2, 3, 4, 5]] } }, sensors), 'SERVING_BAD_REQUEST', /"inputs": missing input "sensor"/)
  throwsBadRequest(() => decodePredictRequest({ inputs: [['a']] }, sensors), 'SERVING_BAD_REQUEST', /"inputs": expected an object keyed by the model's inputs/)
})

test('columnar inputs must agree on the first dimension (Malt batches every input along it)', () => {
  throwsBadRequest(
    () => decodePredictRequest({ inputs: { tag: ['a', 'b', 'c'], signal: [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5]], sensor: [[[1, 2], [3, 4]], [[1, 2], [3, 4]]] } }, sensors),
    'SERVING_BAD_SHAPE',
    /input "signal": inputs\.signal has 2 rows but input "tag" has 3/,
  )
})

test('shapes: fixed dimensions must match and ragged lists name their path', () => {
  const images = [image(), image(), image(), image()]
  images[3][2] = images[3][2].slice(1)
  throwsBadRequest(() => decodePredictRequest({ instances: images }, mnist), 'SERVING_BAD_SHAPE', /^input "pixels": instances\[3\]\[2\]: expected 28 values, got 27$/)
  throwsBadRequest(() => decodePredictRequest({ instances: [image(27)] }, mnist), 'SERVING_BAD_SHAPE', /instances\[0\]: expected 28 values, got 27/)
  throwsBadRequest(() => decodePredictRequest({ inputs: [image(), image(28, 29)] }, mnist), 'SERVING_BAD_SHAPE', /inputs\[1\]\[0\]: expected 28 values, got 29/)
  const good = decodePredictRequest({ instances: [image(), image()] }, mnist).inputs.get('pixels')
  assert.deepEqual(good?.shape, [2, 28, 28])
  assert.ok(good?.data instanceof Float32Array)
  assert.equal(good.data[28 * 28 + 29], Math.fround(29 / 1000))
})

test('-1 dimensions take any size, the same in every instance', () => {
  const variable = model([spec('v', 'FP32', [-1, -1])])
  assert.deepEqual(decodePredictRequest({ instances: [[1, 2, 3], [4, 5, 6]] }, variable).inputs.get('v')?.shape, [2, 3])
  throwsBadRequest(() => decodePredictRequest({ instances: [[1, 2, 3], [4, 5]] }, variable), 'SERVING_BAD_SHAPE', /instances\[1\]: expected 3 values \(a variable dimension.*\), got 2/)
  const multi = model([spec('a', 'FP32', [-1, -1]), spec('b', 'INT32', [-1])])
  throwsBadRequest(() => decodePredictRequest({ instances: [{ a: [1, 2], b: 1 }, { a: [1], b: 2 }] }, multi), 'SERVING_BAD_SHAPE', /input "a": instances\[1\]\.a: expected 2 values/)
})

test('values nested deeper than the shape, or not deep enough, are 400s naming the place', () => {
  throwsBadRequest(() => decodePredictRequest({ instances: [[1, [2]]] }, pair), 'SERVING_BAD_VALUE', /instances\[0\]\[1\]: expected a number \(FP32\), got a list \[2\], nested deeper than the input's shape \[-1, 2\]/)
  throwsBadRequest(() => decodePredictRequest({ instances: [1, 2] }, pair), 'SERVING_BAD_SHAPE', /instances\[0\]: expected a list of 2 values \(the input's shape is \[-1, 2\]\), got 1/)
  throwsBadRequest(() => decodePredictRequest({ inputs: 5 }, pair), 'SERVING_BAD_SHAPE', /inputs: expected a list/)
  throwsBadRequest(() => decodePredictRequest({ instances: [{ tag: 'a', signal: [[1, 2, 3, 4, 5]], sensor: [[1, 2], [3, 4]] }] }, sensors), 'SERVING_BAD_SHAPE', /instances\[0\]\.signal: expected 5 values, got 1/)
})

test('an empty batch is a 400', () => {
  throwsBadRequest(() => decodePredictRequest({ instances: [] }, pair), 'SERVING_BAD_SHAPE', /"instances" is empty/)
  throwsBadRequest(() => decodePredictRequest({ inputs: [] }, pair), 'SERVING_BAD_SHAPE', /inputs is empty: expected at least one row/)
  throwsBadRequest(() => decodePredictRequest({ inputs: { x: [] } }, pair), 'SERVING_BAD_SHAPE', /inputs\.x is empty/)
})

test('a fixed batch dimension takes exactly that many rows', () => {
  throwsBadRequest(() => decodePredictRequest({ instances: [[1, 2], [3, 4]] }, model([spec('x', 'FP32', [1, 2])])), 'SERVING_BAD_SHAPE', /takes exactly 1 rows .*got 2/)
})

test('element types: numbers for numeric inputs, booleans for BOOL, strings for BYTES', () => {
  throwsBadRequest(() => decodePredictRequest({ instances: [[1, '2']] }, pair), 'SERVING_BAD_VALUE', /input "x": instances\[0\]\[1\]: expected a number \(FP32\), got "2"/)
  throwsBadRequest(() => decodePredictRequest({ instances: [[1, null]] }, pair), 'SERVING_BAD_VALUE', /got null/)
  throwsBadRequest(() => decodePredictRequest({ instances: [1] }, model([spec('b', 'BOOL', [-1])])), 'SERVING_BAD_VALUE', /instances\[0\]: expected true or false \(BOOL\), got 1/)
  throwsBadRequest(() => decodePredictRequest({ instances: [true] }, model([spec('i', 'INT32', [-1])])), 'SERVING_BAD_VALUE', /expected an integer/)
  throwsBadRequest(() => decodePredictRequest({ instances: [3] }, model([spec('s', 'BYTES', [-1])])), 'SERVING_BAD_VALUE', /expected a string or \{"b64": "<base64>"\} \(BYTES\), got 3/)
  const bools = decodePredictRequest({ instances: [[true, false]] }, model([spec('b', 'BOOL', [-1, 2])]))
  assert.deepEqual(bools.inputs.get('b')?.data, [true, false])
})

test('integer inputs refuse fractions and out-of-range values, per type', () => {
  const one = (datatype: DataType, value: number): unknown => decodePredictRequest({ instances: [value] }, model([spec('n', datatype, [-1])])).inputs.get('n')?.data
  assert.deepEqual(one('UINT8', 255), new Uint8Array([255]))
  throwsBadRequest(() => one('UINT8', 256), 'SERVING_BAD_VALUE', /instances\[0\]: expected an integer from 0 to 255 \(UINT8\), got 256/)
  throwsBadRequest(() => one('UINT8', -1), 'SERVING_BAD_VALUE', /got -1/)
  assert.deepEqual(one('INT32', -(2 ** 31)), new Int32Array([-(2 ** 31)]))
  throwsBadRequest(() => one('INT32', 2 ** 31), 'SERVING_BAD_VALUE', /from -2147483648 to 2147483647 \(INT32\), got 2147483648/)
  throwsBadRequest(() => one('INT32', 1.5), 'SERVING_BAD_VALUE', /got 1\.5/)
  throwsBadRequest(() => one('INT8', 128), 'SERVING_BAD_VALUE', /INT8/)
  assert.deepEqual(one('UINT32', 2 ** 32 - 1), new Uint32Array([2 ** 32 - 1]))
  assert.deepEqual(one('INT16', -32768), new Int16Array([-32768]))
  assert.deepEqual(one('UINT16', 65535), new Uint16Array([65535]))
})

test('INT64 and UINT64 land in BigInt64Array / BigUint64Array', () => {
  const longs = decodePredictRequest({ instances: [[2 ** 53, -(2 ** 62)]] }, model([spec('l', 'INT64', [-1, 2])])).inputs.get('l')
  assert.deepEqual(longs?.data, new BigInt64Array([2n ** 53n, -(2n ** 62n)]))
  const unsigned = decodePredictRequest({ inputs: [2 ** 63] }, model([spec('u', 'UINT64', [-1])])).inputs.get('u')
  assert.deepEqual(unsigned?.data, new BigUint64Array([2n ** 63n]))
  throwsBadRequest(() => decodePredictRequest({ instances: [2 ** 63] }, model([spec('l', 'INT64', [-1])])), 'SERVING_BAD_VALUE', /INT64\), got 9223372036854776000/)
  throwsBadRequest(() => decodePredictRequest({ instances: [-1] }, model([spec('u', 'UINT64', [-1])])), 'SERVING_BAD_VALUE', /UINT64/)
})

test('NaN and ±Infinity are refused with the input and element, unless allowNonFinite', () => {
  const body = parseJsonBody('{"instances": [[1.0, 2.0], [NaN, 4.0]]}', { nonFiniteTokens: true })
  throwsBadRequest(() => decodePredictRequest(body, pair), 'SERVING_BAD_VALUE', /^input "x": instances\[1\]\[0\]: expected a finite number \(FP32\), got NaN/)
  throwsBadRequest(() => decodePredictRequest({ inputs: [[1, -Infinity]] }, pair), 'SERVING_BAD_VALUE', /inputs\[0\]\[1\].*got -Infinity/)
  const allowed = decodePredictRequest(body, pair, { allowNonFinite: true }).inputs.get('x')?.data as Float32Array
  assert.ok(Number.isNaN(allowed[2]))
  assert.equal(allowed[3], 4)
})

test('{"b64": …} is a BYTES value (decoded), and only for BYTES inputs', () => {
  // The values of the spec's "Encoding binary values" example.
  const images = model([spec('image', 'BYTES', [-1]), spec('caption', 'BYTES', [-1])])
  const decoded = decodePredictRequest(
    { instances: [{ image: { b64: 'aW1hZ2UgYnl0ZXM=' }, caption: 'seaside' }, { image: { b64: 'YXdlc29tZSBpbWFnZSBieXRlcw==' }, caption: 'mountains' }] },
    images,
  )
  assert.deepEqual(decoded.inputs.get('image')?.data, ['image bytes', 'awesome image bytes'])
  const one = decodePredictRequest({ instances: [{ b64: 'AP8=' }] }, model([spec('raw', 'BYTES', [-1])]))
  assert.deepEqual(one.inputs.get('raw')?.data, ['\u0000\u00ff'])
  throwsBadRequest(() => decodePredictRequest({ instances: [[{ b64: 'AAAA' }, 1]] }, pair), 'SERVING_BAD_VALUE', /expected a number \(FP32\), got \{"b64":"AAAA"\} \(b64 values are for BYTES inputs only\)/)
  throwsBadRequest(() => decodePredictRequest({ instances: [{ b64: 'not base64!' }] }, model([spec('raw', 'BYTES', [-1])])), 'SERVING_BAD_VALUE', /"b64" is not base64/)
})

test('a 64×784 float batch decodes into one Float32Array', () => {
  const rows = Array.from({ length: 64 }, (_, r) => Array.from({ length: 784 }, (_, c) => (r + c) / 100))
  const decoded = decodePredictRequest({ instances: rows }, model([spec('x', 'FP32', [-1, 784])]))
  const tensor = decoded.inputs.get('x') as Tensor
  assert.deepEqual(tensor.shape, [64, 784])
  assert.ok(tensor.data instanceof Float32Array)
  assert.equal(tensor.data.length, 64 * 784)
  assert.equal(tensor.data[63 * 784 + 783], Math.fround((63 + 783) / 100))
})

const out = (name: string, datatype: DataType, shape: number[], data: Tensor['data']): Tensor => ({ name, datatype, shape, data })

test('responses: one output is written without its name, as `predictions` (row) or `outputs` (columnar)', () => {
  const half = model([spec('x', 'FP32', [-1])], [spec('y', 'FP32', [-1])])
  const y = new Map([['y', out('y', 'FP32', [3], new Float32Array([3.5, 4, 5.5]))]])
  assert.equal(encodePredictResponse('row', y, half), '{"predictions":[3.5,4,5.5]}')
  assert.equal(encodePredictResponse('columnar', y, half), '{"outputs":[3.5,4,5.5]}')
  const matrix = new Map([['y', out('y', 'FP32', [2, 2], new Float32Array([2.5, 3, 3.5, 4]))]])
  assert.deepEqual(JSON.parse(encodePredictResponse('row', matrix, model([], [spec('y', 'FP32', [-1, 2])]))), { predictions: [[2.5, 3], [3.5, 4]] })
})

test('responses: several outputs are a list of objects (row) or an object (columnar), in the signature\'s order', () => {
  const signature = model([], [spec('scores', 'FP32', [-1, 2]), spec('label', 'INT32', [-1]), spec('ok', 'BOOL', [-1])])
  const outputs = new Map([
    ['ok', out('ok', 'BOOL', [2], [true, false])],
    ['label', out('label', 'INT32', [2], new Int32Array([1, 0]))],
    ['scores', out('scores', 'FP32', [2, 2], new Float32Array([0.25, 0.75, 0.5, 0.5]))],
  ])
  const row = encodePredictResponse('row', outputs, signature)
  assert.equal(row, '{"predictions":[{"scores":[0.25,0.75],"label":1,"ok":true},{"scores":[0.5,0.5],"label":0,"ok":false}]}')
  assert.deepEqual(JSON.parse(encodePredictResponse('columnar', outputs, signature)), { outputs: { scores: [[0.25, 0.75], [0.5, 0.5]], label: [1, 0], ok: [true, false] } })
})

test('responses: NaN and ±Infinity are written as tokens, which parseJsonBody reads back', () => {
  const signature = model([], [spec('y', 'FP32', [-1, 3])])
  const text = encodePredictResponse('row', new Map([['y', out('y', 'FP32', [1, 3], new Float32Array([NaN, Infinity, -Infinity]))]]), signature)
  assert.equal(text, '{"predictions":[[NaN,Infinity,-Infinity]]}')
  const back = parseJsonBody(text, { nonFiniteTokens: true }) as { predictions: number[][] }
  assert.ok(Number.isNaN(back.predictions[0][0]))
  assert.equal(back.predictions[0][2], -Infinity)
})

test('responses: float32 values read back exactly; int64 as exact digits; *_bytes outputs as {"b64": …}', () => {
  const values = new Float32Array([0.1, -1e-7, 3.4e38, 123.456])
  const text = encodePredictResponse('columnar', new Map([['y', out('y', 'FP32', [4], values)]]), model([], [spec('y', 'FP32', [-1])]))
  assert.deepEqual(new Float32Array((JSON.parse(text) as { outputs: number[] }).outputs), values)
  const longs = encodePredictResponse('row', new Map([['id', out('id', 'INT64', [2], new BigInt64Array([2n ** 60n + 1n, -5n]))]]), model([], [spec('id', 'INT64', [-1])]))
  assert.equal(longs, '{"predictions":[1152921504606846977,-5]}')
  const bytes = model([], [spec('image_bytes', 'BYTES', [-1]), spec('caption', 'BYTES', [-1])])
  const binary = encodePredictResponse(
    'row',
    new Map([
      ['image_bytes', out('image_bytes', 'BYTES', [1], ['image bytes'])],
      ['caption', out('caption', 'BYTES', [1], ['sea "side"'])],
    ]),
    bytes,
  )
  assert.deepEqual(JSON.parse(binary), { predictions: [{ image_bytes: { b64: 'aW1hZ2UgYnl0ZXM=' }, caption: 'sea "side"' }] })
})

test('responses: an output the model did not return is a 500, not a malformed body', () => {
  assert.throws(
    () => encodePredictResponse('row', new Map(), model([], [spec('y', 'FP32', [-1])])),
    (error: unknown) => error instanceof ServingError && error.status === 500 && /no output "y"/.test(error.message),
  )
})

test('model status is GetModelStatusResponse as TF Serving writes it (version as a string)', () => {
  assert.deepEqual(modelStatusResponse([{ version: 123, state: 'AVAILABLE' }]), {
    model_version_status: [{ version: '123', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
  })
  assert.deepEqual(
    modelStatusResponse([
      { version: 2, state: 'END', error: { code: 'NOT_FOUND', message: 'model.json missing' } },
      { version: 3, state: 'END', error: { code: 'SERVING_LOAD_FAILED', message: 'bad weights' } },
    ]).valueOf(),
    {
      model_version_status: [
        { version: '2', state: 'END', status: { error_code: 'NOT_FOUND', error_message: 'model.json missing' } },
        { version: '3', state: 'END', status: { error_code: 'UNKNOWN', error_message: 'SERVING_LOAD_FAILED: bad weights' } },
      ],
    },
  )
})

test('model metadata is GetModelMetadataResponse with serving_default\'s SignatureDef (TF Serving\'s JSON)', () => {
  // The serving_default part of TF Serving's own saved_model_half_plus_two metadata test file, for x → y.
  const metadata = modelMetadataResponse('half_plus_two', 123, model([spec('x', 'FP32', [-1, 1])], [spec('y', 'FP32', [-1, 1])]))
  const tensor = (name: string): object => ({
    dtype: 'DT_FLOAT',
    tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '1', name: '' }], unknown_rank: false },
    name,
  })
  assert.deepEqual(metadata, {
    model_spec: { name: 'half_plus_two', signature_name: '', version: '123' },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: { inputs: { x: tensor('x') }, outputs: { y: tensor('y') }, method_name: 'tensorflow/serving/predict', defaults: {} },
        },
      },
    },
  })
  const types = modelMetadataResponse('m', 1, model([spec('a', 'INT64', [-1]), spec('b', 'BYTES', [-1]), spec('c', 'FP16', [-1]), spec('d', 'FP64', [-1])]))
  const inputs = (types as { metadata: { signature_def: { signature_def: { serving_default: { inputs: Record<string, { dtype: string }> } } } } }).metadata.signature_def.signature_def.serving_default.inputs
  assert.deepEqual(Object.values(inputs).map((info) => info.dtype), ['DT_INT64', 'DT_STRING', 'DT_HALF', 'DT_DOUBLE'])
})
