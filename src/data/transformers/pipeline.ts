// Pipeline: ordered transformer stages fitted one after the other, applied to one row at a
// time, saved as one JSON file (`format: 'malt-pipeline'`) that the model server loads.
import { MaltError, describeValue, type ErrorLocation } from '../../errors.js'
import { resolvePath } from '../../storage/index.js'
import { Dataset } from '../dataset.js'
import type { Row } from '../types.js'
import { transformRows, type JsonValue, type RowSource, type Transformer, type TransformerJSON } from './base.js'
import { transformerFactories } from './from-json.js'

/** The `format` field of a saved pipeline. */
export const PIPELINE_FORMAT = 'malt-pipeline'
/** The `version` of the saved pipeline format this code writes and reads. */
export const PIPELINE_VERSION = 1

/** A saved pipeline. */
export interface PipelineJSON extends TransformerJSON {
  type: 'Pipeline'
  format: typeof PIPELINE_FORMAT
  version: typeof PIPELINE_VERSION
  stages: TransformerJSON[]
}

/** Options of {@link Pipeline.fit}. */
export interface PipelineFitOptions {
  /** Called before each stage that learns from data is fitted (for progress). */
  onStage?: (index: number, stage: Transformer) => void
}

/** Every saved `type` {@link transformerFromJSON} accepts. */
export function knownTransformerTypes(): string[] {
  return [...Object.keys(transformerFactories), 'Pipeline'].sort()
}

/**
 * Rebuilds any transformer (a Pipeline included) from its `toJSON()` output, dispatching on
 * `type`. Unknown types are an error that lists the known ones.
 */
export function transformerFromJSON(json: unknown): Transformer {
  if (json === null || typeof json !== 'object' || Array.isArray(json) || typeof (json as { type?: unknown }).type !== 'string') {
    throw new MaltError('TRANSFORMER_BAD_JSON', `expected a transformer JSON object with a string "type", received ${describeValue(json)}`)
  }
  const type = (json as TransformerJSON).type
  if (type === 'Pipeline') return Pipeline.fromJSON(json)
  const factory = Object.hasOwn(transformerFactories, type) ? transformerFactories[type] : undefined
  if (factory === undefined) {
    throw new MaltError('TRANSFORMER_UNKNOWN_TYPE', `unknown transformer type ${JSON.stringify(type)}; known types: ${knownTransformerTypes().join(', ')}`, {
      location: { field: 'type' },
    })
  }
  return factory(json as TransformerJSON)
}

/**
 * Stages applied in order. `fit` fits stage k on the output of stages 0..k−1, one pass over
 * the data per stage that learns (stateless stages cost no pass), so the data must be
 * re-iterable (an array or a Dataset) when more than one stage learns.
 *
 * @example
 * const pipeline = new Pipeline([new Imputer({ inputCol: 'age' }), new StandardScaler({ inputCol: 'age' })])
 * await pipeline.fit(data.csv('train.csv'))
 * await pipeline.save('file:///models/prep.json')
 * const same = await Pipeline.load('file:///models/prep.json')
 */
export class Pipeline implements Transformer {
  readonly type = 'Pipeline'
  /** The stages, in order. */
  readonly stages: readonly Transformer[]

  constructor(stages: Transformer[]) {
    if (!Array.isArray(stages)) throw new MaltError('TRANSFORMER_BAD_OPTION', `Pipeline: expected an array of stages, received ${describeValue(stages)}`)
    stages.forEach((stage, index) => {
      const ok = stage !== null && typeof stage === 'object' && ['fit', 'transform', 'toJSON'].every((m) => typeof (stage as unknown as Record<string, unknown>)[m] === 'function')
      if (!ok) throw new MaltError('TRANSFORMER_BAD_OPTION', `Pipeline: expected stage ${index} to be a transformer (with fit, transform and toJSON), received ${describeValue(stage)}`)
    })
    this.stages = [...stages]
  }

  /** True when every stage is fitted. */
  get fitted(): boolean {
    return this.stages.every((stage) => stage.fitted)
  }

  /** True when some stage learns from data. */
  get learnsFromData(): boolean {
    return this.stages.some((stage) => stage.learnsFromData)
  }

  /** Fits the stages that learn, in order, each on the output of the stages before it. */
  async fit(data: RowSource, options: PipelineFitOptions = {}): Promise<this> {
    const learners = this.stages.filter((stage) => stage.learnsFromData)
    if (learners.length > 1 && isOneShot(data)) {
      throw new MaltError(
        'TRANSFORMER_BAD_INPUT',
        `Pipeline.fit needs one pass over the data per stage that learns (${learners.map((s) => s.type).join(', ')}), ` +
          'but received a one-shot iterator; pass an array or a Dataset',
      )
    }
    for (let k = 0; k < this.stages.length; k++) {
      const stage = this.stages[k]
      if (!stage.learnsFromData) continue
      options.onStage?.(k, stage)
      const before = this.stages.slice(0, k)
      const input = before.length === 0 ? data : mapRows(data, (row) => applyStages(before, row))
      try {
        await stage.fit(input)
      } catch (error) {
        throw inStage(error, k, stage.type)
      }
    }
    return this
  }

  /** Runs every stage on one row. */
  transform(row: Row): Row {
    return applyStages(this.stages, row)
  }

  /** Lazily transforms every row. */
  transformDataset(data: Dataset<Row> | RowSource): Dataset<Row> {
    return transformRows(this, data)
  }

  toJSON(): PipelineJSON {
    return { type: 'Pipeline', format: PIPELINE_FORMAT, version: PIPELINE_VERSION, stages: this.stages.map((stage) => stage.toJSON()) }
  }

  /** Rebuilds a pipeline from {@link Pipeline.toJSON} output (checks format and version). */
  static fromJSON(json: unknown): Pipeline {
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new MaltError('TRANSFORMER_BAD_JSON', `expected a saved pipeline (an object with format "${PIPELINE_FORMAT}"), received ${describeValue(json)}`)
    }
    const { format, version, stages } = json as Record<string, JsonValue | undefined>
    if (format !== PIPELINE_FORMAT) {
      throw new MaltError('TRANSFORMER_BAD_JSON', `expected "format" to be "${PIPELINE_FORMAT}", received ${describeValue(format)}`, { location: { field: 'format' } })
    }
    if (version !== PIPELINE_VERSION) {
      const newer = typeof version === 'number' && version > PIPELINE_VERSION ? ' (saved by a newer Malt; upgrade to read it)' : ''
      throw new MaltError('TRANSFORMER_BAD_JSON', `expected "version" to be ${PIPELINE_VERSION}, received ${describeValue(version)}${newer}`, { location: { field: 'version' } })
    }
    if (!Array.isArray(stages)) throw new MaltError('TRANSFORMER_BAD_JSON', `expected "stages" to be an array, received ${describeValue(stages)}`, { location: { field: 'stages' } })
    return new Pipeline(
      stages.map((stage, index) => {
        try {
          return transformerFromJSON(stage)
        } catch (error) {
          throw inStage(error, index, (stage as { type?: unknown } | null)?.type)
        }
      }),
    )
  }

  /** Writes the pipeline as JSON to `uri` (atomically: readers never see half a file). */
  async save(uri: string): Promise<void> {
    const { storage, path } = resolvePath(uri)
    await storage.writeFile(path, `${JSON.stringify(this.toJSON(), null, 2)}\n`)
  }

  /** Reads a pipeline saved with {@link Pipeline.save}; errors name the file. */
  static async load(uri: string): Promise<Pipeline> {
    const { storage, path } = resolvePath(uri)
    let text: string
    try {
      text = new TextDecoder().decode(await storage.readFile(path))
    } catch (error) {
      throw new MaltError('TRANSFORMER_READ_FAILED', `cannot read pipeline file ${uri}: ${(error as Error).message}`, { cause: error, location: { file: uri } })
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (error) {
      const location = jsonErrorLocation(text, (error as Error).message, uri)
      const where = location.line !== undefined ? `${uri}:${location.line}` : uri
      throw new MaltError('TRANSFORMER_BAD_JSON', `${where}: not valid JSON (${(error as Error).message}); expected a pipeline saved by Pipeline.save`, {
        cause: error,
        location,
      })
    }
    try {
      return Pipeline.fromJSON(json)
    } catch (error) {
      if (!(error instanceof MaltError)) throw error
      throw new MaltError(error.code, `${uri}: ${error.message}`, { cause: error, location: { ...error.location, file: uri } })
    }
  }
}

function applyStages(stages: readonly Transformer[], row: Row): Row {
  let out = row
  for (const stage of stages) out = stage.transform(out)
  return out
}

/** A re-iterable view of `data` through `fn` (each iteration starts a new pass over data). */
function mapRows(data: RowSource, fn: (row: Row) => Row): AsyncIterable<Row> {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const row of data) yield fn(row)
    },
  }
}

/** An iterator object (a generator) can be read once; arrays, Datasets and other iterables again. */
function isOneShot(data: RowSource): boolean {
  if (Array.isArray(data) || data instanceof Dataset) return false
  return typeof (data as { next?: unknown }).next === 'function'
}

/** Prefixes an error with the stage it came from, keeping its code and location. */
function inStage(error: unknown, index: number, type: unknown): unknown {
  if (!(error instanceof MaltError)) return error
  const name = typeof type === 'string' ? ` (${type})` : ''
  return new MaltError(error.code, `stage ${index}${name}: ${error.message}`, { cause: error, location: error.location })
}

/** Line and byte offset of a JSON.parse error, when V8's message gives a position. */
function jsonErrorLocation(text: string, message: string, file: string): ErrorLocation {
  const match = /position (\d+)/.exec(message)
  const position = match ? Number(match[1]) : /end of JSON input/.test(message) ? text.length : undefined
  if (position === undefined) return { file }
  const before = text.slice(0, position) // the position counts UTF-16 units, not bytes
  return { file, line: before.split('\n').length, offset: Buffer.byteLength(before) }
}
