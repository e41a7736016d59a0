// `malt data profile FILE`: statistics per column (a text table, JSON or an HTML report),
// drift against a second file, and schema checks (`--schema`) or schema inference.
import { basename } from 'node:path'
import type { Command } from 'commander'
import { MaltError } from '../../errors.js'
import type { OnError } from '../../data/types.js'
import { integerOption, onErrorOption } from '../options.js'
import { compareProfiles, type Comparison } from '../../data/profile/drift.js'
import { renderProfileHtml } from '../../data/profile/html-report.js'
import { formatOf, openDataset } from '../../data/formats.js'
import { inferCsvSchema } from '../../data/sources/csv.js'
import { Profiler, stripSamples } from '../../data/profile/profile.js'
import { Validator, inferSchema, parseSchema, type Schema, type ValidationResult } from '../../data/profile/schema.js'
import { renderComparisonText, renderProfileText, renderValidationText } from '../../data/profile/text-report.js'
import type { Profile } from '../../data/profile/types.js'
import { newReadStats } from '../../data/types.js'
import { resolvePath } from '../../storage/index.js'

/** The options of `malt data profile`, as commander parses them. */
export interface DataProfileOptions {
  /** A second file to compare with (drift). */
  compare?: string
  /** Print JSON instead of tables. */
  json?: boolean
  /** Write the HTML report here (atomically). */
  html?: string
  /** Validate FILE against this schema (JSON); violations make the command fail. */
  schema?: string
  /** Write the schema inferred from FILE here (atomically). */
  writeSchema?: string
  /** Read at most this many rows of each file. */
  limit?: number
  /** Violations printed when the schema check fails. @defaultValue 20 */
  show?: number
  /** Malformed rows: stop, or skip and count them. @defaultValue 'throw' ('skip' with --schema, which reports them) */
  onError?: OnError
  /** CSV rows read to infer column types. @defaultValue 1000 */
  inferRows?: number
}

/** Where the command writes; tests pass their own. */
export interface DataProfileIo {
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown; isTTY?: boolean }
}

/** Everything one run computed. */
export interface DataProfileResult {
  profile: Profile
  compared?: { profile: Profile; comparison: Comparison }
  validation?: ValidationResult
  /** Rows the reader could not parse (only counted with --schema, which reads on past them). */
  unreadable?: { rows: number; reasons: string[] }
}

async function readSchema(uri: string): Promise<Schema> {
  const { storage, path } = resolvePath(uri)
  const text = new TextDecoder().decode(await storage.readFile(path))
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new MaltError('SCHEMA_INVALID', `${uri}: expected a JSON schema ({ "columns": [...] }), but it is not valid JSON: ${(error as Error).message}`, {
      cause: error,
      location: { file: uri },
    })
  }
  return parseSchema(json, uri)
}

async function writeAtomically(uri: string, text: string): Promise<void> {
  const { storage, path } = resolvePath(uri)
  await storage.writeFile(path, text)
}

/** Profiles one file (and validates it when `validator` is given), with progress on a terminal. */
async function profileFile(file: string, options: DataProfileOptions, io: DataProfileIo, validator?: Validator) {
  const stats = newReadStats()
  const tty = io.stderr.isTTY === true
  // A CSV's header names its columns even when no row holds a value (a header-only file).
  const format = formatOf(file)
  const columns = format === 'csv' || format === 'tsv'
    ? (await inferCsvSchema(file, { delimiter: format === 'tsv' ? '\t' : ',', onError: 'skip', inferRows: options.inferRows })).columns.map((column) => column.name)
    : undefined
  const profiler = new Profiler({
    name: basename(file),
    columns,
    limit: options.limit,
    onProgress: tty ? (rows) => io.stderr.write(`\rprofiling ${file}: ${rows.toLocaleString('en-US')} rows`) : undefined,
  })
  // With a schema, unreadable rows are reported with the violations instead of stopping the run.
  const rows = openDataset(file, { onError: validator ? 'skip' : (options.onError ?? 'throw'), stats, inferRows: options.inferRows })
  for await (const row of rows) {
    if (profiler.full) {
      profiler.markTruncated()
      break
    }
    profiler.add(row)
    validator?.check(row)
  }
  if (tty && profiler.rowCount >= 10_000) io.stderr.write(`\rprofiling ${file}: ${profiler.rowCount.toLocaleString('en-US')} rows, done\n`)
  return { profile: profiler.finish(), stats }
}

/**
 * Runs `malt data profile` without exiting: prints the report and writes the requested files.
 * The caller decides what a failed schema check means (the command exits 1).
 */
export async function runDataProfile(file: string, options: DataProfileOptions = {}, io: DataProfileIo = process): Promise<DataProfileResult> {
  const schema = options.schema !== undefined ? await readSchema(options.schema) : undefined
  const validator = schema ? new Validator(schema) : undefined
  const first = await profileFile(file, options, io, validator)
  const result: DataProfileResult = { profile: first.profile }
  if (!validator && first.stats.rowsSkipped > 0) {
    io.stderr.write(`skipped ${first.stats.rowsSkipped} malformed rows of ${file}:\n${first.stats.skipped.map((reason) => `  ${reason}`).join('\n')}\n`)
  }
  if (validator) {
    result.validation = validator.finish()
    if (first.stats.rowsSkipped > 0) result.unreadable = { rows: first.stats.rowsSkipped, reasons: first.stats.skipped }
  }
  if (options.compare !== undefined) {
    const second = await profileFile(options.compare, options, io)
    result.compared = { profile: second.profile, comparison: compareProfiles(first.profile, second.profile) }
  }
  // Messages about written files go to stderr with --json, so stdout stays one JSON document.
  const note = (text: string) => (options.json ? io.stderr : io.stdout).write(text)
  if (options.writeSchema !== undefined) {
    await writeAtomically(options.writeSchema, `${JSON.stringify(inferSchema(first.profile), null, 2)}\n`)
  }
  if (options.html !== undefined) {
    await writeAtomically(options.html, renderProfileHtml(first.profile, result.compared, { title: `Data profile: ${basename(file)}` }))
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify({
      profile: stripSamples(result.profile),
      ...(result.compared ? { compared: { profile: stripSamples(result.compared.profile), comparison: result.compared.comparison } } : {}),
      ...(result.validation ? { validation: result.validation } : {}),
      ...(result.unreadable ? { unreadable: result.unreadable } : {}),
    }, null, 2)}\n`)
  } else {
    io.stdout.write(renderProfileText(result.profile))
    if (result.compared) {
      io.stdout.write(`\n${renderProfileText(result.compared.profile)}`)
      io.stdout.write(renderComparisonText(result.compared.comparison))
    }
    if (result.validation) io.stdout.write(`\n${renderValidationText(result.validation, options.show ?? 20)}`)
    if (result.unreadable) {
      io.stdout.write(`${result.unreadable.rows} rows could not be read:\n${result.unreadable.reasons.map((r) => `  ${r}`).join('\n')}\n`)
    }
  }
  if (options.writeSchema !== undefined) note(`wrote schema to ${options.writeSchema}\n`)
  if (options.html !== undefined) note(`wrote HTML report to ${options.html}\n`)
  return result
}

/** Adds `profile` under `malt data`; `io` is where it prints (tests pass their own). */
export function registerDataProfile(dataCommand: Command, io: DataProfileIo = process): void {
  dataCommand
    .command('profile')
    .description('statistics per column (count, missing, mean, std, quantiles, histograms, top values), drift against --compare, schema checks')
    .argument('<file>', 'data file (.csv .tsv .jsonl .ndjson .parquet .tfrecord[.gz])')
    .option('--compare <file2>', 'a second data set: profile it too and report drift (KS test, Jensen–Shannon distance) per column')
    .option('--json', 'print the profile (and comparison, validation) as JSON')
    .option('--html <out.html>', 'write a self-contained HTML report (written atomically)')
    .option('--schema <schema.json>', 'validate FILE against this schema; exit 1 listing the violations if any')
    .option('--write-schema <out.json>', 'write the schema inferred from FILE (types, nullability, ranges, categories)')
    .option('--limit <n>', 'read at most N rows of each file', integerOption('--limit'))
    .option('--on-error <mode>', 'malformed rows: "throw" (stop) or "skip" (skip, count and list them)', onErrorOption)
    .option('--infer-rows <n>', 'CSV rows read to infer column types', integerOption('--infer-rows'))
    .option('--show <n>', 'violations to print when the schema check fails', integerOption('--show'), 20)
    .action(async (file: string, options: DataProfileOptions) => {
      const result = await runDataProfile(file, options, io)
      const { validation, unreadable } = result
      if (validation && (!validation.valid || unreadable)) {
        const first = validation.violations[0]?.message ?? unreadable?.reasons[0] ?? ''
        const total = validation.counts.total + (unreadable?.rows ?? 0)
        throw new MaltError('DATA_SCHEMA_VIOLATIONS', `${file} does not match ${options.schema}: ${total} violation${total === 1 ? '' : 's'} (first: ${first})`, {
          location: { file },
        })
      }
    })
}
