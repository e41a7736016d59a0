// `malt data ...`: profile, validate and convert data files.
import type { Command } from 'commander'

export function registerData(program: Command): void {
  const data = program.command('data').description('profile, validate and convert data sets')
  void data
}
