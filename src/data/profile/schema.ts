// Data schemas (like TFX data validation's): inferred from a profile, saved as JSON, and
// checked against rows, listing every violation with its record number and column.
import { MaltError, describeValue } from '../../errors.js'
import { requireInteger } from '../../util/checks.js'
import type { Row } from '../types.js'
import { profileDataset } from './profile.js'
import type { ColumnProfile, Profile, ProfileOptions } from './types.js'

/** The value types a schema column can declare. */
export type SchemaType = 'number' | 'integer' | 'boolean' | 'string' | 'vector' | 'bytes'

const SCHEMA_TYPES: readonly SchemaType[] = ['number', 'integer', 'boolean', 'string', 'vector', 'bytes']

/** One column of a {@link Schema}. */
export interface SchemaColumn {
  name: string
  type: SchemaType
  /** Rows may lack the column or hold null. */
  nullable: boolean
  /** Smallest allowed value (numbers). */
  min?: number
  /** Largest allowed value (numbers). */
  max?: number
  /** Allowed categories (strings). */
  values?: string[]
  /** Required length (vectors). */
  length?: number
}

/** What rows must look like; plain JSON, written by `malt data profile --write-schema`. */
export interface Schema {
  columns: SchemaColumn[]
}

/** Options of {@link inferSchema}. */
export interface InferSchemaOptions extends ProfileOptions {
  /** Record the observed min and max of numeric columns as the allowed range. @defaultValue true */
  ranges?: boolean
  /** A string column with at most this many distinct values gets a `values` list. @defaultValue 20 */
  maxCategories?: number
}

function isProfile(source: unknown): source is Profile {
  const candidate = source as Partial<Profile>
  return typeof candidate === 'object' && candidate !== null && typeof candidate.rows === 'number' && Array.isArray(candidate.columns)
}

function columnSchema(column: ColumnProfile, ranges: boolean, maxCategories: number): SchemaColumn {
  // A column with no values seen (e.g. a header-only CSV) says nothing against nulls.
  const out: SchemaColumn = { name: column.name, type: column.type === 'null' ? 'string' : column.type, nullable: column.missing > 0 || column.count === 0 }
  const { numeric, categorical, vector } = column
  if (column.kind === 'numeric' && ranges && numeric && numeric.count > 0) {
    out.min = numeric.min
    out.max = numeric.max
  }
  if (column.type === 'string' && categorical && !categorical.distinctApproximate && !categorical.frequenciesApproximate &&
    categorical.distinct <= maxCategories && categorical.otherCount === 0 && categorical.frequencies.every((f) => f.value.length < 200)) {
    out.values = categorical.frequencies.map((f) => f.value).sort()
  }
  if (column.kind === 'vector' && vector && vector.count > 0 && vector.minLength === vector.maxLength) out.length = vector.minLength
  return out
}

/**
 * A schema that the profiled data satisfies: each column's dominant type, nullable when any
 * value was missing, the observed numeric range, the categories of low-cardinality strings
 * and the length of fixed-length vectors. Given rows, profiles them first.
 */
export function inferSchema(profile: Profile, options?: InferSchemaOptions): Schema
export function inferSchema(rows: AsyncIterable<Row> | Iterable<Row>, options?: InferSchemaOptions): Promise<Schema>
export function inferSchema(source: Profile | AsyncIterable<Row> | Iterable<Row>, options: InferSchemaOptions = {}): Schema | Promise<Schema> {
  const ranges = options.ranges ?? true
  const maxCategories = requireInteger('SCHEMA_BAD_OPTION', 'inferSchema', 'maxCategories', options.maxCategories ?? 20, 0)
  const build = (profile: Profile): Schema => ({ columns: profile.columns.map((c) => columnSchema(c, ranges, maxCategories)) })
  if (isProfile(source)) return build(source)
  return profileDataset(source, options).then(build)
}

/**
 * Checks that `value` (parsed JSON) is a {@link Schema}; the error names the bad field.
 * `where` names the file for messages.
 */
export function parseSchema(value: unknown, where = 'schema'): Schema {
  const fail = (field: string, expected: string, received: unknown): never => {
    throw new MaltError('SCHEMA_INVALID', `${where}: ${field}: expected ${expected}, received ${describeValue(received)}`, { location: { file: where, field } })
  }
  if (typeof value !== 'object' || value === null || !Array.isArray((value as Schema).columns)) fail('columns', 'an object { "columns": [...] }', value)
  const names = new Set<string>()
  const columns = (value as Schema).columns.map((raw, i): SchemaColumn => {
    const at = `columns[${i}]`
    if (typeof raw !== 'object' || raw === null) fail(at, 'an object', raw)
    const column = raw as unknown as Record<string, unknown>
    if (typeof column.name !== 'string' || column.name === '') fail(`${at}.name`, 'a non-empty string', column.name)
    if (names.has(column.name as string)) fail(`${at}.name`, 'a name not used by another column', column.name)
    names.add(column.name as string)
    if (!SCHEMA_TYPES.includes(column.type as SchemaType)) fail(`${at}.type`, `one of ${SCHEMA_TYPES.join(', ')}`, column.type)
    if (column.nullable !== undefined && typeof column.nullable !== 'boolean') fail(`${at}.nullable`, 'true or false', column.nullable)
    for (const bound of ['min', 'max'] as const) {
      if (column[bound] !== undefined && typeof column[bound] !== 'number') fail(`${at}.${bound}`, 'a number', column[bound])
    }
    if (column.values !== undefined && (!Array.isArray(column.values) || !column.values.every((v) => typeof v === 'string'))) {
      fail(`${at}.values`, 'an array of strings', column.values)
    }
    if (column.length !== undefined && (!Number.isInteger(column.length) || (column.length as number) < 0)) {
      fail(`${at}.length`, 'a non-negative integer', column.length)
    }
    return { ...(column as unknown as SchemaColumn), nullable: (column.nullable as boolean | undefined) ?? false }
  })
  return { columns }
}

/** What kind of rule a row broke. */
export type ViolationKind = 'missing_column' | 'null' | 'type' | 'range' | 'category' | 'length' | 'unexpected_column'

/** One broken rule: the record (1-based data row), the column, what the schema expects and what the row holds. */
export interface Violation {
  row: number
  column: string
  kind: ViolationKind
  expected: string
  received: string
  message: string
}

/** What {@link validate} found. */
export interface ValidationResult {
  valid: boolean
  rows: number
  /** The first `maxViolations` violations, in row order. */
  violations: Violation[]
  counts: {
    /** All violations, also those past the stored list. */
    total: number
    byKind: Partial<Record<ViolationKind, number>>
    byColumn: Record<string, number>
  }
}

/** Options of {@link validate}. */
export interface ValidateOptions {
  /** Violations stored in the result (all are counted). @defaultValue 1000 */
  maxViolations?: number
  /** Columns not in the schema are allowed. @defaultValue false */
  allowUnexpected?: boolean
  /**
   * Names a record (1-based, in the order checked) in violation messages, e.g.
   * `(n) => \`train.csv:${n + 1}\`` for a CSV with a header and no multi-line or skipped rows.
   * @defaultValue `record N (data row N)`
   */
  describeRecord?: (record: number) => string
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return 'array'
  if (ArrayBuffer.isView(value)) return value.constructor.name
  return value === null ? 'null' : typeof value
}

function hasType(value: unknown, type: SchemaType): boolean {
  switch (type) {
    case 'number':
      return typeof value === 'number' || typeof value === 'bigint'
    case 'integer':
      return (typeof value === 'number' && Number.isInteger(value)) || typeof value === 'bigint'
    case 'boolean':
      return typeof value === 'boolean'
    case 'string':
      return typeof value === 'string'
    case 'vector':
      return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))
    case 'bytes':
      return value instanceof Uint8Array || (Array.isArray(value) && value.every((v) => v instanceof Uint8Array))
  }
}

/** Checks rows one at a time against a schema; {@link validate} drives it. */
export class Validator {
  private readonly columns: SchemaColumn[]
  private readonly known: Set<string>
  private readonly categories = new Map<string, Set<string>>()
  private readonly maxViolations: number
  private readonly allowUnexpected: boolean
  private readonly describeRecord: (record: number) => string
  private readonly result: ValidationResult = { valid: true, rows: 0, violations: [], counts: { total: 0, byKind: {}, byColumn: {} } }

  constructor(schema: Schema, options: ValidateOptions = {}) {
    this.columns = parseSchema(schema).columns
    this.known = new Set(this.columns.map((c) => c.name))
    for (const column of this.columns) if (column.values) this.categories.set(column.name, new Set(column.values))
    this.maxViolations = requireInteger('SCHEMA_BAD_OPTION', 'validate', 'maxViolations', options.maxViolations ?? 1000, 0)
    this.allowUnexpected = options.allowUnexpected ?? false
    this.describeRecord = options.describeRecord ?? ((record) => `record ${record} (data row ${record})`)
    if (typeof this.describeRecord !== 'function') {
      throw new MaltError('SCHEMA_BAD_OPTION', `validate: expected describeRecord to be a function, received ${describeValue(options.describeRecord)}`)
    }
  }

  private report(column: string, kind: ViolationKind, expected: string, received: string): void {
    const { counts, violations } = this.result
    counts.total++
    counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1
    counts.byColumn[column] = (counts.byColumn[column] ?? 0) + 1
    this.result.valid = false
    if (violations.length >= this.maxViolations) return
    const row = this.result.rows
    violations.push({ row, column, kind, expected, received, message: `${this.describeRecord(row)}, column ${JSON.stringify(column)}: expected ${expected}, received ${received}` })
  }

  /** Checks one row (rows are numbered from 1 in the order given). */
  check(row: Row): void {
    this.result.rows++
    for (const column of this.columns) {
      const present = Object.prototype.hasOwnProperty.call(row, column.name)
      const value = present ? row[column.name] : undefined
      if (value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value))) {
        if (column.nullable) continue
        if (!present) this.report(column.name, 'missing_column', `the column (${column.type}, required)`, 'a row without it')
        else this.report(column.name, 'null', `a non-null ${column.type}`, describeValue(value === undefined ? null : value))
        continue
      }
      if (!hasType(value, column.type)) {
        this.report(column.name, 'type', `a value of type ${column.type}`, `${describeValue(value)} (${typeName(value)})`)
        continue
      }
      const number = typeof value === 'bigint' ? Number(value) : value
      if (typeof number === 'number' && ((column.min !== undefined && number < column.min) || (column.max !== undefined && number > column.max))) {
        this.report(column.name, 'range', `a value in [${column.min ?? '-∞'}, ${column.max ?? '∞'}]`, describeValue(number))
      }
      const allowed = this.categories.get(column.name)
      if (allowed && typeof value === 'string' && !allowed.has(value)) {
        const listed = column.values!.slice(0, 10).map((v) => JSON.stringify(v)).join(', ')
        this.report(column.name, 'category', `one of ${listed}${column.values!.length > 10 ? ', …' : ''}`, describeValue(value))
      }
      const length = (value as ArrayLike<unknown>).length
      if (column.length !== undefined && (column.type === 'vector' || column.type === 'bytes') && length !== column.length) {
        this.report(column.name, 'length', `length ${column.length}`, `length ${length}`)
      }
    }
    if (this.allowUnexpected) return
    for (const name of Object.keys(row)) {
      if (!this.known.has(name)) this.report(name, 'unexpected_column', 'no such column (not in the schema)', describeValue(row[name]))
    }
  }

  /** The result so far. */
  finish(): ValidationResult {
    return this.result
  }
}

/**
 * Checks every row against `schema` and lists every violation (the first `maxViolations`
 * in full, all of them in `counts`).
 *
 * @example
 * const result = await validate(data.csv('test.csv'), schema)
 * for (const v of result.violations) console.log(v.message)
 */
export async function validate(rows: AsyncIterable<Row> | Iterable<Row>, schema: Schema, options: ValidateOptions = {}): Promise<ValidationResult> {
  const validator = new Validator(schema, options)
  for await (const row of rows) validator.check(row)
  return validator.finish()
}
