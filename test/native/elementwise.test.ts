// Native element-wise kernels against the CPU backend. The native ops round like the JS kernels
// (float64 formula, one rounding to float32), so arithmetic, activations and clipping must agree bit
// for bit, signed zeros and NaNs included; libm-based ops (exp, log, tanh, pow, ...) may differ from
// V8's by one float32 ulp at most. Covered: scalars, size-1 dims, every broadcast form (scalar on
// either side, bias add, per-row, outer, alternating, rank 6), NaN/Inf/zero inputs, tensors large
// enough to run threaded, the ops of Adam and of categoricalCrossentropy, gradients through tf.grad,
// and the cases left to the CPU kernel (int32, complex, broadcasts too irregular to collapse).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type * as tfjs from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { loadNativeAddon, nativeFunction } from '../../src/backend/native/addon.js'
import { checkGradientNumerically, compareWithCpu, requireNativeBackend, seededValues } from '../helpers/native.js'

/** Values every op must handle like JS: NaN, infinities, signed zeros, subnormals, overflow-prone. */
const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 1e-40, -1e-40, 3.4e38, -3.4e38, 0.5, -0.5, 6, 7, -7, 89, -104, 1e-8, 2]

/** libm (exp, log, tanh, pow) may round one float32 ulp away from V8's fdlibm. */
const ONE_ULP = 1.2e-7

/** Seeded values in [low, high) with the special values written over the first elements. */
function tensorWithSpecials(shape: number[], seed: number, low = -8, high = 8): tfjs.Tensor {
  const size = shape.reduce((a, b) => a * b, 1)
  const values = seededValues(size, seed, low, high)
  for (let i = 0; i < Math.min(size, SPECIALS.length); i++) values[(i * 7919) % size] = SPECIALS[i]
  return tf.tensor(values, shape, 'float32')
}

function valuesOn(backend: string, build: () => tfjs.Tensor): Float32Array {
  const previous = tf.getBackend()
  tf.setBackend(backend)
  try {
    const result = tf.tidy(build)
    const values = result.dataSync() as Float32Array
    result.dispose()
    return values
  } finally {
    tf.setBackend(previous)
  }
}

/** A number as it differs: -0 printed as -0. */
function show(value: number): string {
  return Object.is(value, -0) ? '-0' : String(value)
}

/** Element-for-element identity with the CPU backend, telling +0 from -0 (Object.is). */
function assertSameBits(label: string, build: () => tfjs.Tensor): void {
  const expected = valuesOn('cpu', build)
  const actual = valuesOn('malt-native', build)
  assert.equal(actual.length, expected.length, `${label}: element counts`)
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Object.is(actual[i], expected[i]), `${label}: element ${i} is ${show(actual[i])}, the CPU kernel gives ${show(expected[i])}`)
  }
}

interface UnaryCase {
  kernel: string
  run: (x: tfjs.Tensor) => tfjs.Tensor
  tolerance: number
}

const UNARY: UnaryCase[] = [
  { kernel: 'Relu', run: (x) => tf.relu(x), tolerance: 0 },
  { kernel: 'Relu6', run: (x) => tf.relu6(x), tolerance: 0 },
  { kernel: 'Elu', run: (x) => tf.elu(x), tolerance: ONE_ULP },
  { kernel: 'LeakyRelu', run: (x) => tf.leakyRelu(x, 0.2), tolerance: 0 },
  { kernel: 'LeakyRelu', run: (x) => tf.leakyRelu(x, 0.01), tolerance: 0 },
  { kernel: 'Sigmoid', run: (x) => tf.sigmoid(x), tolerance: ONE_ULP },
  { kernel: 'Tanh', run: (x) => tf.tanh(x), tolerance: ONE_ULP },
  { kernel: 'Step', run: (x) => tf.step(x), tolerance: 0 },
  { kernel: 'Step', run: (x) => tf.step(x, 0.3), tolerance: 0 },
  { kernel: 'Exp', run: (x) => tf.exp(x), tolerance: ONE_ULP },
  { kernel: 'Log', run: (x) => tf.log(x), tolerance: ONE_ULP },
  { kernel: 'Log1p', run: (x) => tf.log1p(x), tolerance: ONE_ULP },
  { kernel: 'Expm1', run: (x) => tf.expm1(x), tolerance: ONE_ULP },
  { kernel: 'Sqrt', run: (x) => tf.sqrt(x), tolerance: 0 },
  { kernel: 'Rsqrt', run: (x) => tf.rsqrt(x), tolerance: 0 },
  { kernel: 'Square', run: (x) => tf.square(x), tolerance: 0 },
  { kernel: 'Neg', run: (x) => tf.neg(x), tolerance: 0 },
  { kernel: 'Abs', run: (x) => tf.abs(x), tolerance: 0 },
  { kernel: 'Reciprocal', run: (x) => tf.reciprocal(x), tolerance: 0 },
  { kernel: 'ClipByValue', run: (x) => tf.clipByValue(x, -0.5, 0.7), tolerance: 0 },
  { kernel: 'ClipByValue', run: (x) => tf.clipByValue(x, 1e-7, 1 - 1e-7), tolerance: 0 },
  { kernel: 'Softplus', run: (x) => tf.softplus(x), tolerance: ONE_ULP },
]

const UNARY_SHAPES = [[], [1], [7], [2, 1, 3], [3, 4, 5], [1, 1, 1, 9], [2, 200, 200]]

test('unary ops match the CPU kernels on every shape, NaN/Inf/zero/negative inputs included', async () => {
  await requireNativeBackend()
  for (const [index, { kernel, run, tolerance }] of UNARY.entries()) {
    for (const [shapeIndex, shape] of UNARY_SHAPES.entries()) {
      const x = tensorWithSpecials(shape, 100 * index + shapeIndex)
      compareWithCpu(`${kernel} #${index} ${JSON.stringify(shape)}`, () => run(x), { tolerance, native: [kernel] })
      x.dispose()
    }
    const specials = tf.tensor(SPECIALS)
    if (tolerance === 0) assertSameBits(`${kernel} #${index} on special values`, () => run(specials))
    else compareWithCpu(`${kernel} #${index} on special values`, () => run(specials), { tolerance })
    specials.dispose()
  }
})

interface BinaryCase {
  kernel: string
  run: (a: tfjs.Tensor, b: tfjs.Tensor) => tfjs.Tensor
  tolerance: number
}

const BINARY: BinaryCase[] = [
  { kernel: 'Add', run: (a, b) => tf.add(a, b), tolerance: 0 },
  { kernel: 'Sub', run: (a, b) => tf.sub(a, b), tolerance: 0 },
  { kernel: 'Multiply', run: (a, b) => tf.mul(a, b), tolerance: 0 },
  { kernel: 'RealDiv', run: (a, b) => tf.div(a, b), tolerance: 0 },
  { kernel: 'Maximum', run: (a, b) => tf.maximum(a, b), tolerance: 0 },
  { kernel: 'Minimum', run: (a, b) => tf.minimum(a, b), tolerance: 0 },
  { kernel: 'SquaredDifference', run: (a, b) => tf.squaredDifference(a, b), tolerance: 0 },
  { kernel: 'Pow', run: (a, b) => tf.pow(a, b), tolerance: ONE_ULP },
]

/** Every broadcast form: [a shape, b shape]. */
const BROADCASTS: [number[], number[]][] = [
  [[3, 4], [3, 4]], // same shape
  [[], [5, 6]], // scalar on the left (Adam: 1 - accBeta)
  [[5, 6], []], // scalar on the right (Adam: m * beta1)
  [[], []],
  [[1], [1, 1]],
  [[2, 5, 5, 16], [16]], // bias add
  [[16], [2, 5, 5, 16]],
  [[64, 10], [64, 1]], // per row (softmax normalisation, Sum's gradient)
  [[64, 1], [64, 10]],
  [[8, 1], [1, 6]], // outer
  [[1, 6], [8, 1]],
  [[2, 1, 3], [1, 4, 1]], // alternating
  [[4, 1, 1, 3], [1, 2, 3]],
  [[1, 1, 5], [5]], // size-1 dims on the output
  [[3, 1], [1]],
  [[2, 3, 1, 5, 1, 4], [3, 6, 1, 7, 4]], // rank 6, two inputs broadcast on different dims
  [[2, 1, 2, 1, 2, 1], [1, 3, 1, 3, 1, 3]], // six collapsed dims, the most the native loop takes
  [[1, 2, 3, 4, 5, 1, 1, 2], [1, 2, 3, 4, 5, 1, 1, 2]], // rank 8, collapses to one dim
  [[0, 3], [3]], // empty
  // Large enough to run threaded, sized so that a thread's range starts mid-row (75000 elements
  // split in chunks of 37504 on two threads, 18752 on four).
  [[3, 250, 100], [100]], // bias add, tiled path
  [[100], [3, 250, 100]],
  [[300, 250], [300, 1]], // per row
  [[150, 2, 250], [150, 1, 250]], // three collapsed dims
  [[300, 250], []], // scalar
]

test('binary ops match the CPU kernels for every broadcast form', async () => {
  await requireNativeBackend()
  for (const [index, { kernel, run, tolerance }] of BINARY.entries()) {
    for (const [formIndex, [aShape, bShape]] of BROADCASTS.entries()) {
      const a = tensorWithSpecials(aShape, 1000 * index + 2 * formIndex, -4, 4)
      const b = tensorWithSpecials(bShape, 1000 * index + 2 * formIndex + 1, -4, 4)
      const label = `${kernel} ${JSON.stringify(aShape)} with ${JSON.stringify(bShape)}`
      compareWithCpu(label, () => run(a, b), { tolerance, native: [kernel] })
      tf.dispose([a, b])
    }
  }
})

test('binary ops on every pair of special values (NaN, Inf, signed zeros, 0/0, 1**NaN, (-1)**Inf)', async () => {
  await requireNativeBackend()
  const left = tf.tensor(SPECIALS, [SPECIALS.length, 1])
  const right = tf.tensor(SPECIALS, [1, SPECIALS.length])
  for (const { kernel, run, tolerance } of BINARY) {
    if (tolerance === 0) assertSameBits(`${kernel} on special pairs`, () => run(left, right))
    compareWithCpu(`${kernel} on special pairs`, () => run(left, right), { tolerance, native: [kernel] })
  }
  // Math.pow's own special cases, which C's pow answers differently.
  const bases = tf.tensor([1, 1, -1, -1, 1, NaN, NaN, 0, -0, -8, 2])
  const exponents = tf.tensor([NaN, Infinity, Infinity, -Infinity, -Infinity, 0, -0, -1, -1, 1 / 3, 0.5])
  assertSameBits('Pow special cases', () => tf.pow(bases, exponents))
  tf.dispose([left, right, bases, exponents])
})

test('AddN sums many same-shape tensors in the CPU kernel order', async () => {
  await requireNativeBackend()
  for (const [count, shape] of [
    [1, [5]],
    [2, [3, 4]],
    [5, [2, 3, 7]],
    [3, [90, 1000]],
  ] as [number, number[]][]) {
    const tensors = Array.from({ length: count }, (_, i) => tensorWithSpecials(shape, 50 + i, -100, 100))
    compareWithCpu(`AddN of ${count} ${JSON.stringify(shape)}`, () => tf.addN(tensors), { tolerance: 0, native: ['AddN'] })
    tf.dispose(tensors)
  }
  const negativeZeros = [tf.tensor([-0, -0, 1]), tf.tensor([-0, 0, -0])]
  assertSameBits('AddN of -0s', () => tf.addN(negativeZeros))
  tf.dispose(negativeZeros)
})

test('native: each op of the TF.js Adam update, with its scalar tensors', async () => {
  await requireNativeBackend()
  // malt-native fuses Adam into one kernel (adam.ts); these are the ops TF.js's AdamOptimizer runs
  // per variable when it is not fused (adam_optimizer.js), on the shapes it runs them on.
  const value = tensorWithSpecials([16, 8], 7, -1, 1)
  const gradient = tensorWithSpecials([16, 8], 8, -1, 1)
  const firstMoment = tf.tensor(seededValues(128, 9, -0.1, 0.1), [16, 8])
  const secondMoment = tf.tensor(seededValues(128, 10, 0, 0.01), [16, 8])
  const [beta1, beta2, learningRate, epsilon] = [0.9, 0.999, 0.001, 1e-7]
  const accBeta1 = tf.scalar(beta1 ** 3)
  const accBeta2 = tf.scalar(beta2 ** 3)
  compareWithCpu(
    'an Adam update',
    () => {
      const oneMinusAccBeta1 = tf.sub(1, accBeta1)
      const oneMinusAccBeta2 = tf.sub(1, accBeta2)
      const newFirstMoment = tf.add(tf.mul(firstMoment, beta1), tf.mul(gradient, 1 - beta1))
      const newSecondMoment = tf.add(tf.mul(secondMoment, beta2), tf.mul(tf.square(gradient), 1 - beta2))
      const biasCorrectedFirstMoment = tf.div(newFirstMoment, oneMinusAccBeta1)
      const biasCorrectedSecondMoment = tf.div(newSecondMoment, oneMinusAccBeta2)
      const step = tf.div(biasCorrectedFirstMoment, tf.add(tf.sqrt(biasCorrectedSecondMoment), epsilon))
      return [tf.add(tf.mul(step, -learningRate), value), newFirstMoment, newSecondMoment, tf.mul(accBeta1, beta1)]
    },
    { tolerance: 0, native: ['Multiply', 'Add', 'Sub', 'Square', 'RealDiv', 'Sqrt'] },
  )
  tf.dispose([value, gradient, firstMoment, secondMoment, accBeta1, accBeta2])
})

test('native: the element-wise ops of categoricalCrossentropy and of its gradient', async () => {
  await requireNativeBackend()
  const labels = tf.oneHot(tf.tensor1d([3, 1, 4, 1, 5, 9, 2, 6], 'int32'), 10).toFloat()
  const logits = tensorWithSpecials([8, 10], 11, -3, 3).clipByValue(-3, 3)
  const loss = (z: tfjs.Tensor) => tf.mean(tf.metrics.categoricalCrossentropy(labels, tf.sigmoid(z))) as tfjs.Scalar
  compareWithCpu('categoricalCrossentropy', () => loss(logits), {
    tolerance: 1e-6,
    native: ['ClipByValue', 'Log', 'Multiply', 'Neg', 'RealDiv', 'Sigmoid'],
  })
  compareWithCpu('categoricalCrossentropy gradient', () => tf.grad(loss)(logits), {
    tolerance: 1e-6,
    native: ['ClipByValue', 'Log', 'Multiply', 'Neg', 'RealDiv', 'Sigmoid', 'Sub'],
  })
  tf.dispose([labels, logits])
})

test('gradients of activations and broadcasting arithmetic match the CPU backend', async () => {
  await requireNativeBackend()
  const x = tensorWithSpecials([4, 6, 5], 12, -3, 3).clipByValue(-3, 3)
  const activations: [string, (t: tfjs.Tensor) => tfjs.Tensor, string[]][] = [
    ['relu', (t) => tf.relu(t), ['Relu', 'MaltReluGrad', 'Multiply']],
    ['relu6', (t) => tf.relu6(t.mul(3)), ['Relu6', 'Step', 'Multiply']],
    ['elu', (t) => tf.elu(t), ['Elu', 'EluGrad']],
    ['sigmoid', (t) => tf.sigmoid(t), ['Sigmoid', 'Sub', 'Multiply']],
    ['tanh', (t) => tf.tanh(t), ['Tanh', 'Square', 'Sub', 'Multiply']],
    ['leakyRelu', (t) => tf.leakyRelu(t, 0.2), ['LeakyRelu', 'Multiply']],
    ['softplus', (t) => tf.softplus(t), ['Softplus', 'Sigmoid', 'Multiply']],
    ['sqrt of square', (t) => tf.sqrt(tf.add(tf.square(t), 1)), ['Sqrt', 'Square', 'Add', 'RealDiv', 'Multiply']],
  ]
  const upstream = tensorWithSpecials([4, 6, 5], 13, -1, 1).clipByValue(-1, 1)
  for (const [name, f, kernels] of activations) {
    compareWithCpu(`grad of ${name}`, () => tf.grad((t: tfjs.Tensor) => tf.sum(tf.mul(f(t), upstream)))(x), {
      tolerance: ONE_ULP,
      native: kernels,
    })
  }
  // EluGrad rounds dy * (y + 1) once: a larger tensor makes a float32 shortcut show.
  const wide = tensorWithSpecials([120, 150], 18, -4, 2)
  const wideUpstream = tensorWithSpecials([120, 150], 19, -3, 3)
  compareWithCpu('grad of elu, large', () => tf.grad((t: tfjs.Tensor) => tf.sum(tf.mul(tf.elu(t), wideUpstream)))(wide), {
    tolerance: 0,
    native: ['Elu', 'EluGrad'],
  })
  tf.dispose([wide, wideUpstream])
  const a = tensorWithSpecials([4, 1, 5], 14, 1, 3).clipByValue(1, 3)
  const b = tensorWithSpecials([6, 1], 15, 1, 3).clipByValue(1, 3)
  const weighting = tensorWithSpecials([4, 6, 1], 20, -1, 1)
  compareWithCpu(
    'grads of sub and div with broadcasting',
    () => tf.grads((p: tfjs.Tensor, q: tfjs.Tensor) => tf.sum(tf.mul(tf.div(tf.sub(p, q), q), weighting)))([a, b]),
    { tolerance: 1e-6, native: ['Sub', 'RealDiv', 'Multiply', 'Neg', 'Square'] },
  )
  compareWithCpu(
    'grads of maximum and pow',
    // TF.js's Maximum gradient does not reduce broadcast dims: give it same-shape operands.
    () =>
      tf.grads((p: tfjs.Tensor, q: tfjs.Tensor) => tf.sum(tf.add(tf.maximum(tf.sub(p, q), tf.mul(p, q)), tf.pow(p, q))))([a, b]),
    { tolerance: 1e-6, native: ['Maximum', 'Pow', 'Multiply'] },
  )
  // Central differences need smooth, finite inputs: plain seeded values, no specials.
  const probe = tf.tensor(seededValues(15, 16, -2, 2), [3, 5])
  const offsets = tf.tensor(seededValues(5, 17, 1, 3), [5])
  checkGradientNumerically(
    'sigmoid, tanh and broadcast division',
    (t) => tf.sum(tf.div(tf.sub(tf.sigmoid(t), tf.tanh(offsets)), tf.add(tf.square(t), 1))) as tfjs.Scalar,
    probe,
  )
  tf.dispose([probe, offsets])
  tf.dispose([x, upstream, a, b, weighting])
})

test('fallback: int32 and complex tensors, broadcasts of more than six collapsed dims', async () => {
  await requireNativeBackend()
  const ints = tf.tensor([[1, -2, 3], [4, 5, -6]], [2, 3], 'int32')
  compareWithCpu('int32 Add', () => tf.add(ints, ints), { tolerance: 0, fallback: ['Add'] })
  compareWithCpu('int32 Multiply by a scalar', () => tf.mul(ints, tf.scalar(3, 'int32')), { tolerance: 0, fallback: ['Multiply'] })
  compareWithCpu('int32 Relu', () => tf.relu(ints), { tolerance: 0, fallback: ['Relu'] })
  compareWithCpu('int32 Abs and Neg', () => tf.neg(tf.abs(ints)), { tolerance: 0, fallback: ['Abs', 'Neg'] })
  compareWithCpu('int32 AddN', () => tf.addN([ints, ints, ints]), { tolerance: 0, fallback: ['AddN'] })
  compareWithCpu('int32 Maximum', () => tf.maximum(ints, tf.scalar(2, 'int32')), { tolerance: 0, fallback: ['Maximum'] })
  compareWithCpu('complex Add', () => tf.real(tf.add(tf.complex([1, 2], [3, 4]), tf.complex([5, 6], [7, 8]))), {
    tolerance: 0,
    fallback: ['Add'],
  })
  // A float32 cast of int32 shares the Int32Array: converted natively while exact, else left to the CPU.
  const small = tf.tensor([3, -16777216, 16777216], [3], 'int32')
  compareWithCpu('float32 cast of small int32', () => tf.mul(small.toFloat(), 1.1), { tolerance: 0, native: ['Multiply'] })
  const large = tf.tensor([3, 16777217], [2], 'int32')
  compareWithCpu('float32 cast of int32 beyond 2^24', () => tf.mul(large.toFloat(), 1.1), { tolerance: 0, fallback: ['Multiply'] })
  tf.dispose([small, large])
  // Seven alternating broadcast dims cannot collapse below seven: the CPU kernel takes it.
  const a = tensorWithSpecials([2, 1, 2, 1, 2, 1, 2], 17)
  const b = tensorWithSpecials([1, 3, 1, 3, 1, 3, 1], 18)
  compareWithCpu('seven collapsed dims', () => tf.add(a, b), { tolerance: 0, fallback: ['Add'] })
  tf.dispose([ints, a, b])
})

test('shapes that do not broadcast raise the CPU kernel error on malt-native too', async () => {
  await requireNativeBackend()
  const previous = tf.getBackend()
  tf.setBackend('malt-native')
  try {
    const a = tf.zeros([2, 3])
    const b = tf.zeros([3, 2])
    assert.throws(() => tf.add(a, b), /Operands could not be broadcast together/)
    tf.dispose([a, b])
  } finally {
    tf.setBackend(previous)
  }
})

test('the addon rejects inconsistent arguments with JS errors instead of reading out of bounds', async () => {
  await requireNativeBackend()
  const { addon } = loadNativeAddon()
  assert.ok(addon)
  const unary = nativeFunction<(op: number, x: Float32Array, out: Float32Array, alpha: number, beta: number) => void>(addon, 'elementwiseUnary')
  const binary = nativeFunction<(op: number, a: Float32Array, b: Float32Array, out: Float32Array, layout: Int32Array) => void>(
    addon,
    'elementwiseBinary',
  )
  const addN = nativeFunction<(inputs: Float32Array[], out: Float32Array) => void>(addon, 'elementwiseAddN')
  const four = new Float32Array(4)
  assert.throws(() => unary(999, four, four, 0, 0), /unknown element-wise op 999/)
  assert.throws(() => unary(0, four, new Float32Array(3), 0, 0), /out has 3 elements, expected 4/)
  assert.throws(() => binary(0, four, four, four, new Int32Array([7])), /rank from 1 to 6/)
  assert.throws(() => binary(0, four, new Float32Array(3), four, new Int32Array([1, 4, 1, 1])), /reaches past the ends/)
  assert.throws(() => binary(0, four, four, four, new Int32Array([2, 2, 1, 1, 2e9, 2, 2])), /reaches past the ends/)
  assert.throws(() => binary(0, four, four, four, new Int32Array([1, 2, 2, 2])), /inner strides must be 0 or 1/)
  assert.throws(() => addN([four, new Float32Array(2)], four), /an AddN input has 2 elements, expected 4/)
  assert.throws(() => addN([], four), /at least one input/)
})
