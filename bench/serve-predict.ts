// In-process predict latency of served Layers models: the direct plan (src/serving/runtimes/direct.ts)
// against the TF.js path (MALT_SERVING_DIRECT=0) of the same loaded model version, for the MLP
// (784→256→128→10) and the Fashion-MNIST CNN of the native-backend issue, at batch 1 (what a
// request at concurrency 1 costs) and batch 64 (a full dynamic batch). Median and p90 of single
// calls, the two paths interleaved in rounds so background load hits both alike.
// Run: `node --import tsx bench/serve-predict.ts` (or with `npm run bench -- serve`).
// MALT_BENCH_CALLS sets the batch-1 calls per path (default 5000; batch 64 gets a tenth).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { ready } from '../src/backend/index.js'
import { tfjsRuntime } from '../src/serving/runtimes/tfjs.js'
import type { LoadedModel, Tensor } from '../src/serving/types.js'
import { SeededRandom } from '../src/util/random.js'
import { buildModel, type ModelKind } from './lib/models.js'

const CALLS = Number(process.env.MALT_BENCH_CALLS ?? 5000)
const ROUNDS = 5
const BATCHES = [1, 64]

type Served = LoadedModel & { readonly execution: 'direct' | 'tfjs' }

async function loadWith(dir: string, direct: boolean): Promise<Served> {
  const previous = process.env.MALT_SERVING_DIRECT
  process.env.MALT_SERVING_DIRECT = direct ? '1' : '0'
  try {
    return (await tfjsRuntime.load(dir)) as Served
  } finally {
    if (previous === undefined) delete process.env.MALT_SERVING_DIRECT
    else process.env.MALT_SERVING_DIRECT = previous
  }
}

function inputFor(model: LoadedModel, rows: number): Map<string, Tensor> {
  const [spec] = model.inputs
  const shape = [rows, ...spec.shape.slice(1)]
  const random = new SeededRandom(rows)
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random.next())
  return new Map([[spec.name, { name: spec.name, datatype: 'FP32', shape, data }]])
}

/** Times `calls` predictions one by one, in µs. */
async function timeCalls(model: LoadedModel, feeds: Map<string, Tensor>, calls: number, into: number[]): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const start = process.hrtime.bigint()
    await model.predict(feeds)
    into.push(Number(process.hrtime.bigint() - start) / 1000)
  }
}

function quantile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

function maxDifference(a: Tensor, b: Tensor): number {
  const x = a.data as Float32Array
  const y = b.data as Float32Array
  let worst = 0
  for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]))
  return worst
}

export async function run(): Promise<void> {
  const backend = await ready()
  console.log(`backend ${backend.name} (${backend.provider}); ${CALLS} batch-1 calls per path, interleaved in ${ROUNDS} rounds`)
  const rows: string[][] = [['model', 'batch', 'direct p50 µs', 'direct p90 µs', 'TF.js p50 µs', 'TF.js p90 µs', 'TF.js / direct (p50)']]
  for (const kind of ['mlp', 'cnn'] as ModelKind[]) {
    const dir = mkdtempSync(join(tmpdir(), 'malt-bench-predict-'))
    const built = buildModel(kind, 1)
    await built.save(`file://${dir}`)
    built.dispose()
    const direct = await loadWith(dir, true)
    const viaTfjs = await loadWith(dir, false)
    try {
      if (direct.execution !== 'direct') console.log(`${kind}: the direct plan is not in use (execution ${direct.execution}); both columns are TF.js`)
      for (const batch of BATCHES) {
        const feeds = inputFor(direct, batch)
        const difference = maxDifference([...(await direct.predict(feeds)).values()][0], [...(await viaTfjs.predict(feeds)).values()][0])
        if (difference > 1e-5) throw new Error(`${kind} batch ${batch}: direct and TF.js outputs differ by ${difference}`)
        const calls = batch === 1 ? CALLS : Math.max(50, Math.round(CALLS / 10))
        const perRound = Math.ceil(calls / ROUNDS)
        // Warm-up: JIT, oneDNN primitives for this shape, the plan's arenas.
        await timeCalls(direct, feeds, Math.min(500, perRound), [])
        await timeCalls(viaTfjs, feeds, Math.min(500, perRound), [])
        const directTimes: number[] = []
        const tfjsTimes: number[] = []
        for (let round = 0; round < ROUNDS; round++) {
          await timeCalls(direct, feeds, perRound, directTimes)
          await timeCalls(viaTfjs, feeds, perRound, tfjsTimes)
        }
        const [d50, t50] = [quantile(directTimes, 0.5), quantile(tfjsTimes, 0.5)]
        rows.push([kind, String(batch), d50.toFixed(1), quantile(directTimes, 0.9).toFixed(1), t50.toFixed(1), quantile(tfjsTimes, 0.9).toFixed(1), `${(t50 / d50).toFixed(2)}×`])
      }
    } finally {
      await direct.dispose()
      await viaTfjs.dispose()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)))
  for (const row of rows) console.log(row.map((cell, column) => cell.padStart(widths[column])).join('  '))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
