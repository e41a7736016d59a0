// `malt predict`: batch inference over a data file (dist-keras' ModelPredictor), streaming, with a
// progress bar, ending with one summary line on stdout.
import { readFile, stat } from 'node:fs/promises'
import type { Command } from 'commander'
import { MaltError, describeValue } from '../../errors.js'
import { formatOf } from '../../data/formats.js'
import { parquetInfo } from '../../data/sources/parquet.js'
import { batchPredict, type PredictionKind } from '../../serving/batch-predict.js'
import { integerOption } from '../options.js'
import { startCounter, startProgress } from '../progress.js'

interface PredictFlags {
  model: string
  input: string
  output: string
  features?: string[]
  pipeline?: string
  column?: string
  class?: boolean
  scores?: boolean
  labels?: string
  batchSize?: number
}

/** `--features a,b,c`: column names, none empty. */
function columnList(text: string): string[] {
  const columns = text.split(',').map((column) => column.trim())
  if (columns.some((column) => column === '')) throw new MaltError('CLI_BAD_OPTION', `--features: expected column names separated by commas, received ${describeValue(text)}`)
  return columns
}

/**
 * `--labels`: a file (a JSON array of strings, or one label a line) when one exists at that
 * path, else a comma-separated list.
 */
async function readLabels(value: string): Promise<string[]> {
  const isFile = await stat(value).then((info) => info.isFile(), () => false)
  if (!isFile) return value.split(',').map((label) => label.trim())
  const text = await readFile(value, 'utf8')
  if (!value.toLowerCase().endsWith('.json')) return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '')
  let labels: unknown
  try {
    labels = JSON.parse(text)
  } catch (error) {
    throw new MaltError('CLI_BAD_OPTION', `--labels ${value}: not valid JSON (${(error as Error).message}); expected an array of label strings`, { cause: error, location: { file: value } })
  }
  if (!Array.isArray(labels) || !labels.every((label) => typeof label === 'string')) {
    throw new MaltError('CLI_BAD_OPTION', `--labels ${value}: expected a JSON array of label strings, received ${describeValue(labels)}`, { location: { file: value } })
  }
  return labels
}

/** What the prediction column holds; undefined leaves it to batchPredict (labels of the version's pipeline, else scores). */
async function predictionKind(flags: PredictFlags): Promise<PredictionKind | undefined> {
  const chosen = [flags.class && '--class', flags.scores && '--scores', flags.labels !== undefined && '--labels'].filter(Boolean)
  if (chosen.length > 1) throw new MaltError('CLI_BAD_OPTION', `${chosen.join(' and ')} each choose what the prediction column holds; give one of them`)
  if (flags.labels !== undefined) return readLabels(flags.labels)
  return flags.class ? 'class' : flags.scores ? 'scores' : undefined
}

/** A bar over the rows when the input says how many it holds (Parquet's footer), else a running count. */
async function startRowProgress(input: string): Promise<{ update: (rows: number) => void; stop: () => void }> {
  const label = `predicting ${input}`
  if (formatOf(input) === 'parquet') return startProgress(label, (await parquetInfo(input)).rows)
  return startCounter(label)
}

/** Adds `predict`. */
export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('run a model over a data file, streaming, and write its rows with a prediction column (formats from the extensions)')
    .requiredOption('--model <path>', 'a model directory (model.json or model.onnx), a model.json or a model.onnx')
    .requiredOption('--input <file>', 'the data: .csv .tsv .jsonl .ndjson .parquet .tfrecord[.gz]')
    .requiredOption('--output <file>', 'where the rows go: .csv .tsv .jsonl .ndjson .tfrecord[.gz] (written atomically)')
    .option('--features <columns>', 'columns assembled, in order, into the model input, e.g. a,b,c or image (default: the vector column that fits, else the numeric columns)', columnList)
    .option('--pipeline <file>', 'a fitted pipeline JSON applied to each row first; its "features" column feeds the model (default: the version\'s pipeline.json, if any)')
    .option('--column <name>', 'the prediction column', 'prediction')
    .option('--class', 'write the arg-max class index instead of the scores')
    .option('--scores', "write the model's scores (the default, unless the version's pipeline names the labels)")
    .option('--labels <file-or-list>', 'write the arg-max label: a file (JSON array, or one label a line) or a comma-separated list')
    .option('--batch-size <n>', 'rows per model call', integerOption('--batch-size'), 256)
    .action(async (flags: PredictFlags) => {
      const prediction = await predictionKind(flags)
      formatOf(flags.output) // Fails on an unknown extension before the input is opened.
      const progress = await startRowProgress(flags.input)
      let result: { rows: number; seconds: number }
      try {
        result = await batchPredict({
          model: flags.model,
          input: flags.input,
          output: flags.output,
          features: flags.features,
          pipeline: flags.pipeline,
          predictionColumn: flags.column,
          prediction,
          batchSize: flags.batchSize,
          onProgress: progress.update,
        })
      } finally {
        progress.stop()
      }
      const rate = result.seconds > 0 ? Math.round(result.rows / result.seconds) : result.rows
      process.stdout.write(`predicted ${result.rows.toLocaleString('en-US')} rows in ${result.seconds.toFixed(1)} s (${rate.toLocaleString('en-US')} rows/s); wrote ${flags.output}\n`)
    })
}
