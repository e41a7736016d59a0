// Loss curves of the two reference models at their benchmark batch size (64), 200 steps from the
// same seed and data, on the CPU backend and on malt-native. The unit test runs the CNN at batch
// 2; at batch 64 the CPU backend needs ~20 minutes for the CNN (~0.07 s per sample).
import { ready, tf } from '../src/backend/index.js'
import { fashionSamples, type ModelKind } from './lib/models.js'
import { curveDistance, lossCurve } from './lib/curves.js'

const STEPS = 200
const BATCH = 64

export async function run(): Promise<void> {
  await ready()
  const samples = await fashionSamples(BATCH * 100)
  for (const kind of ['mlp', 'cnn'] as ModelKind[]) {
    const start = performance.now()
    const cpu = await lossCurve('cpu', kind, samples, BATCH, STEPS)
    const cpuSeconds = (performance.now() - start) / 1000
    const native = await lossCurve('malt-native', kind, samples, BATCH, STEPS)
    const d = curveDistance(cpu, native)
    console.log(
      `${kind}: ${STEPS} steps × ${BATCH} (CPU backend ${cpuSeconds.toFixed(0)} s) — step 1 ${cpu[0].toFixed(6)} vs ${native[0].toFixed(6)}; ` +
        `relative difference per step: mean ${(d.mean * 100).toFixed(3)}%, worst ${(d.worst * 100).toFixed(3)}%; ` +
        `mean of the last 20: ${d.finalReference.toFixed(4)} (CPU) vs ${d.finalOther.toFixed(4)} (native)`,
    )
    for (let step = 0; step < STEPS; step += 25) console.log(`  step ${String(step + 1).padStart(3)}  cpu ${cpu[step].toFixed(5)}  native ${native[step].toFixed(5)}`)
  }
  tf.setBackend('malt-native')
}
