// MinMaxScaler: rescales a number (or each element of a vector) from the range seen in fit
// (or a given one, e.g. 0..255 for pixels) to [min, max], as dist-keras' MinMaxTransformer.
import type { Row } from '../types.js'
import { ColumnTransformer, badOption, type ColumnOptions, type RowSource, type TransformerJSON } from './base.js'
import { badState, checkType, defined, mapNumeric, optionsFrom, readNumeric, readState, stateNumbers, withColumn } from './cells.js'
import { checkShape, scanNumeric } from './numeric-scan.js'

const TYPE = 'MinMaxScaler'

/** Options of {@link MinMaxScaler}. */
export interface MinMaxScalerOptions extends ColumnOptions {
  /** Lower end of the output range. @defaultValue 0 */
  min?: number
  /** Upper end of the output range. @defaultValue 1 */
  max?: number
  /**
   * The known input range (with `inputMax`): a number for every element, or one per vector
   * element. When given, `fit` reads nothing.
   * @defaultValue learned by `fit`, per vector element
   */
  inputMin?: number | number[]
  /** Upper end of the known input range; see `inputMin`. @defaultValue learned by `fit` */
  inputMax?: number | number[]
}

interface Fitted {
  /** true: vectors of dataMin.length; false: numbers; null: either (given scalar bounds). */
  vector: boolean | null
  dataMin: number[]
  dataMax: number[]
  /** (max − min) / (dataMax − dataMin) per element; 0 for a constant element. */
  scale: number[]
}

/**
 * Scales `x` to `min + (x − dataMin) · (max − min) / (dataMax − dataMin)`, per vector element.
 * A constant column (dataMax = dataMin) maps to `min`, never NaN. Values outside the fitted
 * range are not clipped. Vector outputs are Float32Arrays.
 *
 * @example
 * const scaler = await new MinMaxScaler({ inputCol: 'age' }).fit(rows) // ages 2, 4, 6 → 0, 0.5, 1
 */
export class MinMaxScaler extends ColumnTransformer {
  /** Lower end of the output range. */
  readonly min: number
  /** Upper end of the output range. */
  readonly max: number
  readonly learnsFromData: boolean
  private readonly given?: { inputMin: number | number[]; inputMax: number | number[] }
  private state?: Fitted

  constructor(options: MinMaxScalerOptions) {
    super(TYPE, options)
    this.min = options.min ?? 0
    this.max = options.max ?? 1
    if (typeof this.min !== 'number' || !Number.isFinite(this.min)) throw badOption(TYPE, 'min', 'a finite number', options.min)
    if (typeof this.max !== 'number' || !Number.isFinite(this.max)) throw badOption(TYPE, 'max', 'a finite number', options.max)
    if (this.min >= this.max) throw badOption(TYPE, 'max', `a number greater than min (${this.min})`, this.max)
    const { inputMin, inputMax } = options
    this.learnsFromData = inputMin === undefined && inputMax === undefined
    if (!this.learnsFromData) {
      this.given = checkGivenRange(inputMin, inputMax)
      const low = typeof this.given.inputMin === 'number' ? [this.given.inputMin] : this.given.inputMin
      const high = typeof this.given.inputMax === 'number' ? [this.given.inputMax] : this.given.inputMax
      this.state = this.makeState(typeof this.given.inputMin === 'number' ? null : true, low, high)
    }
  }

  get fitted(): boolean {
    return this.state !== undefined
  }

  /** Learns the smallest and largest value of the column (per vector element), in one pass. */
  async fit(data: RowSource): Promise<this> {
    if (!this.learnsFromData) return this
    let low = new Float64Array(0)
    let high = new Float64Array(0)
    const scan = await scanNumeric(
      TYPE,
      data,
      this.inputCol,
      (size) => {
        low = new Float64Array(size).fill(Infinity)
        high = new Float64Array(size).fill(-Infinity)
      },
      (values) => {
        for (let i = 0; i < values.length; i++) {
          const x = values[i]
          if (x < low[i]) low[i] = x
          if (x > high[i]) high[i] = x
        }
      },
    )
    if (scan === null) throw this.noData('the data has no rows')
    this.state = this.makeState(scan.vector, Array.from(low), Array.from(high))
    return this
  }

  transform(row: Row): Row {
    this.requireFitted()
    const state = this.state!
    const value = readNumeric(TYPE, row, this.inputCol)
    if (state.vector !== null) checkShape(TYPE, this.inputCol, { vector: state.vector, size: state.dataMin.length }, value)
    const { dataMin, scale } = state
    const each = state.vector === null // given scalar bounds apply to every element
    return withColumn(row, this.outputCol, mapNumeric(value, (x, i) => this.min + (x - dataMin[each ? 0 : i]) * scale[each ? 0 : i]))
  }

  toJSON(): TransformerJSON {
    const state = this.state
    return {
      type: TYPE,
      ...this.columnsJSON(),
      min: this.min,
      max: this.max,
      ...defined({ inputMin: this.given?.inputMin, inputMax: this.given?.inputMax }),
      state: state === undefined || this.given !== undefined ? null : { vector: state.vector, dataMin: state.dataMin, dataMax: state.dataMax },
    }
  }

  /** Rebuilds a scaler saved with {@link MinMaxScaler.toJSON}. */
  static fromJSON(json: TransformerJSON): MinMaxScaler {
    checkType(json, TYPE)
    const scaler = new MinMaxScaler(optionsFrom<MinMaxScalerOptions>(json))
    const state = readState(TYPE, json)
    if (state === null || !scaler.learnsFromData) return scaler
    const dataMin = stateNumbers(TYPE, state, 'dataMin')
    const dataMax = stateNumbers(TYPE, state, 'dataMax')
    if (dataMin === null || dataMin.length === 0) throw badState(TYPE, 'state.dataMin', 'a non-empty array of numbers', state.dataMin)
    if (dataMax === null || dataMax.length !== dataMin.length) throw badState(TYPE, 'state.dataMax', `an array of ${dataMin.length} numbers`, state.dataMax)
    if (typeof state.vector !== 'boolean') throw badState(TYPE, 'state.vector', 'true or false', state.vector)
    if (!state.vector && dataMin.length !== 1) throw badState(TYPE, 'state.dataMin', 'one number for a scalar column', dataMin)
    scaler.state = scaler.makeState(state.vector, dataMin, dataMax)
    return scaler
  }

  private makeState(vector: boolean | null, dataMin: number[], dataMax: number[]): Fitted {
    const scale = dataMin.map((low, i) => (dataMax[i] > low ? (this.max - this.min) / (dataMax[i] - low) : 0))
    return { vector, dataMin, dataMax, scale }
  }
}

function checkGivenRange(inputMin: unknown, inputMax: unknown): { inputMin: number | number[]; inputMax: number | number[] } {
  const isFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
  const expected = 'a finite number or an array of finite numbers, given together with inputMax'
  if (isFinite(inputMin)) {
    if (!isFinite(inputMax)) throw badOption(TYPE, 'inputMax', 'a finite number (as inputMin is one)', inputMax)
    if (inputMax < inputMin) throw badOption(TYPE, 'inputMax', `at least inputMin (${inputMin})`, inputMax)
    return { inputMin, inputMax }
  }
  if (!Array.isArray(inputMin) || inputMin.length === 0 || !inputMin.every(isFinite)) throw badOption(TYPE, 'inputMin', expected, inputMin)
  if (!Array.isArray(inputMax) || inputMax.length !== inputMin.length || !inputMax.every(isFinite)) {
    throw badOption(TYPE, 'inputMax', `an array of ${inputMin.length} finite numbers (as inputMin)`, inputMax)
  }
  const bad = inputMin.findIndex((low, i) => inputMax[i] < low)
  if (bad >= 0) throw badOption(TYPE, `inputMax[${bad}]`, `at least inputMin[${bad}] (${inputMin[bad]})`, inputMax[bad])
  return { inputMin: [...inputMin], inputMax: [...inputMax] }
}
