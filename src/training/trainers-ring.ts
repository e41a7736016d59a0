// The synchronous trainers, whose workers form a ring (communication-ring.ts): AllReduce,
// Horovod-style synchronous SGD, and dist-keras' synchronous EASGD.
import { randomBytes } from 'node:crypto'
import type * as tfjs from '@tensorflow/tfjs'
import type { JsonValue } from '../cluster/types.js'
import { MaltError, describeValue } from '../errors.js'
import { DEFAULT_FUSION_BYTES } from './allreduce/fusion.js'
import type { RingSettings } from './communication-ring.js'
import type { WorkerResult } from './protocol.js'
import { Trainer, type TrainerOptions, type TrainingRun } from './trainer.js'
import { readWeightsFile } from './weights.js'

/** Options of {@link AllReduce}. */
export interface AllReduceTrainerOptions extends TrainerOptions {
  /** Bytes per tensor-fusion buffer; 0: one all-reduce per gradient. @defaultValue 4 MiB (Horovod's default) */
  fusionBytes?: number
}

/** Options of {@link EASGD}: dist-keras' `rho`, `learning_rate` (here `elasticLearningRate`; α = ρ·η) and window. */
export interface EasgdTrainerOptions extends TrainerOptions {
  /** @defaultValue 5 */
  rho?: number
  /** @defaultValue 0.1 */
  elasticLearningRate?: number
  /** Steps between the workers' meetings. @defaultValue 32 */
  communicationWindow?: number
}

function nonNegative(name: string, value: unknown, fallback: number, integer: boolean, zero = false): number {
  const chosen = value ?? fallback
  if (typeof chosen !== 'number' || !Number.isFinite(chosen) || chosen < 0 || (chosen === 0 && !zero) || (integer && !Number.isInteger(chosen))) {
    throw new MaltError('TRAIN_BAD_OPTION', `${name}: expected a ${zero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, received ${describeValue(value)}`)
  }
  return chosen
}

abstract class RingTrainer extends Trainer {
  private readonly secret = randomBytes(32).toString('hex')

  protected abstract ringSettings(): Omit<RingSettings, 'secret'>

  protected override settings(): { [key: string]: JsonValue } {
    return { ring: { ...this.ringSettings(), secret: this.secret } }
  }

  protected override params(): ReturnType<Trainer['params']> {
    const params = super.params()
    delete params.ring // The secret stays out of experiment.json.
    return { ...params, ...this.ringSettings() }
  }

  /**
   * Every rank ends with the same weights (AllReduce's replicas, EASGD's center): checked bit for
   * bit — a difference means the ranks did not apply the same updates — and worker 0's returned.
   */
  protected async result(run: TrainingRun, results: WorkerResult[]): Promise<tfjs.LayersModel> {
    const [first, ...others] = await Promise.all(results.map((result) => readWeightsFile(result.weightsFile)))
    for (const [i, weights] of others.entries()) {
      const at = weights.findIndex((value, j) => !Object.is(value, first[j]))
      if (at >= 0) throw new MaltError('TRAIN_REPLICAS_DIVERGED', `worker ${results[i + 1].worker} ended with weight ${at} = ${weights[at]}, worker ${results[0].worker} with ${first[at]}: the ring's ranks did not apply the same updates`)
    }
    return this.modelWith(run, first)
  }
}

/** Synchronous data-parallel SGD: gradients averaged every step with a ring all-reduce (Horovod), tensor fusion included. */
export class AllReduce extends RingTrainer {
  private readonly fusionBytes: number

  constructor(options: AllReduceTrainerOptions) {
    super('allreduce', options)
    this.fusionBytes = nonNegative('fusionBytes', options.fusionBytes, DEFAULT_FUSION_BYTES, true, true)
  }

  protected ringSettings(): Omit<RingSettings, 'secret'> {
    return { fusionBytes: this.fusionBytes, window: 1, alpha: 0 }
  }
}

/** Synchronous EASGD: every window all workers meet; the elastic force α(W − C) pulls them and the center together. */
export class EASGD extends RingTrainer {
  private readonly window: number
  private readonly alpha: number

  constructor(options: EasgdTrainerOptions) {
    super('easgd', options)
    this.window = nonNegative('communicationWindow', options.communicationWindow, 32, true)
    this.alpha = nonNegative('rho', options.rho, 5, false) * nonNegative('elasticLearningRate', options.elasticLearningRate, 0.1, false)
    // The center moves by α·n times the mean distance: beyond 1 it overshoots.
    if (this.alpha * this.numWorkers > 1) throw new MaltError('TRAIN_BAD_OPTION', `EASGD needs rho × elasticLearningRate × numWorkers at most 1 (else the center overshoots the workers); received ${this.alpha * this.numWorkers}`)
  }

  protected ringSettings(): Omit<RingSettings, 'secret'> {
    return { fusionBytes: 0, window: this.window, alpha: this.alpha }
  }
}
