// End to end on malt-native: the two benchmark models train to the same loss curve as on the CPU
// backend from the same seed and data, and long training leaks neither tensors nor memory.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tf } from '../../src/backend/index.js'
import { fashionSamples, type ModelKind } from '../../bench/lib/models.js'
import { curveDistance, lossCurve } from '../../bench/lib/curves.js'
import { requireNativeBackend } from '../helpers/native.js'

const STEPS = 200

function compareCurves(kind: ModelKind, cpu: number[], native: number[]): void {
  // Float32 rounding differs in the last bits (oneDNN's blocked sums vs the JS kernels' float64
  // sums). Adam amplifies such differences over many steps: at batch 8 the CNN's curves agree to
  // 1e-6 for 80 steps, then drift by up to ~2.5% at a step while their averages agree to 0.1%; the
  // MLP at batch 64 agrees to 5 digits for ~100 steps, then by 0.5% on average, 4.5% at worst.
  // So: identical start, within 1% on average, 10% at any step, the same end point.
  const distance = curveDistance(cpu, native)
  assert.ok(distance.first < 1e-4, `${kind}: first-step losses ${native[0]} vs ${cpu[0]}`)
  assert.ok(distance.worst < 0.1, `${kind}: loss curves differ by up to ${(distance.worst * 100).toFixed(2)}% at a step`)
  assert.ok(distance.mean < 0.01, `${kind}: loss curves differ by ${(distance.mean * 100).toFixed(2)}% on average`)
  const { finalReference, finalOther } = distance
  assert.ok(Math.abs(finalOther - finalReference) / finalReference < 0.02, `${kind}: final losses ${finalOther} vs ${finalReference}`)
  assert.ok(finalOther < native[0] * 0.7, `${kind}: the native run did not learn (${native[0]} → ${finalOther})`)
}

/** Trains `kind` for STEPS steps of `batch` on both backends from the same seed and data and compares the curves. */
async function assertSameCurves(kind: ModelKind, batch: number, sampleCount: number): Promise<void> {
  await requireNativeBackend()
  const previous = tf.getBackend()
  try {
    const samples = await fashionSamples(sampleCount)
    const cpu = await lossCurve('cpu', kind, samples, batch, STEPS)
    const native = await lossCurve('malt-native', kind, samples, batch, STEPS)
    compareCurves(kind, cpu, native)
  } finally {
    tf.setBackend(previous)
  }
}

test('the MLP trains to the same loss curve on malt-native as on the CPU backend (200 steps, batch 64)', async () => {
  await assertSameCurves('mlp', 64, 64 * 50)
})

test('the CNN trains to the same loss curve on malt-native as on the CPU backend (200 steps)', async () => {
  // The CPU backend needs ~0.07 s per CNN sample (its Conv2DBackpropFilter); batch 64 for 200
  // steps would take 20 minutes, so this test uses batch 2 (~30 s). `npm run bench -- loss-curves`
  // runs both models at batch 64.
  await assertSameCurves('cnn', 2, 2 * 200)
})
