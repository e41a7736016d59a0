// Runs a benchmark by name: `npm run bench -- NAME` loads bench/NAME.ts and every
// bench/NAME-*.ts, each exporting `run()`, and runs them one after the other.
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** What every benchmark module exports. */
export interface BenchModule {
  run(): Promise<void>
}

const benchDir = dirname(fileURLToPath(import.meta.url))

/** The benchmark files, without `.ts`: every bench/*.ts but this runner and tests. */
function available(): string[] {
  return readdirSync(benchDir)
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts') && name !== 'run.ts')
    .map((name) => name.slice(0, -'.ts'.length))
    .sort()
}

async function main(argv: string[]): Promise<number> {
  const name = argv[0]
  const all = available()
  const chosen = name === undefined ? [] : all.filter((bench) => bench === name || bench.startsWith(`${name}-`))
  if (chosen.length === 0) {
    const problem = name === undefined ? 'no benchmark named' : `unknown benchmark "${name}"`
    console.error(`bench: ${problem}; usage: npm run bench -- NAME, where NAME is one of: ${all.join(', ')}`)
    return 1
  }
  for (const bench of chosen) {
    const module = (await import(pathToFileURL(join(benchDir, `${bench}.ts`)).href)) as Partial<BenchModule>
    if (typeof module.run !== 'function') {
      console.error(`bench: bench/${bench}.ts does not export run(): Promise<void>`)
      return 1
    }
    console.log(`\n=== bench ${bench} ===`)
    await module.run()
  }
  return 0
}

process.exitCode = await main(process.argv.slice(2))
