// The model server's config file (JSON): per model, its version policy, batching, canary and
// version labels, as TF Serving's ModelServerConfig. Validated field by field so a mistake is
// reported with its exact path; written back atomically when the admin API changes a canary.
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { MaltError, describeValue } from '../errors.js'
import { writeJsonAtomic } from '../storage/durable.js'
import { storageError } from '../storage/local.js'
import type { ModelConfig, VersionPolicy } from './types.js'

/**
 * The config file's contents.
 *
 * @example
 * { "models": { "mnist": { "versionPolicy": { "latest": { "numVersions": 2 } },
 *                          "batching": { "maxBatchSize": 32, "batchTimeoutMicros": 1000 },
 *                          "canary": { "version": 3, "percent": 10 }, "labels": { "stable": 2 } } } }
 */
export interface ServerConfigFile {
  /** Per model name; a model of the repository not listed here: latest version, no batching. */
  models: Record<string, ModelConfig>
}

// Every schema carries what it expects as its error, so an issue's message is that description.
const expect = (what: string): { error: string } => ({ error: what })

const positiveInt = (what = 'a positive integer'): z.ZodInt => z.int(expect(what)).min(1, expect(what))

const versionPolicySchema = z
  .strictObject(
    {
      latest: z.strictObject({ numVersions: positiveInt() }, expect('an object {"numVersions": n}')).optional(),
      all: z.strictObject({}, expect('an empty object {}')).optional(),
      specific: z
        .strictObject({ versions: z.array(positiveInt('a positive integer version'), expect('an array of versions')).min(1, expect('at least one version')) }, expect('an object {"versions": [...]}'))
        .optional(),
    },
    expect('one of {"latest": {"numVersions": n}}, {"all": {}}, {"specific": {"versions": [...]}}'),
  )
  .superRefine((policy, context) => {
    const given = Object.keys(policy)
    if (given.length !== 1) context.addIssue({ code: 'custom', message: 'exactly one of "latest", "all", "specific"' })
  })
  .transform((policy): VersionPolicy => {
    if (policy.latest) return { latest: policy.latest }
    if (policy.specific) return { specific: policy.specific }
    return { all: {} }
  })

const batchingSchema = z.strictObject(
  {
    maxBatchSize: positiveInt().optional(),
    batchTimeoutMicros: z.int(expect('an integer ≥ 0 (microseconds)')).min(0, expect('an integer ≥ 0 (microseconds)')).optional(),
    maxEnqueuedBatches: positiveInt().optional(),
  },
  expect('an object with maxBatchSize, batchTimeoutMicros, maxEnqueuedBatches'),
)

const canarySchema = z.strictObject(
  {
    version: positiveInt('a positive integer version'),
    percent: z.number(expect('a number 0–100')).min(0, expect('a number 0–100')).max(100, expect('a number 0–100')),
  },
  expect('an object {"version": v, "percent": p}'),
)

const modelConfigSchema = z.strictObject(
  {
    versionPolicy: versionPolicySchema.optional(),
    batching: batchingSchema.optional(),
    canary: canarySchema.optional(),
    labels: z.record(z.string(), positiveInt('a positive integer version'), expect('an object of label → version')).optional(),
  },
  expect('an object with versionPolicy, batching, canary, labels'),
)

const modelName = z.string().regex(/^[^./\\][^/\\]*$/, expect('a model name: a directory name, not starting with "." and without "/"'))

const serverConfigSchema = z.strictObject({ models: z.record(modelName, modelConfigSchema, expect('an object of model name → config')) }, expect('an object {"models": {...}}'))

/** Renders an issue path as `models.mnist.canary.percent` (brackets for indices and odd keys). */
function formatPath(path: readonly PropertyKey[]): string {
  let text = ''
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`
    else if (typeof key === 'string' && /^[A-Za-z_][\w-]*$/.test(key)) text += text === '' ? key : `.${key}`
    else text += `[${JSON.stringify(String(key))}]`
  }
  return text === '' ? '(top level)' : text
}

function valueAt(json: unknown, path: readonly PropertyKey[]): unknown {
  let value = json
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined
    value = (value as Record<PropertyKey, unknown>)[key]
  }
  return value
}

function describeIssue(json: unknown, issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path)
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`
  }
  if (issue.code === 'invalid_key') {
    // A model name: the key itself is the received value.
    const key = issue.path[issue.path.length - 1]
    return `${formatPath(issue.path.slice(0, -1))}: expected ${issue.issues[0]?.message ?? 'a valid key'}, received ${describeValue(key)}`
  }
  return `${where}: expected ${issue.message}, received ${describeValue(valueAt(json, issue.path))}`
}

/**
 * Validates a parsed config file; `source` (a path, or "the admin request") starts every message.
 * Throws a MaltError `SERVING_BAD_CONFIG` naming each bad field, e.g.
 * `config.json: models.mnist.canary.percent: expected a number 0–100, received 150`.
 */
export function parseServerConfig(json: unknown, source: string): ServerConfigFile {
  const result = serverConfigSchema.safeParse(json)
  if (result.success) return result.data as ServerConfigFile
  const problems = result.error.issues.map((issue) => describeIssue(json, issue))
  throw new MaltError('SERVING_BAD_CONFIG', `${source}: ${problems.join('; ')}`, { location: { field: formatPath(result.error.issues[0].path) } })
}

/** Reads and validates a config file. */
export async function readServerConfig(path: string): Promise<ServerConfigFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw storageError(error, path, 'read')
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new MaltError('SERVING_BAD_CONFIG', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error, location: { file: path } })
  }
  return parseServerConfig(json, path)
}

/** Validates `config` and writes it to `path` atomically (temp file, fsync, rename): a reader never sees half a file. */
export async function writeServerConfig(path: string, config: ServerConfigFile): Promise<void> {
  const valid = parseServerConfig(config, `the config to write to ${path}`)
  await writeJsonAtomic(path, valid)
}
