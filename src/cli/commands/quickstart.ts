// placeholder until the data sources land
import type { Command } from 'commander'
export function registerQuickstart(program: Command): void {
  void program
}
