// Training benchmark of the native-backend issue: samples/s of the reference CNN and MLP
// (bench/lib/models.ts; Adam, batch 64, real Fashion-MNIST images) on the pure-JS CPU backend and
// on malt-native, with PyTorch on the same models, data and thread count as the anchor, in the
// same run. Also the CNN's single-image and batch-64 inference latency on each.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type * as tfjs from '@tensorflow/tfjs'
import { ready, tf } from '../src/backend/index.js'
import { nativeBackend } from '../src/backend/native/index.js'
import { buildModel, fashionSamples, toTensors, type ModelKind } from './lib/models.js'
import { findPython } from './lib/python.js'

const BATCH = 64
/** Timed steps per round on malt-native (and PyTorch); the CPU backend gets fewer, it is ~500× slower. */
const STEPS = 150
const CPU_STEPS: Record<ModelKind, number> = { cnn: 2, mlp: 20 }
const WARMUP_STEPS = 5
const ROUNDS = 5
const benchDir = dirname(fileURLToPath(import.meta.url))
const torchScript = join(benchDir, 'lib', 'train_torch.py')

interface TorchReport {
  torch: string
  threads: number
  cnn: number
  mlp: number
  cnnLatency1: number
  cnnLatency64: number
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** Samples/s of `model.fit` over `steps` batches (after a warm-up fit that fills primitive caches). */
async function trainRate(kind: ModelKind, x: tfjs.Tensor, y: tfjs.Tensor, steps: number, warmupSteps: number): Promise<number> {
  const model = buildModel(kind, 7)
  const fitOptions = { batchSize: BATCH, epochs: 1, shuffle: false, verbose: 0 as const }
  if (warmupSteps > 0) {
    const [wx, wy] = [x.slice(0, warmupSteps * BATCH), y.slice(0, warmupSteps * BATCH)]
    await model.fit(wx, wy, fitOptions)
    tf.dispose([wx, wy])
  }
  const [tx, ty] = [x.slice(0, steps * BATCH), y.slice(0, steps * BATCH)]
  const start = performance.now()
  await model.fit(tx, ty, fitOptions)
  const seconds = (performance.now() - start) / 1000
  tf.dispose([tx, ty])
  model.dispose()
  return (steps * BATCH) / seconds
}

/** Median latency in ms of predicting `batch` images with the CNN, outputs read back. */
function cnnLatency(x: tfjs.Tensor, batch: number, repeats: number): number {
  const model = buildModel('cnn', 7)
  const input = x.slice(0, batch)
  for (let i = 0; i < 10; i++) tf.tidy(() => (model.predict(input) as tfjs.Tensor).dataSync())
  const times: number[] = []
  for (let i = 0; i < repeats; i++) {
    const start = performance.now()
    tf.tidy(() => (model.predict(input) as tfjs.Tensor).dataSync())
    times.push(performance.now() - start)
  }
  input.dispose()
  model.dispose()
  return median(times)
}

function findTorchPython(): string | undefined {
  return findPython(['torch'])
}

function runTorch(python: string, imagesFile: string, labelsFile: string, count: number, threads: number): TorchReport {
  const child = spawnSync(python, [torchScript, imagesFile, labelsFile, String(count), String(threads), String(WARMUP_STEPS)], {
    encoding: 'utf8',
  })
  if (child.status !== 0) throw new Error(`PyTorch run failed: ${child.stderr.trim().split('\n').slice(-3).join(' ')}`)
  return JSON.parse(child.stdout) as TorchReport
}

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ')
}

export async function run(): Promise<void> {
  await ready()
  if (!nativeBackend.available) throw new Error('the malt-native addon is not loaded: see `malt doctor`')
  const threads = nativeBackend.threads
  const count = STEPS * BATCH
  const samples = await fashionSamples(count)
  const dataDir = join(benchDir, '.data')
  if (!existsSync(dataDir)) mkdirSync(dataDir, { recursive: true })
  const imagesFile = join(dataDir, `train-fashion-${count}.f32`)
  const labelsFile = join(dataDir, `train-fashion-${count}.i32`)
  writeFileSync(imagesFile, samples.images)
  writeFileSync(labelsFile, samples.labels)
  const python = findTorchPython()
  console.log(
    `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${threads} native threads, batch ${BATCH}, Adam, Fashion-MNIST; ` +
      `malt-native/PyTorch: ${STEPS} steps × ${ROUNDS} rounds (median), CPU backend: CNN ${CPU_STEPS.cnn} / MLP ${CPU_STEPS.mlp} steps`,
  )
  if (!python) console.log('PyTorch: not found (tried $MALT_BENCH_PYTHON, python3, /usr/bin/python3, python); Debian: apt-get install python3-torch')

  const kinds: ModelKind[] = ['cnn', 'mlp']
  const rates: Record<string, Record<ModelKind, number[]>> = {
    cpu: { cnn: [], mlp: [] },
    native: { cnn: [], mlp: [] },
    torch: { cnn: [], mlp: [] },
  }
  const latency = { native: [0, 0], cpu: [0, 0], torch: [Number.NaN, Number.NaN] }
  let torchVersion = ''

  tf.setBackend('cpu')
  for (const kind of kinds) {
    const { x, y } = toTensors(kind, samples)
    rates.cpu[kind].push(await trainRate(kind, x, y, CPU_STEPS[kind], 0))
    if (kind === 'cnn') latency.cpu = [cnnLatency(x, 1, 20), cnnLatency(x, 64, 3)]
    tf.dispose([x, y])
  }
  tf.setBackend('malt-native')
  // TF.js's JavaScript (engine, layers) is JIT-compiled as it runs: one untimed pass first, so
  // round 1 measures the same warm process as the others (PyTorch's C++ needs no such pass).
  for (const kind of kinds) {
    const { x, y } = toTensors(kind, samples)
    await trainRate(kind, x, y, STEPS, WARMUP_STEPS)
    tf.dispose([x, y])
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of kinds) {
      const { x, y } = toTensors(kind, samples)
      rates.native[kind].push(await trainRate(kind, x, y, STEPS, WARMUP_STEPS))
      if (kind === 'cnn' && round === 0) latency.native = [cnnLatency(x, 1, 200), cnnLatency(x, 64, 100)]
      tf.dispose([x, y])
    }
    if (python) {
      const report = runTorch(python, imagesFile, labelsFile, count, threads)
      torchVersion = `${report.torch}, ${report.threads} threads`
      rates.torch.cnn.push(report.cnn)
      rates.torch.mlp.push(report.mlp)
      if (round === 0) latency.torch = [report.cnnLatency1, report.cnnLatency64]
    }
    console.log(`  round ${round + 1}/${ROUNDS} done`)
  }

  const widths = [34, 14, 14, 16, 16]
  console.log(`\ntraining samples/s (batch ${BATCH})`)
  console.log(row(['model', 'CPU backend', 'malt-native', `PyTorch`, 'native/PyTorch'], widths))
  for (const kind of kinds) {
    const native = median(rates.native[kind])
    const torch = rates.torch[kind].length > 0 ? median(rates.torch[kind]) : Number.NaN
    const label = kind === 'cnn' ? 'CNN conv16-pool-conv32-pool-dense10' : 'MLP 784-256-128-10'
    console.log(
      row(
        [label, rates.cpu[kind][0].toFixed(1), native.toFixed(0), Number.isNaN(torch) ? 'n/a' : torch.toFixed(0), Number.isNaN(torch) ? 'n/a' : `${(native / torch).toFixed(2)}×`],
        widths,
      ),
    )
    console.log(`  rounds: malt-native ${rates.native[kind].map((r) => r.toFixed(0)).join(', ')}; PyTorch ${rates.torch[kind].map((r) => r.toFixed(0)).join(', ') || 'n/a'}`)
  }
  console.log(`  native vs CPU backend: CNN ${(median(rates.native.cnn) / rates.cpu.cnn[0]).toFixed(0)}×, MLP ${(median(rates.native.mlp) / rates.cpu.mlp[0]).toFixed(0)}×`)
  console.log(`\nCNN inference latency, median ms (outputs read back)`)
  console.log(row(['batch', 'CPU backend', 'malt-native', 'PyTorch', 'native/PyTorch'], widths))
  for (const [i, batch] of [1, 64].entries()) {
    const torch = latency.torch[i]
    console.log(
      row(
        [String(batch), latency.cpu[i].toFixed(2), latency.native[i].toFixed(3), Number.isNaN(torch) ? 'n/a' : torch.toFixed(3), Number.isNaN(torch) ? 'n/a' : `${(torch / latency.native[i]).toFixed(2)}× faster`],
        widths,
      ),
    )
  }
  if (torchVersion) console.log(`\nPyTorch ${torchVersion}`)
  const counts = nativeBackend.callCounts()
  const fallbacks = Object.entries(counts).filter(([, count]) => count.fallback > 0)
  console.log(`native kernel fallbacks during the run: ${fallbacks.length === 0 ? 'none' : fallbacks.map(([name, c]) => `${name} ${c.fallback}`).join(', ')}`)
}
