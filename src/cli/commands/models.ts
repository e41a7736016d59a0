// `malt models export`: a trained model (a file, a directory, or an experiment's trial) into a
// model repository as the next version, for `malt serve`.
import { join } from 'node:path'
import type { Command } from 'commander'
import { MaltError, describeValue } from '../../errors.js'
import { exportModel } from '../../serving/export.js'
import { homeOf, resolveExperiment, withHome } from './experiments.js'
import { integerOption } from '../options.js'

interface ExportFlags {
  repo: string
  name: string
  from?: string
  experiment?: string
  trial?: string
  version?: number
  pipeline?: string
  home?: string
}

/** The model directory of an experiment's trial (`--trial NAME`, default the best trial). */
async function trialModelDir(flags: ExportFlags): Promise<string> {
  const { runDir, experiment } = await resolveExperiment(homeOf(flags), flags.experiment as string)
  const name = flags.trial ?? experiment.best?.name
  if (name === undefined) {
    throw new MaltError('EXPORT_NO_BEST_TRIAL', `Experiment ${experiment.id} has no best trial (no trial finished with a ${experiment.metric}); name one with --trial`)
  }
  const trial = experiment.trials.find((candidate) => candidate.name === name || candidate.id === name)
  if (trial === undefined) {
    const names = experiment.trials.map((candidate) => candidate.name).join(', ')
    throw new MaltError('EXPORT_NO_TRIAL', `Experiment ${experiment.id} has no trial ${describeValue(name)}; its trials: ${names}`)
  }
  return join(runDir, trial.name)
}

/** Adds `models export`. */
export function registerModels(program: Command): void {
  const models = program.command('models').description('model repository for `malt serve`')
  withHome(models.command('export'))
    .description('copy a model into a repository as its next version (DIR/<name>/<version>/), atomically')
    .requiredOption('--repo <dir>', 'the model repository (what `malt serve --models` serves)')
    .requiredOption('--name <name>', 'the model name')
    .option('--from <path>', 'a model.json / model.onnx, or a directory holding one (a trial directory works)')
    .option('--experiment <id>', "an experiment: export its best trial's saved model (ctx.saveModel)")
    .option('--trial <name>', 'with --experiment: this trial instead of the best')
    .option('--version <n>', 'the version number (default: one above the newest)', integerOption('--version'))
    .option('--pipeline <file>', 'a fitted pipeline JSON (Pipeline.save): the server runs it on raw request columns before the model, and maps scores back to label names')
    .action(async (flags: ExportFlags) => {
      if ((flags.from === undefined) === (flags.experiment === undefined)) {
        throw new MaltError('CLI_BAD_OPTION', 'Give the model with --from <path> or --experiment <id> (one of them)')
      }
      if (flags.trial !== undefined && flags.experiment === undefined) throw new MaltError('CLI_BAD_OPTION', '--trial needs --experiment')
      const source = flags.from ?? (await trialModelDir(flags))
      const exported = await exportModel({ source, repository: flags.repo, name: flags.name, version: flags.version, pipeline: flags.pipeline })
      process.stdout.write(`exported ${exported.name} version ${exported.version} to ${exported.dir}\n`)
    })
}
