// `malt data ...`: profile, validate and convert data files.
import type { Command } from 'commander'
import { convertFile } from '../../data/formats.js'
import { registerDataProfile } from './data-profile.js'
import { newReadStats, type OnError } from '../../data/types.js'
import { MaltError, describeValue } from '../../errors.js'

function onErrorOption(value: string): OnError {
  if (value !== 'throw' && value !== 'skip') {
    throw new MaltError('CLI_BAD_OPTION', `--on-error: expected "throw" or "skip", received ${describeValue(value)}`)
  }
  return value
}

export function registerData(program: Command): void {
  const data = program.command('data').description('profile, validate and convert data sets')
  registerDataProfile(data)
  data
    .command('convert')
    .description('stream rows from IN to OUT; formats from the extensions (.csv .tsv .jsonl .ndjson .parquet .tfrecord[.gz]; Parquet is read-only)')
    .argument('<in>', 'input file')
    .argument('<out>', 'output file (written atomically)')
    .option('--on-error <mode>', 'malformed input rows: "throw" (stop) or "skip" (skip and count)', onErrorOption, 'throw')
    .action(async (input: string, output: string, options: { onError: OnError }) => {
      const stats = newReadStats()
      const started = Date.now()
      const result = await convertFile(input, output, { onError: options.onError, stats })
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      process.stdout.write(`wrote ${result.rows} rows from ${input} (${result.from}) to ${output} (${result.to}) in ${seconds} s\n`)
      if (stats.rowsSkipped > 0) {
        process.stderr.write(`skipped ${stats.rowsSkipped} malformed rows:\n${stats.skipped.map((reason) => `  ${reason}`).join('\n')}\n`)
      }
    })
}
