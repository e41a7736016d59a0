// StandardScaler: centres a number (or each vector element) on the mean seen in fit and
// divides by the standard deviation, as dist-keras' StandardTransformer (Spark's scaler).
import type { Row } from '../types.js'
import { ColumnTransformer, badOption, type ColumnOptions, type RowSource, type TransformerJSON } from './base.js'
import { badState, checkType, mapNumeric, optionsFrom, readNumeric, readState, stateNumbers, withColumn } from './cells.js'
import { checkShape, scanNumeric } from './numeric-scan.js'

const TYPE = 'StandardScaler'

/** Options of {@link StandardScaler}. */
export interface StandardScalerOptions extends ColumnOptions {
  /** Subtract the mean. @defaultValue true */
  withMean?: boolean
  /** Divide by the standard deviation. @defaultValue true */
  withStd?: boolean
}

interface Fitted {
  vector: boolean
  mean: number[]
  std: number[]
}

/**
 * `(x − mean) / std` per vector element. The std is the sample standard deviation (divides
 * by n − 1, as Spark and dist-keras; 0 for a single row). Where the std is 0 (a constant
 * element) the value is only centred, never divided: no NaN or Infinity. Mean and variance
 * are accumulated with Welford's method in one pass, O(vector length) memory.
 *
 * @example
 * await new StandardScaler({ inputCol: 'x' }).fit(rows) // x = 2, 4, 6 → -1, 0, 1
 */
export class StandardScaler extends ColumnTransformer {
  /** Whether the mean is subtracted. */
  readonly withMean: boolean
  /** Whether values are divided by the std. */
  readonly withStd: boolean
  readonly learnsFromData = true
  private state?: Fitted
  /** The std, or 1 where the std is 0 or withStd is off. */
  private divisor: number[] = []

  constructor(options: StandardScalerOptions) {
    super(TYPE, options)
    this.withMean = options.withMean ?? true
    this.withStd = options.withStd ?? true
    if (typeof this.withMean !== 'boolean') throw badOption(TYPE, 'withMean', 'true or false', options.withMean)
    if (typeof this.withStd !== 'boolean') throw badOption(TYPE, 'withStd', 'true or false', options.withStd)
  }

  get fitted(): boolean {
    return this.state !== undefined
  }

  /** The fitted means (one per vector element), or undefined before fit. */
  get mean(): readonly number[] | undefined {
    return this.state?.mean
  }

  /** The fitted standard deviations, or undefined before fit. */
  get std(): readonly number[] | undefined {
    return this.state?.std
  }

  /** Learns the mean and sample std of the column (per vector element), in one pass. */
  async fit(data: RowSource): Promise<this> {
    let mean = new Float64Array(0)
    let m2 = new Float64Array(0)
    let n = 0
    const scan = await scanNumeric(
      TYPE,
      data,
      this.inputCol,
      (size) => {
        mean = new Float64Array(size)
        m2 = new Float64Array(size)
      },
      (values) => {
        n++
        for (let i = 0; i < values.length; i++) {
          const delta = values[i] - mean[i]
          mean[i] += delta / n
          m2[i] += delta * (values[i] - mean[i])
        }
      },
    )
    if (scan === null) throw this.noData('the data has no rows')
    const std = Array.from(m2, (sum, i) => {
      const value = n > 1 ? Math.sqrt(sum / (n - 1)) : 0
      // Rounding leaves a tiny std on a constant column; dividing by it would explode.
      return value <= 1e-12 * Math.max(1, Math.abs(mean[i])) ? 0 : value
    })
    this.setState({ vector: scan.vector, mean: Array.from(mean), std })
    return this
  }

  transform(row: Row): Row {
    this.requireFitted()
    const { vector, mean } = this.state!
    const value = readNumeric(TYPE, row, this.inputCol)
    checkShape(TYPE, this.inputCol, { vector, size: mean.length }, value)
    const divisor = this.divisor
    const centre = this.withMean
    return withColumn(row, this.outputCol, mapNumeric(value, (x, i) => (centre ? x - mean[i] : x) / divisor[i]))
  }

  toJSON(): TransformerJSON {
    const state = this.state
    return {
      type: TYPE,
      ...this.columnsJSON(),
      withMean: this.withMean,
      withStd: this.withStd,
      state: state === undefined ? null : { vector: state.vector, mean: state.mean, std: state.std },
    }
  }

  /** Rebuilds a scaler saved with {@link StandardScaler.toJSON}. */
  static fromJSON(json: TransformerJSON): StandardScaler {
    checkType(json, TYPE)
    const scaler = new StandardScaler(optionsFrom<StandardScalerOptions>(json))
    const state = readState(TYPE, json)
    if (state === null) return scaler
    const mean = stateNumbers(TYPE, state, 'mean')
    const std = stateNumbers(TYPE, state, 'std')
    if (mean === null || mean.length === 0) throw badState(TYPE, 'state.mean', 'a non-empty array of numbers', state.mean)
    if (std === null || std.length !== mean.length || std.some((s) => s < 0)) {
      throw badState(TYPE, 'state.std', `an array of ${mean.length} non-negative numbers`, state.std)
    }
    if (typeof state.vector !== 'boolean') throw badState(TYPE, 'state.vector', 'true or false', state.vector)
    if (!state.vector && mean.length !== 1) throw badState(TYPE, 'state.mean', 'one number for a scalar column', mean)
    scaler.setState({ vector: state.vector, mean, std })
    return scaler
  }

  private setState(state: Fitted): void {
    this.state = state
    this.divisor = state.std.map((s) => (this.withStd && s > 0 ? s : 1))
  }
}
