// Per-step training losses of a reference model on one backend, for comparing backends (the
// loss-curve test and `npm run bench -- loss-curves`).
import { tf } from '../../src/backend/index.js'
import { buildModel, toTensors, type ModelKind } from './models.js'

/** Losses of `steps` trainOnBatch steps of `batch` samples (cycling through `samples`) on `backendName`. */
export async function lossCurve(
  backendName: string,
  kind: ModelKind,
  samples: { images: Float32Array; labels: Int32Array },
  batch: number,
  steps: number,
): Promise<number[]> {
  tf.setBackend(backendName)
  const model = buildModel(kind, 11)
  const { x, y } = toTensors(kind, samples)
  const losses: number[] = []
  const count = samples.labels.length
  for (let step = 0; step < steps; step++) {
    const start = (step * batch) % count
    const [xb, yb] = tf.tidy(() => [x.slice(start, batch), y.slice(start, batch)])
    const loss = await model.trainOnBatch(xb, yb)
    losses.push(Array.isArray(loss) ? loss[0] : loss)
    tf.dispose([xb, yb])
  }
  tf.dispose([x, y])
  model.dispose()
  return losses
}

/** How far two loss curves are apart, relative to the reference curve. */
export function curveDistance(reference: number[], other: number[]): { first: number; worst: number; mean: number; finalReference: number; finalOther: number } {
  const relative = reference.map((loss, step) => Math.abs(other[step] - loss) / Math.max(Math.abs(loss), 1e-3))
  const tail = (curve: number[]) => curve.slice(-20).reduce((a, b) => a + b, 0) / Math.min(20, curve.length)
  return {
    first: relative[0],
    worst: Math.max(...relative),
    mean: relative.reduce((a, b) => a + b, 0) / relative.length,
    finalReference: tail(reference),
    finalOther: tail(other),
  }
}
