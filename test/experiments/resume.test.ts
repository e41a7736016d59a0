// Ctrl-C on a running search marks it killed and leaves no executor behind; `malt experiments
// resume ID` then finishes it without re-running the trials that had finished.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { useTempDir } from '../helpers/temp-dir.js'
import { runMalt } from '../helpers/cli.js'
import type { ExperimentRecord } from '../../src/experiments/records.js'

const temp = useTempDir()

function runDirOf(home: string): string | undefined {
  const root = join(home, 'Experiments')
  if (!existsSync(root)) return undefined
  for (const app of readdirSync(root)) for (const run of readdirSync(join(root, app))) return join(root, app, run)
  return undefined
}

/** Pids of live processes whose environment or command line mentions `marker` (our temp home). */
function processesMentioning(marker: string): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const text = readFileSync(`/proc/${entry}/cmdline`, 'utf8') + readFileSync(`/proc/${entry}/environ`, 'utf8')
      if (text.includes(marker)) found.push(Number(entry))
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found
}

async function killAndResume(kind: 'grid' | 'tpe', total: number): Promise<void> {
  const home = temp.join(`home-${kind}`)
  const markers = temp.join(`markers-${kind}.txt`)
  const driver = spawn(process.execPath, ['--import', 'tsx', new URL('../fixtures/search-driver.ts', import.meta.url).pathname, home, markers, kind], {
    env: { ...process.env, MALT_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  driver.stdout.on('data', (chunk) => (output += chunk))
  driver.stderr.on('data', (chunk) => (output += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => driver.once('exit', (code, signal) => resolve({ code, signal })))

  // Interrupt once two trials have finished.
  const deadline = Date.now() + 60_000
  let finishedBefore: string[] = []
  for (;;) {
    assert.ok(Date.now() < deadline, `no two trials finished within 60 s: ${output}`)
    const runDir = runDirOf(home)
    if (runDir && existsSync(join(runDir, 'experiment.json'))) {
      const record = JSON.parse(readFileSync(join(runDir, 'experiment.json'), 'utf8')) as ExperimentRecord
      finishedBefore = record.trials.filter((t) => t.state === 'finished').map((t) => t.name)
      if (finishedBefore.length >= 2) break
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  driver.kill('SIGINT')
  const exit = await exited
  assert.equal(exit.signal, 'SIGINT', `the driver ends as Ctrl-C ends a program (${JSON.stringify(exit)}): ${output}`)
  assert.doesNotMatch(output, /search ended without being interrupted/)

  const runDir = runDirOf(home) as string
  const killed = JSON.parse(readFileSync(join(runDir, 'experiment.json'), 'utf8')) as ExperimentRecord
  assert.equal(killed.state, 'killed')
  const keptFinished = killed.trials.filter((t) => t.state === 'finished').map((t) => t.name)
  assert.ok(keptFinished.length >= 2)
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.deepEqual(processesMentioning(home), [], 'no executor process outlives the driver')

  const listed = await runMalt(['experiments', 'list', '--home', home])
  assert.match(listed.stdout, /killed/)

  const resumed = await runMalt(['experiments', 'resume', String(killed.id), '--home', home, '--executors', '2'], { timeoutMs: 120_000 })
  assert.equal(resumed.code, 0, resumed.stderr)
  assert.match(resumed.stdout, new RegExp(`experiment ${killed.id} finished: ${total} trials`))
  const final = JSON.parse(readFileSync(join(runDir, 'experiment.json'), 'utf8')) as ExperimentRecord
  assert.equal(final.state, 'finished')
  assert.equal(final.trials.length, total)
  for (const trial of killed.trials.filter((t) => t.state === 'finished')) {
    assert.deepEqual(final.trials.find((t) => t.id === trial.id)?.value, trial.value, `${trial.id} kept its result`)
  }
  assert.ok(final.trials.every((t) => t.state === 'finished'))
  const runs = readFileSync(markers, 'utf8').trim().split('\n')
  for (const name of keptFinished) assert.equal(runs.filter((line) => line === name).length, 1, `${name} ran once, not again on resume`)
  for (const trial of final.trials) assert.ok(runs.includes(trial.name), `${trial.name} ran`)
}

test('SIGINT kills a grid search cleanly, and resume runs only what had not finished', () => killAndResume('grid', 6))

test('a killed TPE search resumes with its history: finished trials kept, the budget completed', () => killAndResume('tpe', 8))
