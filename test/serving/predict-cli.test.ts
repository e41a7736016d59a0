// `malt predict` as a user runs it: a separate process with the command's real stdout and stderr
// (the summary line, the progress lines), and the flag errors it gives.
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type * as tfjs from '@tensorflow/tfjs'
import { Command, CommanderError } from 'commander'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { tf } from '../../src/backend/index.js'
import { registerPredict } from '../../src/cli/commands/predict.js'
import type { Row } from '../../src/data/types.js'
import { rejectsWith } from '../helpers/errors.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { saveSequentialModel } from './fixtures/runtime-models.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const tmp = useTempDir()
const ROWS = 200
const LABELS = ['setosa', 'versicolor', 'virginica']

let modelDir: string
let model: tfjs.LayersModel
let features: number[][]
let csvPath: string
let parquetPath: string

/**
 * `malt ARGS` in a child process: the predict command on a commander program, MaltErrors printed
 * as the CLI prints them. (Once src/cli/main.ts registers predict, test/helpers/cli.ts runMalt runs the same.)
 */
function runPredict(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const script = `
    import { Command } from 'commander'
    import { registerPredict } from './src/cli/commands/predict.ts'
    import { MaltError } from './src/errors.ts'
    const program = new Command('malt').exitOverride()
    registerPredict(program)
    try {
      await program.parseAsync(process.argv.slice(1), { from: 'user' })
    } catch (error) {
      if (!(error instanceof MaltError)) throw error
      process.stderr.write('malt: error: ' + error.message + '\\n')
      process.exitCode = 1
    }
  `
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** The command in this process (for flag errors, which throw before any output). */
function predictInProcess(args: string[]): Promise<unknown> {
  const program = new Command('malt').exitOverride().configureOutput({ writeErr: () => undefined })
  registerPredict(program)
  return program.parseAsync(['predict', ...args], { from: 'user' })
}

const argMax = (values: number[]): number => values.indexOf(Math.max(...values))
const readJsonl = (path: string): Row[] => readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Row)

before(async () => {
  modelDir = tmp.join('model/1')
  await mkdir(modelDir, { recursive: true })
  model = await saveSequentialModel(modelDir)
  features = Array.from({ length: ROWS }, (_, i) => [Math.cos(i), i / 50, (i % 9) - 4, (i * 13) % 5])
  csvPath = tmp.file('rows.csv', `id,w,x,y,z\n${features.map((row, i) => `r${i},${row.join(',')}`).join('\n')}\n`)
  const columns = ['w', 'x', 'y', 'z'].map((name, j) => ({ name, type: 'DOUBLE' as const, data: features.map((row) => row[j]) }))
  parquetPath = tmp.file('rows.parquet', new Uint8Array(parquetWriteBuffer({ columnData: columns, rowGroupSize: 50 })))
})

test('predict --class: the summary line names rows, seconds, rows/s and the output; the file holds the classes', () => {
  const output = tmp.join('classes.jsonl')
  const run = runPredict(['predict', '--model', modelDir, '--input', csvPath, '--output', output, '--class', '--batch-size', '32', '--column', 'species'])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /^predicted 200 rows in \d+\.\d s \([\d,]+ rows\/s\); wrote \S+classes\.jsonl\n$/)
  const expected = tf.tidy(() => (model.predict(tf.tensor2d(features)) as tfjs.Tensor2D).arraySync())
  const rows = readJsonl(output)
  assert.equal(rows.length, ROWS)
  rows.forEach((row, i) => {
    assert.equal(row.id, `r${i}`)
    assert.equal(row.species, argMax(expected[i]), `row ${i}`)
  })
})

test('predict a Parquet file with --labels from a file: the progress lines know the total', () => {
  const labels = tmp.file('labels.txt', `${LABELS.join('\n')}\n`)
  const output = tmp.join('labels.csv')
  const run = runPredict(['predict', '--model', `${modelDir}/model.json`, '--input', parquetPath, '--output', output, '--labels', labels, '--batch-size', '50', '--features', 'w,x,y,z'])
  assert.equal(run.code, 0, run.stderr)
  // stderr is not a terminal here: one line per 10% step, counted against the footer's row count.
  assert.match(run.stderr, /predicting \S+rows\.parquet 50% 100\/200/)
  assert.match(run.stderr, /predicting \S+rows\.parquet 100% 200\/200/)
  const expected = tf.tidy(() => (model.predict(tf.tensor2d(features)) as tfjs.Tensor2D).arraySync())
  const lines = readFileSync(output, 'utf8').trim().split('\n')
  assert.equal(lines[0], 'w,x,y,z,prediction')
  lines.slice(1).forEach((line, i) => assert.equal(line.split(',').at(-1), LABELS[argMax(expected[i])], `row ${i}`))
})

test('a failing run prints one error line, exits 1 and leaves no output', () => {
  const output = tmp.join('never.csv')
  const run = runPredict(['predict', '--model', modelDir, '--input', csvPath, '--output', output, '--features', 'w,x,nope,z'])
  assert.equal(run.code, 1)
  assert.equal(run.stdout, '')
  assert.match(run.stderr, /^malt: error: \S+rows\.csv: row 1 has no column "nope"; its columns: id \(string\), w \(number\)/m)
  assert.equal(existsSync(output), false)
})

test('flag errors: --class with --labels, a bad batch size, a missing --model, a bad --labels file', async () => {
  const base = ['--input', csvPath, '--output', tmp.join('x.jsonl')]
  await rejectsWith(predictInProcess(['--model', modelDir, ...base, '--class', '--labels', 'a,b,c']), 'CLI_BAD_OPTION', ['--class and --labels'])
  await rejectsWith(predictInProcess(['--model', modelDir, ...base, '--batch-size', '0']), 'CLI_BAD_OPTION', ['--batch-size', 'positive integer', '"0"'])
  await rejectsWith(predictInProcess(['--model', modelDir, ...base, '--features', 'a,,b']), 'CLI_BAD_OPTION', ['--features', '"a,,b"'])
  const notLabels = tmp.file('labels.json', '{"0": "cat"}')
  await rejectsWith(predictInProcess(['--model', modelDir, ...base, '--labels', notLabels]), 'CLI_BAD_OPTION', ['labels.json', 'JSON array of label strings'])
  await assert.rejects(predictInProcess(base), (error: unknown) => error instanceof CommanderError && error.code === 'commander.missingMandatoryOptionValue' && error.message.includes('--model'))
  assert.equal(existsSync(tmp.join('x.jsonl')), false)
})
