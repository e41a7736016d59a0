// batchPredict against real models (TF.js saved by TF.js, ONNX written by the onnx package) and
// real files: 1,000 Fashion-MNIST images as JSON Lines, numeric CSV, Parquet, TFRecord output.
import { before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'
import type * as tfjs from '@tensorflow/tfjs'
import { parse } from 'csv-parse/sync'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { tf, ready } from '../backend/index.js'
import { openDataset } from '../data/formats.js'
import { FASHION_MNIST_CLASSES, fashionMnist } from '../data/sources/mnist.js'
import { Pipeline, StandardScaler, VectorAssembler } from '../data/transformers/index.js'
import type { Row } from '../data/types.js'
import { rejectsWith } from '../../test/helpers/errors.js'
import { requireToolsPython } from '../../test/helpers/python-tools.js'
import { useTempDir } from '../../test/helpers/temp-dir.js'
import { saveSequentialModel, writeOnnxModels } from '../../test/serving/fixtures/runtime-models.js'
import { batchPredict } from './batch-predict.js'

const tmp = useTempDir()
const IMAGES = 1_000
const TABLE = 300

let fashionModel: tfjs.LayersModel
let fashionDir: string
/** model.predict on every image, row by row. */
let fashionScores: number[][]
let tableModel: tfjs.LayersModel
let tableDir: string
let tableRows: { name: string; a: number; b: number; c: number; d: number }[]

const argMax = (values: number[]): number => values.indexOf(Math.max(...values))
const predict = (model: tfjs.LayersModel, inputs: number[][]): number[][] => tf.tidy(() => (model.predict(tf.tensor2d(inputs)) as tfjs.Tensor2D).arraySync())
const readJsonl = (path: string): Row[] => readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Row)
const readCsv = (path: string, delimiter = ','): Record<string, string>[] => parse(readFileSync(path, 'utf8'), { columns: true, delimiter }) as Record<string, string>[]

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, where: string): void {
  assert.equal(actual.length, expected.length, `${where}: length`)
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-5, `${where}[${i}]: ${actual[i]} vs ${expected[i]}`)
}

before(async () => {
  await ready()
  fashionModel = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }) }),
    ],
  })
  fashionDir = tmp.join('fashion/1')
  await mkdir(fashionDir, { recursive: true })
  await fashionModel.save(`file://${fashionDir}`)
  const images = await fashionMnist({ split: 'test' }).take(IMAGES).toArray()
  const lines = images.map((row, id) => JSON.stringify({ id, image: Array.from(row.image), label: row.label }))
  tmp.file('fashion.jsonl', `${lines.join('\n')}\n`)
  fashionScores = predict(fashionModel, images.map((row) => Array.from(row.image)))

  tableDir = tmp.join('table/1')
  await mkdir(tableDir, { recursive: true })
  tableModel = await saveSequentialModel(tableDir)
  tableRows = Array.from({ length: TABLE }, (_, i) => ({ name: `item ${i}, "q"`, a: Math.sin(i), b: i / 100, c: -2.5 + (i % 7), d: (i * 37) % 11 }))
  tmp.file('table.csv', `name,a,b,c,d\n${tableRows.map((r) => `"${r.name.replaceAll('"', '""')}",${r.a},${r.b},${r.c},${r.d}`).join('\n')}\n`)
})

describe('Fashion-MNIST JSON Lines', () => {
  test('scores: every row keeps its columns and order, and gets model.predict of its image', async () => {
    const output = tmp.join('scores.jsonl')
    const progress: number[] = []
    const result = await batchPredict({ model: fashionDir, input: tmp.join('fashion.jsonl'), output, batchSize: 64, onProgress: (rows) => progress.push(rows) })
    assert.equal(result.rows, IMAGES)
    assert.ok(result.seconds > 0)
    assert.deepEqual(progress, [...Array.from({ length: 15 }, (_, i) => (i + 1) * 64), IMAGES])
    const input = readJsonl(tmp.join('fashion.jsonl'))
    const rows = readJsonl(output)
    assert.equal(rows.length, IMAGES)
    rows.forEach((row, i) => {
      assert.deepEqual(Object.keys(row), ['id', 'image', 'label', 'prediction'])
      assert.equal(row.id, i)
      assert.deepEqual(row.image, input[i].image)
      assert.equal(row.label, input[i].label)
      assertClose(row.prediction as number[], fashionScores[i], `row ${i}`)
    })
  })

  test('class into CSV (the image column as a JSON array), through model.json', async () => {
    const output = tmp.join('classes.csv')
    await batchPredict({ model: join(fashionDir, 'model.json'), input: tmp.join('fashion.jsonl'), output, prediction: 'class', predictionColumn: 'predicted' })
    const rows = readCsv(output)
    assert.equal(rows.length, IMAGES)
    assert.deepEqual(Object.keys(rows[0]), ['id', 'image', 'label', 'predicted'])
    rows.forEach((row, i) => {
      assert.equal(Number(row.id), i)
      assert.equal(Number(row.predicted), argMax(fashionScores[i]), `row ${i}`)
      assert.equal((JSON.parse(row.image) as number[]).length, 784)
    })
  })

  test('labels into TFRecord, and that file predicted again (its image column read back as a vector)', async () => {
    const output = tmp.join('labels.tfrecord')
    await batchPredict({ model: fashionDir, input: tmp.join('fashion.jsonl'), output, prediction: FASHION_MNIST_CLASSES })
    const rows = await openDataset(output).toArray()
    assert.equal(rows.length, IMAGES)
    rows.forEach((row, i) => {
      assert.equal(row.id, i)
      assert.equal(new TextDecoder().decode(row.prediction as Uint8Array), FASHION_MNIST_CLASSES[argMax(fashionScores[i])], `row ${i}`)
    })
    const again = tmp.join('again.jsonl')
    await batchPredict({ model: fashionDir, input: output, output: again, predictionColumn: 'scores', features: ['image'] })
    readJsonl(again).forEach((row, i) => assertClose(row.scores as number[], fashionScores[i], `row ${i}`))
  })
})

describe('tables', () => {
  const features = (r: (typeof tableRows)[number]): number[] => [r.a, r.b, r.c, r.d]

  test('CSV: the numeric columns in file order by default; a vector prediction as a JSON array; TSV too', async () => {
    const expected = predict(tableModel, tableRows.map(features))
    await batchPredict({ model: tableDir, input: tmp.join('table.csv'), output: tmp.join('table-out.csv'), batchSize: 7 })
    const rows = readCsv(tmp.join('table-out.csv'))
    assert.equal(rows.length, TABLE)
    rows.forEach((row, i) => {
      assert.equal(row.name, tableRows[i].name)
      assert.equal(Number(row.a), tableRows[i].a)
      assertClose(JSON.parse(row.prediction) as number[], expected[i], `row ${i}`)
    })
    await batchPredict({ model: tableDir, input: tmp.join('table.csv'), output: tmp.join('table-out.tsv'), prediction: 'class' })
    const tsv = readCsv(tmp.join('table-out.tsv'), '\t')
    tsv.forEach((row, i) => assert.equal(Number(row.prediction), argMax(expected[i])))
  })

  test('features name the columns and their order', async () => {
    const expected = predict(tableModel, tableRows.map((r) => [r.d, r.c, r.b, r.a]))
    await batchPredict({ model: tableDir, input: tmp.join('table.csv'), output: tmp.join('reversed.jsonl'), features: ['d', 'c', 'b', 'a'] })
    readJsonl(tmp.join('reversed.jsonl')).forEach((row, i) => assertClose(row.prediction as number[], expected[i], `row ${i}`))
  })

  test('Parquet input', async () => {
    const buffer = parquetWriteBuffer({
      rowGroupSize: 64,
      columnData: [
        { name: 'name', type: 'STRING', data: tableRows.map((r) => r.name) },
        ...(['a', 'b', 'c', 'd'] as const).map((column) => ({ name: column, type: 'DOUBLE' as const, data: tableRows.map((r) => r[column]) })),
      ],
    })
    const input = tmp.file('table.parquet', new Uint8Array(buffer))
    const expected = predict(tableModel, tableRows.map(features))
    await batchPredict({ model: tableDir, input, output: tmp.join('parquet-out.csv'), prediction: ['setosa', 'versicolor', 'virginica'] })
    const rows = readCsv(tmp.join('parquet-out.csv'))
    assert.deepEqual(Object.keys(rows[0]), ['name', 'a', 'b', 'c', 'd', 'prediction'])
    rows.forEach((row, i) => assert.equal(row.prediction, ['setosa', 'versicolor', 'virginica'][argMax(expected[i])]))
  })

  test('a fitted pipeline prepares the features; the output keeps the input columns only', async () => {
    const pipeline = new Pipeline([new VectorAssembler({ inputCols: ['a', 'b', 'c', 'd'] }), new StandardScaler({ inputCol: 'features' })])
    await pipeline.fit(tableRows)
    const pipelinePath = tmp.join('prep.json')
    await pipeline.save(pipelinePath)
    const expected = predict(tableModel, tableRows.map((r) => Array.from(pipeline.transform(r).features as Float32Array)))
    await batchPredict({ model: tableDir, input: tmp.join('table.csv'), output: tmp.join('piped.jsonl'), pipeline: pipelinePath })
    readJsonl(tmp.join('piped.jsonl')).forEach((row, i) => {
      assert.deepEqual(Object.keys(row), ['name', 'a', 'b', 'c', 'd', 'prediction'])
      assertClose(row.prediction as number[], expected[i], `row ${i}`)
    })
  })

  test('an ONNX model given as model.onnx matches numpy', async (t) => {
    const python = requireToolsPython(t, 'onnx')
    if (!python) return
    const reference = writeOnnxModels(python, tmp.join('onnx')).mlp
    const inputs = reference.inputs.features as number[][]
    const input = tmp.file('onnx.csv', `w,x,y,z\n${inputs.map((row) => row.join(',')).join('\n')}\n`)
    await batchPredict({ model: tmp.join('onnx/mlp/model.onnx'), input, output: tmp.join('onnx-out.jsonl') })
    const rows = readJsonl(tmp.join('onnx-out.jsonl'))
    assert.equal(rows.length, inputs.length)
    rows.forEach((row, i) => assertClose(row.prediction as number[], (reference.outputs.probabilities as number[][])[i], `row ${i}`))
  })
})

describe('errors', () => {
  const table = (): string => tmp.join('table.csv')

  test('model input size and the features do not fit: the columns and the size needed', async () => {
    await rejectsWith(batchPredict({ model: fashionDir, input: table(), output: tmp.join('x.jsonl') }), 'PREDICT_FEATURE_SIZE', [
      '784 values per row',
      'a (number), b (number), c (number), d (number)',
      'name (string)',
      '--features',
    ])
    await rejectsWith(batchPredict({ model: tableDir, input: table(), output: tmp.join('x.jsonl'), features: ['a', 'b'] }), 'PREDICT_FEATURE_SIZE', ['takes 4 values', 'give 2 (a: 1, b: 1)'])
    await rejectsWith(batchPredict({ model: tableDir, input: tmp.join('fashion.jsonl'), output: tmp.join('x.jsonl') }), 'PREDICT_FEATURE_SIZE', ['image (vector of 784)'])
  })

  test('a missing column, in row 1 or later', async () => {
    await rejectsWith(batchPredict({ model: tableDir, input: table(), output: tmp.join('x.jsonl'), features: ['a', 'b', 'c', 'e'] }), 'PREDICT_MISSING_COLUMN', ['row 1 has no column "e"', 'name (string)'])
    const input = tmp.file('gap.jsonl', ['{"a":1,"b":2,"c":3,"d":4}', '{"a":1,"b":2,"c":3,"d":4}', '{"a":1,"b":2,"c":3}'].join('\n'))
    await rejectsWith(batchPredict({ model: tableDir, input, output: tmp.join('x.jsonl') }), 'PREDICT_MISSING_COLUMN', [`${input}: row 3 has no column "d"`])
  })

  test('a non-numeric value in a feature column names the row and the column; a failure mid-way leaves no output', async () => {
    const lines = Array.from({ length: 400 }, (_, i) => JSON.stringify({ a: i, b: 1, c: i === 249 ? 'abc' : 2, d: 3 }))
    const input = tmp.file('bad.jsonl', `${lines.join('\n')}\n`)
    const outDir = tmp.join('bad-out')
    await mkdir(outDir)
    for (const name of ['out.jsonl', 'out.csv']) {
      const progress: number[] = []
      await rejectsWith(batchPredict({ model: tableDir, input, output: join(outDir, name), batchSize: 100, onProgress: (rows) => progress.push(rows) }), 'PREDICT_BAD_VALUE', [
        `${input}: row 250, column "c": expected a number, received "abc"`,
      ])
      assert.deepEqual(progress, [100, 200], 'two batches were predicted and written before the failure')
    }
    // TFRecord output scans every column's kind first (one feature, one kind): the text is found before any prediction.
    await rejectsWith(batchPredict({ model: tableDir, input, output: join(outDir, 'out.tfrecord'), batchSize: 100 }), 'DATA_MIXED_TYPES', ['column "c" holds both numbers and text'])
    assert.deepEqual(readdirSync(outDir), [], 'no output and no temp file left')
  })

  test('unknown extensions, a missing model, a prediction column that exists, wrong labels', async () => {
    await rejectsWith(batchPredict({ model: tableDir, input: tmp.join('data.xlsx'), output: tmp.join('x.jsonl') }), 'DATA_UNKNOWN_FORMAT', ['data.xlsx', '.csv', '.parquet'])
    await rejectsWith(batchPredict({ model: tableDir, input: table(), output: tmp.join('x.parquet') }), 'PREDICT_BAD_OPTION', ['cannot write parquet', 'csv, tsv, jsonl, tfrecord'])
    await rejectsWith(batchPredict({ model: tmp.join('nowhere'), input: table(), output: tmp.join('x.jsonl') }), 'PREDICT_MODEL_NOT_FOUND', ['nowhere', 'a model directory, a model.json or a model.onnx'])
    await rejectsWith(batchPredict({ model: tableDir, input: table(), output: tmp.join('x.jsonl'), predictionColumn: 'a' }), 'PREDICT_BAD_OPTION', ['row 1 already has a column "a"'])
    await rejectsWith(batchPredict({ model: tableDir, input: table(), output: tmp.join('x.jsonl'), prediction: ['cat', 'dog'] }), 'PREDICT_BAD_OPTION', ['3 values per row', 'needs 3 labels; received 2'])
    await rejectsWith(batchPredict({ model: tableDir, input: table(), output: tmp.join('x.jsonl'), batchSize: 0 }), 'PREDICT_BAD_OPTION', ['batchSize', 'positive integer'])
    await rejectsWith(batchPredict({ model: tableDir, input: table(), output: table() }), 'PREDICT_BAD_OPTION', ['is the input file'])
    assert.equal(existsSync(tmp.join('x.jsonl')), false)
  })
})

test('memory stays bounded: 50,000 CSV rows (20 MB) grow live memory and RSS far less than the file', async () => {
  // Each row: the four features and 400 characters of text; holding the rows would hold all the text.
  const note = (i: number): string => `note ${i} ${'abcdefghij'.repeat(40)}`
  const write = (name: string, rows: number): string => {
    const body = ['a,b,c,d,note']
    for (let i = 0; i < rows; i++) body.push(`${i % 13},${(i % 7) / 3},${-i / 1e4},${i % 2},${note(i)}`)
    return tmp.file(name, `${body.join('\n')}\n`)
  }
  const small = write('long-small.csv', 1_000)
  const big = write('long.csv', 50_000)
  const size = statSync(big).size
  await batchPredict({ model: tableDir, input: small, output: tmp.join('long-small.out.csv') }) // Loads code and kernels first.
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  const live = (): number => {
    const usage = process.memoryUsage()
    return usage.heapUsed + usage.external
  }
  gc()
  const baseline = { live: live(), rss: process.memoryUsage().rss }
  const peak = { ...baseline }
  let batches = 0
  const measure = (): void => {
    if (++batches % 10 !== 0) return
    gc()
    peak.live = Math.max(peak.live, live())
    peak.rss = Math.max(peak.rss, process.memoryUsage().rss)
  }
  const result = await batchPredict({ model: tableDir, input: big, output: tmp.join('long.out.csv'), batchSize: 500, onProgress: measure })
  assert.equal(result.rows, 50_000)
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`
  const growth = `live memory grew ${mib(peak.live - baseline.live)}, RSS ${mib(peak.rss - baseline.rss)}, over a ${mib(size)} file`
  // Streaming holds one batch (500 rows, 0.2 MB of text) and the writer's 1 MB buffer; reading the whole file
  // first grew live memory by 1.4× the file. Half the file leaves room for GC timing when other tests share the
  // machine (a quarter failed once at 10.8 MiB under the parallel suite).
  assert.ok(peak.live - baseline.live < size / 2, growth)
  assert.ok(peak.rss - baseline.rss < size, growth)
  const last = readCsv(tmp.join('long.out.csv')).at(-1) as Record<string, string>
  assert.equal(last.note, note(49_999))
  assert.equal((JSON.parse(last.prediction) as number[]).length, 3)
})
