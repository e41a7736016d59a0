// The independent check of Malt's TensorBoard event files: the real TensorBoard (Python, from
// .tools/venv) loads two trials' scalars and the hparams records, and its server serves them.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { useTempDir } from './helpers/temp-dir.js'
import { requireToolsPython } from './helpers/python-tools.js'
import { EventWriter, writeHparamsExperiment, writeSessionEnd, writeSessionStart } from '../src/experiments/tensorboard/index.js'
import type { Params } from '../src/experiments/types.js'

const temp = useTempDir()
const runDir = temp.join('run')
const checker = fileURLToPath(new URL('./python/check_tfevents.py', import.meta.url))

/** A trial as the checker expects it: JSON cannot hold NaN, so non-finite values are strings. */
interface ExpectedTrial {
  params: Params
  status: string
  scalars: Record<string, [number, number | string][]>
}

const trials: Record<string, { params: Params; status: 'success' | 'failure'; loss: number[]; accuracy: number[] }> = {
  'lr=0.01&optimizer=adam': { params: { lr: 0.01, optimizer: 'adam', batchnorm: true }, status: 'success', loss: [2.3, 1.1, 0, 0.42], accuracy: [0.1, 0.55, 0.8, 0.91] },
  'lr=0.1&optimizer=sgd': { params: { lr: 0.1, optimizer: 'sgd', batchnorm: false }, status: 'failure', loss: [2.3, Number.NaN, Number.POSITIVE_INFINITY, 9.5], accuracy: [0.1, 0.09, 0.1, 0.1] },
}
const hparams = [
  { name: 'lr', domain: { min: 0.001, max: 0.1 } },
  { name: 'optimizer', domain: { values: ['adam', 'sgd'] } },
  { name: 'batchnorm', domain: { values: [true, false] } },
]

function jsonNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value)
}

/** Writes the run: the experiment summary, then per trial its session start, scalars and end. */
async function writeRun(): Promise<Record<string, ExpectedTrial>> {
  await writeHparamsExperiment(runDir, { hparams, metrics: [{ tag: 'loss' }, { tag: 'accuracy', displayName: 'Accuracy' }], name: 'format-check' })
  const expected: Record<string, ExpectedTrial> = {}
  let first = true
  for (const [name, trial] of Object.entries(trials)) {
    const trialDir = join(runDir, name)
    const start = Date.now()
    // One trial writes its session start through its open writer, the other into its own file.
    if (!first) await writeSessionStart(trialDir, { params: trial.params, startTimeMs: start })
    const writer = await EventWriter.create(trialDir)
    if (first) await writeSessionStart(writer, { params: trial.params, startTimeMs: start })
    trial.loss.forEach((loss, step) => writer.scalars(step * 10, { loss, accuracy: trial.accuracy[step] }))
    await writeSessionEnd(writer, { status: trial.status, endTimeMs: Date.now() + 1 })
    await writer.close()
    expected[name] = {
      params: trial.params,
      status: trial.status === 'success' ? 'STATUS_SUCCESS' : 'STATUS_FAILURE',
      scalars: {
        loss: trial.loss.map((v, step) => [step * 10, jsonNumber(v)]),
        accuracy: trial.accuracy.map((v, step) => [step * 10, v]),
      },
    }
    first = false
  }
  return expected
}

const written = writeRun()
written.catch(() => {}) // Observed by each test; never left unhandled.

test('TensorBoard (EventAccumulator, hparams plugin backend) reads the scalars and hparams records; every CRC checks out', async (t) => {
  const python = requireToolsPython(t)
  const expected = await written
  if (!python) return
  const spec = temp.file('expected.json', JSON.stringify({ hparams: expectedHparams(), metrics: ['loss', 'accuracy'], trials: expected }))
  const result = spawnSync(python, [checker, runDir, spec], { encoding: 'utf8', timeout: 120_000 })
  assert.equal(result.status, 0, `check_tfevents.py failed:\n${result.stderr}\n${result.stdout}`)
  const seen = JSON.parse(result.stdout) as {
    files: Record<string, number>
    scalars: Record<string, Record<string, [number, number | string][]>>
    sessionGroups: { totalSize: number; sessionGroups: { name: string; sessions: { status: string }[] }[] }
  }
  // 1 experiment file, 2 trial files, 1 separate session-start file; each starts with its version record.
  assert.equal(Object.keys(seen.files).length, 4)
  assert.equal(seen.files[Object.keys(seen.files).find((f) => f.startsWith('lr=0.01&optimizer=adam/'))!], 1 + 1 + 4 + 1)
  assert.deepEqual(seen.scalars['lr=0.1&optimizer=sgd'].loss.map(([, v]) => v), [2.299999952316284, 'nan', 'inf', 9.5])
  assert.equal(seen.sessionGroups.totalSize, 2)
  t.diagnostic(`TensorBoard saw: ${result.stdout.trim()}`)

  // The CRC check is not vacuous: one flipped byte in a trial's file fails it.
  const corrupt = temp.join('corrupt')
  cpSync(runDir, corrupt, { recursive: true })
  const victim = join(corrupt, Object.keys(seen.files).find((f) => f.startsWith('lr=0.01&optimizer=adam/'))!)
  const bytes = readFileSync(victim)
  bytes[bytes.length - 10] ^= 0x01
  writeFileSync(victim, bytes)
  const broken = spawnSync(python, [checker, corrupt, spec], { encoding: 'utf8', timeout: 120_000 })
  assert.equal(broken.status, 1)
  assert.match(broken.stderr, /record 6: data CRC mismatch/)
})

function expectedHparams(): object[] {
  return [
    { name: 'lr', type: 'DATA_TYPE_FLOAT64', interval: [0.001, 0.1] },
    { name: 'optimizer', type: 'DATA_TYPE_STRING', values: ['adam', 'sgd'] },
    { name: 'batchnorm', type: 'DATA_TYPE_BOOL', values: [true, false] },
  ]
}

let server: ChildProcess | undefined
after(() => {
  // Detached into its own process group: the Rust data server child goes with it.
  if (server?.pid === undefined || server.exitCode !== null) return
  try {
    process.kill(-server.pid, 'SIGTERM')
  } catch {
    // Already gone.
  }
})

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const address = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}

/** The body of a GET (or a JSON POST) once TensorBoard answers 200 with `ready(body)` true; undefined after `deadline`. */
async function poll(url: string, deadline: number, ready: (body: unknown) => boolean, post?: object): Promise<unknown> {
  while (Date.now() < deadline && server?.exitCode === null) {
    try {
      const response = await fetch(url, post ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(post) } : {})
      if (response.ok) {
        const body: unknown = await response.json()
        if (ready(body)) return body
      }
    } catch {
      // Not listening yet.
    }
    await sleep(250)
  }
  return undefined
}

test('a real `tensorboard --logdir` serves the scalars and the HParams experiment and session groups', async (t) => {
  const python = requireToolsPython(t)
  await written
  if (!python) return
  const port = await freePort()
  const log: string[] = []
  server = spawn(join(dirname(python), 'tensorboard'), ['--logdir', runDir, '--port', String(port), '--host', '127.0.0.1'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  server.stdout!.on('data', (chunk: Buffer) => log.push(chunk.toString()))
  server.stderr!.on('data', (chunk: Buffer) => log.push(chunk.toString()))
  const base = `http://127.0.0.1:${port}`
  const names = Object.keys(trials)

  const tags = (await poll(`${base}/data/plugin/scalars/tags`, Date.now() + 20_000, (body) => names.every((run) => Object.hasOwn(body as object, run)))) as
    | Record<string, Record<string, unknown>>
    | undefined
  if (tags === undefined) {
    // The EventAccumulator test above is the format check; a server that cannot start here is reported, not failed.
    t.skip(`TensorBoard did not serve both runs within 20 s: ${log.join('').slice(-500)}`)
    return
  }
  for (const run of names) assert.deepEqual(Object.keys(tags[run]).sort(), ['accuracy', 'loss'])

  const url = `${base}/data/plugin/scalars/scalars?run=${encodeURIComponent(names[1])}&tag=loss`
  const points = (await (await fetch(url)).json()) as [number, number, number | string][]
  assert.deepEqual(points.map(([, step, value]) => [step, value]), [[0, 2.299999952316284], [10, 'NaN'], [20, 'Infinity'], [30, 9.5]])

  const experiment = (await poll(`${base}/data/plugin/hparams/experiment`, Date.now() + 10_000, () => true, { experimentName: '' })) as {
    name: string
    hparamInfos: { name: string; type: string; domainDiscrete?: unknown[]; domainInterval?: { minValue: number; maxValue: number } }[]
    metricInfos: { name: { tag: string }; displayName: string }[]
  }
  assert.equal(experiment.name, 'format-check')
  const byName = Object.fromEntries(experiment.hparamInfos.map((info) => [info.name, info]))
  assert.deepEqual(byName.lr.domainInterval, { minValue: 0.001, maxValue: 0.1 })
  assert.deepEqual(byName.optimizer.domainDiscrete, ['adam', 'sgd'])
  assert.equal(byName.batchnorm.type, 'DATA_TYPE_BOOL')
  assert.deepEqual(experiment.metricInfos.map((m) => [m.name.tag, m.displayName]), [['loss', ''], ['accuracy', 'Accuracy']])

  const request = { experimentName: '', allowedStatuses: ['STATUS_UNKNOWN', 'STATUS_SUCCESS', 'STATUS_FAILURE', 'STATUS_RUNNING'], startIndex: 0, sliceSize: 100 }
  const groups = (await poll(`${base}/data/plugin/hparams/session_groups`, Date.now() + 10_000, () => true, request)) as {
    totalSize: number
    sessionGroups: { name: string; hparams: Params; sessions: { status: string }[]; metricValues: { name: { tag: string }; value: number | string }[] }[]
  }
  assert.equal(groups.totalSize, 2)
  const group = Object.fromEntries(groups.sessionGroups.map((g) => [g.name, g]))
  assert.deepEqual(group[names[0]].hparams, trials[names[0]].params)
  assert.deepEqual(group[names[1]].hparams, trials[names[1]].params)
  assert.equal(group[names[0]].sessions[0].status, 'STATUS_SUCCESS')
  assert.equal(group[names[1]].sessions[0].status, 'STATUS_FAILURE')
  const accuracy = group[names[0]].metricValues.find((m) => m.name.tag === 'accuracy')
  assert.ok(accuracy && Math.abs(Number(accuracy.value) - 0.91) < 1e-6, `last accuracy of ${names[0]}: ${JSON.stringify(accuracy)}`)
  t.diagnostic(`TensorBoard served: tags ${JSON.stringify(tags)}; ${names[1]}/loss ${JSON.stringify(points)}; session groups ${JSON.stringify(groups.sessionGroups.map((g) => [g.name, g.hparams, g.sessions[0].status, g.metricValues.map((m) => [m.name.tag, m.value])]))}`)
})
