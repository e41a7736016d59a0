// The `malt` command line: builds the commander program from one file per command and
// turns user errors (MaltError) into a one-line message and a non-zero exit, no stack trace.
import { Command, CommanderError } from 'commander'
import { MaltError } from '../errors.js'
import { registerDoctor } from './commands/doctor.js'
import { registerQuickstart } from './commands/quickstart.js'
import { registerData } from './commands/data.js'
import { registerExperiments } from './commands/experiments.js'
import { registerExperimentRunCommands } from './commands/experiments-run.js'
import { registerServe } from './commands/serve.js'
import { registerModels } from './commands/models.js'
import { registerPredict } from './commands/predict.js'
import { packageVersion } from './version.js'

/** Builds the program; tests call this to run commands in-process. */
export function buildProgram(): Command {
  const program = new Command('malt')
    .description('Malt: distributed deep learning on TensorFlow.js — data, experiments, training, serving')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    // Program options only before the command: `malt models export --version 3` is the export's --version, not malt's.
    .enablePositionalOptions()
  registerQuickstart(program)
  registerDoctor(program)
  registerData(program)
  registerExperimentRunCommands(registerExperiments(program))
  registerServe(program)
  registerModels(program)
  registerPredict(program)
  return program
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return 0
  } catch (error) {
    return reportError(error)
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (unknown option, --help, --version).
    return error.exitCode
  }
  if (error instanceof MaltError) {
    // Messages name their own location (file:line, byte offset, column); print them as they are.
    process.stderr.write(`malt: error: ${error.message}\n`)
    if (process.env.MALT_DEBUG) process.stderr.write(`${error.stack}\n`)
    return 1
  }
  // Anything else is a bug in Malt: show the whole stack so it can be reported.
  process.stderr.write(`malt: internal error (please report it): ${(error as Error)?.stack ?? String(error)}\n`)
  return 70
}
