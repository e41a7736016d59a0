// The native convolution kernels (Conv2D, depthwise, their gradients, the fused forms) against the
// CPU backend's kernels on seeded random shapes: strides 1/2, dilations 1/2, 'same'/'valid'/
// numeric/explicit padding with every rounding mode, 1–8 channels, odd and size-1 spatial sizes,
// and the batch-64 shapes of the reference CNN. Also: the cases that must fall back, gradients
// through tf.grad on both backends, and one numeric gradient check.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { backend_util, type Tensor, type Tensor4D } from '@tensorflow/tfjs'
import { tf } from '../../src/backend/index.js'
import { checkGradientNumerically, compareWithCpu, requireNativeBackend, seededTensor } from '../helpers/native.js'
import { SeededRandom } from '../../src/util/random.js'
import { nativeState } from '../../src/backend/native/backend.js'

type Padding = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]]
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined

interface ConvCase {
  batch: number
  height: number
  width: number
  inChannels: number
  /** Output channels (conv2d) or channel multiplier (depthwise). */
  outChannels: number
  filterHeight: number
  filterWidth: number
  strides: [number, number]
  dilations: [number, number]
  pad: Padding
  dimRoundingMode: RoundingMode
}

function pick<T>(random: SeededRandom, choices: readonly T[]): T {
  return choices[random.nextInt(choices.length)]
}

/**
 * A seeded random convolution whose output is not empty. `gradient` keeps to what TF.js's
 * gradients accept (no dilation, no rounding mode: Conv2D's gradient drops it).
 */
function randomCase(seed: number, options: { gradient?: boolean; maxOutChannels?: number } = {}): ConvCase {
  const random = new SeededRandom(seed)
  for (;;) {
    const c = drawCase(random, options)
    // TF.js sizes both axes of a numeric `pad` from the filter height and stride height, so a
    // narrow input can still give an empty output, or one whose windows lie wholly in the
    // padding; such cases are the CPU kernel's.
    const info = backend_util.computeConv2DInfo(
      [c.batch, c.height, c.width, c.inChannels],
      [c.filterHeight, c.filterWidth, c.inChannels, c.outChannels],
      c.strides,
      c.dilations,
      c.pad,
      c.dimRoundingMode,
    )
    const rowsEnd = (info.outHeight - 1) * info.strideHeight + info.effectiveFilterHeight - info.padInfo.top
    const columnsEnd = (info.outWidth - 1) * info.strideWidth + info.effectiveFilterWidth - info.padInfo.left
    if (info.outHeight > 0 && info.outWidth > 0 && rowsEnd > 0 && columnsEnd > 0) return c
  }
}

function drawCase(random: SeededRandom, options: { gradient?: boolean; maxOutChannels?: number }): ConvCase {
  const filterHeight = 1 + random.nextInt(4)
  const filterWidth = 1 + random.nextInt(4)
  // TF.js wants strides or dilations to be 1.
  const dilated = !options.gradient && random.next() < 0.3
  const dilations: [number, number] = dilated ? [pick(random, [1, 2]), 2] : [1, 1]
  const strides: [number, number] = dilated ? [1, 1] : [pick(random, [1, 2]), pick(random, [1, 2])]
  const effectiveHeight = (filterHeight - 1) * dilations[0] + 1
  const effectiveWidth = (filterWidth - 1) * dilations[1] + 1
  // Odd sizes mostly, and never smaller than the (dilated) filter, so 'valid' has an output.
  const height = effectiveHeight + random.nextInt(6)
  const width = effectiveWidth + random.nextInt(6)
  const kind = pick(random, ['same', 'valid', 'number', 'explicit'] as const)
  let pad: Padding
  let dimRoundingMode: RoundingMode
  if (kind === 'number') {
    pad = random.nextInt(3)
    if (!options.gradient) dimRoundingMode = pick(random, [undefined, 'floor', 'round', 'ceil'] as const)
  } else if (kind === 'explicit') {
    pad = [[0, 0], [random.nextInt(3), random.nextInt(3)], [random.nextInt(3), random.nextInt(3)], [0, 0]]
    if (!options.gradient) dimRoundingMode = pick(random, [undefined, 'floor', 'ceil'] as const)
  } else {
    pad = kind
  }
  return {
    batch: 1 + random.nextInt(3),
    height,
    width,
    inChannels: 1 + random.nextInt(8),
    outChannels: 1 + random.nextInt(options.maxOutChannels ?? 8),
    filterHeight,
    filterWidth,
    strides,
    dilations,
    pad,
    dimRoundingMode,
  }
}

function describe(c: ConvCase): string {
  const shapes = `x[${c.batch},${c.height},${c.width},${c.inChannels}] f${c.filterHeight}x${c.filterWidth}→${c.outChannels}`
  return `${shapes} s${c.strides} d${c.dilations} pad ${JSON.stringify(c.pad)} ${c.dimRoundingMode ?? ''}`
}

function inputOf(c: ConvCase, seed: number): Tensor4D {
  return seededTensor([c.batch, c.height, c.width, c.inChannels], seed) as Tensor4D
}

function filterOf(c: ConvCase, seed: number): Tensor4D {
  return seededTensor([c.filterHeight, c.filterWidth, c.inChannels, c.outChannels], seed) as Tensor4D
}

test('Conv2D matches the CPU kernel on seeded random shapes, paddings, strides and dilations', async () => {
  await requireNativeBackend()
  for (let seed = 1; seed <= 60; seed++) {
    const c = randomCase(seed)
    compareWithCpu(
      `conv2d ${describe(c)}`,
      () => tf.conv2d(inputOf(c, seed), filterOf(c, seed + 1000), c.strides, c.pad, 'NHWC', c.dilations, c.dimRoundingMode),
      { native: ['Conv2D'] },
    )
  }
})

test('DepthwiseConv2dNative matches the CPU kernel on seeded random shapes and multipliers', async () => {
  await requireNativeBackend()
  for (let seed = 101; seed <= 150; seed++) {
    const c = randomCase(seed, { maxOutChannels: 3 })
    compareWithCpu(
      `depthwiseConv2d ${describe(c)}`,
      () =>
        tf.depthwiseConv2d(inputOf(c, seed), filterOf(c, seed + 1000), c.strides, c.pad, 'NHWC', c.dilations, c.dimRoundingMode),
      { native: ['DepthwiseConv2dNative'] },
    )
  }
})

test('size-1 dimensions: 1×1 images, 1×1 filters, single channels, batch 1', async () => {
  await requireNativeBackend()
  const cases: [number[], number[], 'same' | 'valid'][] = [
    [[1, 1, 1, 1], [1, 1, 1, 1], 'valid'],
    [[1, 1, 1, 3], [3, 3, 3, 2], 'same'],
    [[2, 1, 7, 2], [1, 3, 2, 5], 'valid'],
    [[1, 5, 1, 1], [3, 1, 1, 1], 'same'],
  ]
  for (const [xShape, filterShape, pad] of cases) {
    const x = () => seededTensor(xShape, 7) as Tensor4D
    const filter = () => seededTensor(filterShape, 8) as Tensor4D
    compareWithCpu(`conv2d ${xShape} ${filterShape} ${pad}`, () => tf.conv2d(x(), filter(), 1, pad), { native: ['Conv2D'] })
    compareWithCpu(
      `conv2d gradients ${xShape} ${filterShape} ${pad}`,
      () =>
        tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.square(tf.conv2d(a as Tensor4D, b as Tensor4D, 1, pad))))([
          x(),
          filter(),
        ]),
      { native: ['Conv2DBackpropInput', 'Conv2DBackpropFilter'] },
    )
  }
})

test('conv2d gradients wrt input and filter agree with the CPU backend', async () => {
  await requireNativeBackend()
  for (let seed = 201; seed <= 230; seed++) {
    const c = randomCase(seed, { gradient: true })
    const probe = (y: Tensor) => seededTensor(y.shape, seed + 2000)
    compareWithCpu(
      `conv2d gradients ${describe(c)}`,
      () =>
        tf.grads((x: Tensor, f: Tensor) => {
          const y = tf.conv2d(x as Tensor4D, f as Tensor4D, c.strides, c.pad)
          return tf.sum(tf.mul(y, probe(y)))
        })([inputOf(c, seed), filterOf(c, seed + 1000)]),
      { native: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] },
    )
  }
})

test('depthwiseConv2d gradients wrt input and filter agree with the CPU backend', async () => {
  await requireNativeBackend()
  for (let seed = 301; seed <= 330; seed++) {
    const c = randomCase(seed, { gradient: true, maxOutChannels: 3 })
    const probe = (y: Tensor) => seededTensor(y.shape, seed + 2000)
    compareWithCpu(
      `depthwiseConv2d gradients ${describe(c)}`,
      () =>
        tf.grads((x: Tensor, f: Tensor) => {
          const y = tf.depthwiseConv2d(x as Tensor4D, f as Tensor4D, c.strides, c.pad)
          return tf.sum(tf.mul(y, probe(y)))
        })([inputOf(c, seed), filterOf(c, seed + 1000)]),
      { native: ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'] },
    )
  }
})

test('conv2dTranspose runs on the native Conv2DBackpropInput', async () => {
  await requireNativeBackend()
  type Shape4 = [number, number, number, number]
  const cases: { input: Shape4; filter: Shape4; output: Shape4; stride: number; pad: 'same' | 'valid' }[] = [
    { input: [2, 4, 4, 3], filter: [3, 3, 5, 3], output: [2, 8, 8, 5], stride: 2, pad: 'same' },
    { input: [1, 3, 5, 2], filter: [3, 2, 4, 2], output: [1, 7, 10, 4], stride: 2, pad: 'valid' },
    { input: [3, 5, 5, 1], filter: [2, 2, 2, 1], output: [3, 5, 5, 2], stride: 1, pad: 'same' },
  ]
  for (const { input, filter, output, stride, pad } of cases) {
    compareWithCpu(
      `conv2dTranspose ${input} ${filter} → ${output}`,
      () => tf.conv2dTranspose(seededTensor(input, 1) as Tensor4D, seededTensor(filter, 2) as Tensor4D, output, stride, pad),
      { native: ['Conv2DBackpropInput'] },
    )
  }
})

test('FusedConv2D and FusedDepthwiseConv2D: every activation, with [C], scalar or no bias', async () => {
  await requireNativeBackend()
  const activations = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid', 'prelu'] as const
  let seed = 401
  for (const depthwise of [false, true]) {
    for (const activation of activations) {
      for (const biasKind of ['channels', 'scalar', 'none'] as const) {
        seed++
        const drawn = randomCase(seed, { maxOutChannels: depthwise ? 3 : 8 })
        // The fused ops' types take no explicit padding; the Conv2D tests cover it.
        const pad: 'same' | 'valid' | number = Array.isArray(drawn.pad) ? 'same' : drawn.pad
        const c = { ...drawn, pad, dimRoundingMode: Array.isArray(drawn.pad) ? undefined : drawn.dimRoundingMode }
        const outChannels = depthwise ? c.inChannels * c.outChannels : c.outChannels
        // Values around ±3 so relu6 clips and the negative branches are exercised.
        const bias = () => {
          if (biasKind === 'channels') return seededTensor([outChannels], seed + 3000, -2, 2)
          return biasKind === 'scalar' ? tf.scalar(0.5) : undefined
        }
        const prelu = () => (activation === 'prelu' ? seededTensor([outChannels], seed + 4000, 0, 0.5) : undefined)
        const kernel = depthwise ? 'FusedDepthwiseConv2D' : 'FusedConv2D'
        compareWithCpu(
          `${kernel} ${activation} bias ${biasKind} ${describe(c)}`,
          () => {
            const args = {
              x: inputOf(c, seed).mul(3) as Tensor4D,
              filter: filterOf(c, seed + 1000),
              strides: c.strides,
              pad: c.pad,
              dataFormat: 'NHWC' as const,
              dilations: c.dilations,
              dimRoundingMode: c.dimRoundingMode,
              bias: bias(),
              activation,
              preluActivationWeights: prelu(),
              leakyreluAlpha: 0.15,
            }
            return depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args)
          },
          { native: [kernel] },
        )
      }
    }
  }
})

test('bias and prelu weights broadcast as [1, 1, 1, C] and [1] run natively too', async () => {
  await requireNativeBackend()
  const x = () => seededTensor([2, 6, 5, 3], 11) as Tensor4D
  const filter = () => seededTensor([3, 3, 3, 4], 12) as Tensor4D
  compareWithCpu(
    'fused conv2d bias [1,1,1,4], prelu [1]',
    () =>
      tf.fused.conv2d({
        x: x(),
        filter: filter(),
        strides: 1,
        pad: 'same',
        bias: seededTensor([1, 1, 1, 4], 13),
        activation: 'prelu',
        preluActivationWeights: tf.tensor1d([0.3]),
      }),
    { native: ['FusedConv2D'] },
  )
})

test('cases the native kernels do not cover fall back to the CPU kernel', async () => {
  await requireNativeBackend()
  // NCHW data format.
  compareWithCpu(
    'conv2d NCHW',
    () => tf.conv2d(seededTensor([2, 3, 7, 6], 21) as Tensor4D, seededTensor([3, 3, 3, 4], 22) as Tensor4D, 1, 'same', 'NCHW'),
    { fallback: ['Conv2D'] },
  )
  compareWithCpu(
    'conv2d gradients NCHW',
    () =>
      tf.grads((x: Tensor, f: Tensor) => tf.sum(tf.square(tf.conv2d(x as Tensor4D, f as Tensor4D, 2, 'valid', 'NCHW'))))([
        seededTensor([2, 3, 7, 6], 21),
        seededTensor([3, 3, 3, 4], 22),
      ]),
    { fallback: ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] },
  )
  // A bias that is not per channel: [outHeight, outWidth, outChannels].
  compareWithCpu(
    'fused conv2d with a [H, W, C] bias',
    () =>
      tf.fused.conv2d({
        x: seededTensor([2, 5, 5, 2], 23) as Tensor4D,
        filter: seededTensor([3, 3, 2, 3], 24) as Tensor4D,
        strides: 1,
        pad: 'valid',
        bias: seededTensor([3, 3, 3], 25),
        activation: 'relu',
      }),
    { fallback: ['FusedConv2D'] },
  )
  // Dilated depthwise gradients: the CPU kernels compute them without the dilation, so they keep them.
  const x = seededTensor([1, 7, 7, 2], 26)
  const filter = seededTensor([2, 2, 2, 1], 27)
  const dy = seededTensor([1, 5, 5, 2], 28)
  const attrs = { strides: [1, 1], dilations: [2, 2], pad: 'valid' }
  compareWithCpu(
    'DepthwiseConv2dNativeBackpropInput dilated',
    () =>
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, { ...attrs, inputShape: x.shape }) as Tensor,
    { fallback: ['DepthwiseConv2dNativeBackpropInput'] },
  )
  compareWithCpu(
    'DepthwiseConv2dNativeBackpropFilter dilated',
    () =>
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: filter.shape }) as Tensor,
    { fallback: ['DepthwiseConv2dNativeBackpropFilter'] },
  )
  tf.dispose([x, filter, dy])
})

test('a cached shape gives fresh results for new values', async () => {
  await requireNativeBackend()
  for (const seed of [31, 32, 33]) {
    compareWithCpu(
      `conv2d same shape, seed ${seed}`,
      () =>
        tf.fused.conv2d({
          x: seededTensor([3, 9, 9, 4], seed) as Tensor4D,
          filter: seededTensor([3, 3, 4, 6], seed + 1) as Tensor4D,
          strides: 1,
          pad: 'same',
          bias: seededTensor([6], seed + 2),
          activation: 'relu',
        }),
      { native: ['FusedConv2D'] },
    )
  }
})

test('the reference CNN shapes at batch 64, and a single image', async () => {
  await requireNativeBackend()
  const first = { x: [64, 28, 28, 1], filter: [3, 3, 1, 16] }
  const second = { x: [64, 13, 13, 16], filter: [3, 3, 16, 32] }
  for (const { x, filter } of [first, second, { x: [1, 28, 28, 1], filter: [3, 3, 1, 16] }]) {
    compareWithCpu(
      `conv2d ${x} ${filter}`,
      () => tf.conv2d(seededTensor(x, 41) as Tensor4D, seededTensor(filter, 42) as Tensor4D, 1, 'valid'),
      { native: ['Conv2D'] },
    )
  }
  const dy = () => seededTensor([64, 11, 11, 32], 43) as Tensor4D
  compareWithCpu(
    'conv2dBackpropInput of the second layer at batch 64',
    () => tf.conv2dTranspose(dy(), seededTensor(second.filter, 44) as Tensor4D, [64, 13, 13, 16], 1, 'valid'),
    { native: ['Conv2DBackpropInput'] },
  )
  // The CPU backend needs seconds for a batch-64 filter gradient; batch 4 keeps the test quick.
  compareWithCpu(
    'conv2d filter gradient of the second layer at batch 4',
    () =>
      tf.grad((f: Tensor) => {
        const y = tf.conv2d(seededTensor([4, 13, 13, 16], 45) as Tensor4D, f as Tensor4D, 1, 'valid')
        return tf.sum(tf.mul(y, seededTensor([4, 11, 11, 32], 46)))
      })(seededTensor(second.filter, 47)),
    { native: ['Conv2DBackpropFilter'] },
  )
})

test('the native conv2d gradient matches central differences', async () => {
  await requireNativeBackend()
  const x = seededTensor([2, 6, 5, 3], 51) as Tensor4D
  const filter = seededTensor([3, 3, 3, 2], 52)
  checkGradientNumerically('conv2d wrt filter', (f) => tf.sum(tf.square(tf.conv2d(x, f as Tensor4D, 2, 'same'))), filter, {
    epsilon: 1e-2,
  })
  const filter4 = filter as Tensor4D
  checkGradientNumerically('conv2d wrt input', (input) => tf.sum(tf.square(tf.conv2d(input as Tensor4D, filter4, 1, 'valid'))), x)
  tf.dispose([x, filter])
  assert.ok(true)
})

test('the addon rejects inconsistent arguments with a JS error instead of crashing', async () => {
  await requireNativeBackend()
  const addon = nativeState()?.addon
  assert.ok(addon)
  const convForward = addon.convForward as (...args: unknown[]) => void
  // x [1, 4, 4, 1], filter 3×3 1→2, valid: y [1, 2, 2, 2].
  const geometry = [1, 4, 4, 1, 2, 2, 2, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1, 4, 4]
  const x = new Float32Array(16)
  const filter = new Float32Array(18)
  assert.throws(() => convForward(x, filter, null, new Float32Array(7), geometry, 0, 0, null), /y has 7 elements, expected 8/)
  assert.throws(() => convForward(x, filter, null, new Float32Array(8), geometry.slice(1), 0, 0, null), /geometry has 19/)
  const badGroups = [...geometry.slice(0, 17), 3, 4, 4]
  assert.throws(() => convForward(x, filter, null, new Float32Array(8), badGroups, 0, 0, null), /conv geometry out of range/)
  // A padding oneDNN cannot reconcile with the output size is its error, caught and named.
  const inconsistent = [...geometry.slice(0, 4), 3, 3, ...geometry.slice(6)]
  assert.throws(
    () => convForward(x, filter, null, new Float32Array(18), inconsistent, 0, 0, null),
    /malt-native convForward: oneDNN error/,
  )
  convForward(x, filter, null, new Float32Array(8), geometry, 0, 0, null)
})
