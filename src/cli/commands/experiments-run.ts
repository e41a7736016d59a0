// `malt experiments report ID --html OUT` and `malt experiments resume ID`: the subcommands
// that render or continue a run (list/show/compare, which only read, are in experiments.ts).
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { MaltError } from '../../errors.js'
import { renderExperimentReport } from '../../experiments/report/index.js'
import { resume } from '../../experiments/api.js'
import { homeOf, resolveExperiment, withHome, type ExperimentsIo } from './experiments.js'

function positiveInteger(flag: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value)
    if (!Number.isInteger(parsed) || parsed < 1) throw new MaltError('CLI_BAD_OPTION', `${flag} expects an integer >= 1; received ${JSON.stringify(value)}`)
    return parsed
  }
}

/** Adds `report` and `resume` to the `experiments` command. */
export function registerExperimentRunCommands(experiments: Command, io: ExperimentsIo = process): void {
  withHome(experiments.command('report'))
    .description('a self-contained HTML report: trials table, metric curves per trial, parallel coordinates of hyperparameters')
    .argument('<id>', 'experiment id, <appId>/<runId>, or run directory')
    .requiredOption('--html <file>', 'where to write the report')
    .action(async (ref: string, options: { home?: string; html: string }) => {
      const { runDir } = await resolveExperiment(homeOf(options), ref)
      const out = resolve(options.html)
      await writeFile(out, await renderExperimentReport(runDir))
      io.stdout.write(`report written to ${out}\n`)
    })
  withHome(experiments.command('resume'))
    .description('continue an interrupted experiment: finished trials are kept, the others run')
    .argument('<id>', 'experiment id, <appId>/<runId>, or run directory')
    .option('--executors <n>', 'executor processes (default: one per core)', positiveInteger('--executors'))
    .action(async (ref: string, options: { home?: string; executors?: number }) => {
      const { runDir } = await resolveExperiment(homeOf(options), ref)
      const result = await resume(runDir, { home: homeOf(options), executors: options.executors })
      const best = result.best ? `best ${result.metric} ${result.best.value} (${result.best.name})` : 'no best trial'
      io.stdout.write(`experiment ${result.id} ${result.state}: ${result.trials.length} trials, ${best}\n${result.runDir}\n`)
    })
}
