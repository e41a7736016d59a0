// The transformer contract: `fit` learns state from data in one streaming pass, `transform`
// maps one row synchronously (so a model server can run it per request), `toJSON` saves it.
import { MaltError, describeValue } from '../../errors.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'

/** Rows to fit on: a {@link Dataset}, an array, or any (async) iterable of rows. */
export type RowSource = AsyncIterable<Row> | Iterable<Row>

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** A transformer's saved form: its `type` (the class name), its options and its fitted state. */
export interface TransformerJSON {
  type: string
  [key: string]: JsonValue
}

/**
 * A data transformer, as in dist-keras. Rules every implementation keeps:
 * - `fit` reads its data at most once, in bounded memory (or documents its bound), and
 *   replaces any earlier fitted state; it resolves to the transformer itself.
 * - `transform` never mutates its input row: it returns a new row with the output column(s)
 *   set (by default the output column is the input column, i.e. the value is replaced).
 * - `transform` before `fit` throws a `MaltError` with code `TRANSFORMER_NOT_FITTED`.
 * - `fromJSON(toJSON())` gives a transformer whose `transform` output is identical.
 * - Numeric vector outputs are `Float32Array`s (what `tf.tensor` takes without a copy);
 *   scalar outputs are plain numbers.
 */
export interface Transformer {
  /** The class name, saved as `type` in the JSON. */
  readonly type: string
  /** Whether `transform` can run (stateless transformers are always fitted). */
  readonly fitted: boolean
  /** Whether `fit` reads data; when false `fit` is a no-op and a pipeline skips its pass. */
  readonly learnsFromData: boolean
  /** Learns the state from `data` (one pass). */
  fit(data: RowSource): Promise<this>
  /** Maps one row to a new row. */
  transform(row: Row): Row
  /** Lazily applies `transform` to every row. */
  transformDataset(data: Dataset<Row> | RowSource): Dataset<Row>
  /** The options and fitted state as plain JSON. */
  toJSON(): TransformerJSON
}

/** Shared plumbing of the built-in transformers: the fitted check and `transformDataset`. */
export abstract class BaseTransformer implements Transformer {
  abstract readonly fitted: boolean
  abstract readonly learnsFromData: boolean

  constructor(readonly type: string) {}

  abstract fit(data: RowSource): Promise<this>
  abstract transform(row: Row): Row
  abstract toJSON(): TransformerJSON

  /** What the transformer works on, for messages: `column "x"`. */
  protected abstract describe(): string

  transformDataset(data: Dataset<Row> | RowSource): Dataset<Row> {
    return transformRows(this, data)
  }

  /** Throws `TRANSFORMER_NOT_FITTED` unless `fit` has run (or the state was given / loaded). */
  protected requireFitted(): void {
    if (!this.fitted) {
      throw new MaltError(
        'TRANSFORMER_NOT_FITTED',
        `${this.type} on ${this.describe()} is not fitted: call \`await transformer.fit(data)\` (or fit the pipeline) before transform`,
      )
    }
  }

  /** A `TRANSFORMER_NO_DATA` error for a fit that saw no usable rows. */
  protected noData(detail: string): MaltError {
    return new MaltError('TRANSFORMER_NO_DATA', `${this.type} on ${this.describe()}: cannot fit, ${detail}`)
  }
}

/** Options every single-column transformer takes. */
export interface ColumnOptions {
  /** The column to read. */
  inputCol: string
  /**
   * The column to write.
   * @defaultValue `inputCol` (the value is replaced in place)
   */
  outputCol?: string
}

/** A transformer that reads one column and writes one column. */
export abstract class ColumnTransformer extends BaseTransformer {
  /** The column read. */
  readonly inputCol: string
  /** The column written. */
  readonly outputCol: string

  constructor(type: string, options: ColumnOptions) {
    super(type)
    if (options === null || typeof options !== 'object') {
      throw new MaltError('TRANSFORMER_BAD_OPTION', `${type}: expected an options object with inputCol, received ${String(options)}`)
    }
    this.inputCol = requireColumnName(type, 'inputCol', options.inputCol)
    this.outputCol = options.outputCol === undefined ? this.inputCol : requireColumnName(type, 'outputCol', options.outputCol)
  }

  protected describe(): string {
    return `column "${this.inputCol}"`
  }

  /** The input and output columns as JSON fields. */
  protected columnsJSON(): { inputCol: string; outputCol: string } {
    return { inputCol: this.inputCol, outputCol: this.outputCol }
  }
}

/** A transformer whose whole state is its options: `fit` reads nothing. */
export abstract class StatelessTransformer extends ColumnTransformer {
  readonly fitted = true
  readonly learnsFromData = false

  async fit(_data: RowSource): Promise<this> {
    return this
  }
}

/** Checks a column-name option: a non-empty string. */
export function requireColumnName(type: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw badOption(type, name, 'a non-empty column name', value)
  }
  return value
}

/** A `TRANSFORMER_BAD_OPTION` error: "Type: expected name to be X, received Y". */
export function badOption(type: string, name: string, expected: string, received: unknown): MaltError {
  return new MaltError('TRANSFORMER_BAD_OPTION', `${type}: expected ${name} to be ${expected}, received ${describeValue(received)}`)
}

/** Lazily applies `transformer.transform` to every row of `data` (a Dataset, an array or an iterable). */
export function transformRows(transformer: Pick<Transformer, 'transform'>, data: Dataset<Row> | RowSource): Dataset<Row> {
  const source = data instanceof Dataset ? data : Dataset.fromGenerator(() => data)
  return source.map((row) => transformer.transform(row))
}

/** Iterates sync or async rows, passing each with its 0-based index; returns the count. */
export async function forEachRow(data: RowSource, fn: (row: Row, index: number) => void): Promise<number> {
  if (data === null || typeof data !== 'object' || !(Symbol.asyncIterator in data || Symbol.iterator in data)) {
    throw new MaltError('TRANSFORMER_BAD_INPUT', `fit: expected a Dataset, an array or an iterable of rows, received ${describeValue(data)}`)
  }
  let index = 0
  for await (const row of data) fn(row, index++)
  return index
}
