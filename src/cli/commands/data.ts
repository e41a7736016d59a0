// `malt data ...`: profile, validate and convert data files.
import type { Command } from 'commander'
import { convertFile } from '../../data/formats.js'
import { registerDataProfile } from './data-profile.js'
import { newReadStats, type OnError } from '../../data/types.js'
import { integerOption, onErrorOption } from '../options.js'
import { startCounter } from '../progress.js'

export function registerData(program: Command): void {
  const data = program.command('data').description('profile, validate and convert data sets')
  registerDataProfile(data)
  data
    .command('convert')
    .description('stream rows from IN to OUT; formats from the extensions (.csv .tsv .jsonl .ndjson .parquet .tfrecord[.gz]; Parquet is read-only)')
    .argument('<in>', 'input file')
    .argument('<out>', 'output file (written atomically)')
    .option('--on-error <mode>', 'malformed input rows: "throw" (stop) or "skip" (skip and count)', onErrorOption, 'throw')
    .option('--infer-rows <n>', 'CSV rows read to infer column types', integerOption('--infer-rows'))
    .action(async (input: string, output: string, options: { onError: OnError; inferRows?: number }) => {
      const stats = newReadStats()
      const started = Date.now()
      const counter = startCounter(`converting ${input}`)
      const result = await convertFile(input, output, { onError: options.onError, inferRows: options.inferRows, stats, onRows: counter.update })
      counter.stop()
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      process.stdout.write(`wrote ${result.rows} rows from ${input} (${result.from}) to ${output} (${result.to}) in ${seconds} s\n`)
      if (stats.rowsSkipped > 0) {
        process.stderr.write(`skipped ${stats.rowsSkipped} malformed rows:\n${stats.skipped.map((reason) => `  ${reason}`).join('\n')}\n`)
      }
    })
}
