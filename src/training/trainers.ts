// The trainers users construct, with dist-keras' names and semantics.
import type * as tfjs from '@tensorflow/tfjs'
import { MaltError } from '../errors.js'
import { readWeightsFile } from './weights.js'
import { Trainer, type TrainerOptions, type TrainingRun } from './trainer.js'
import type { WorkerResult } from './protocol.js'

/** One worker, sequential training on all the data: the baseline the others are measured against. */
export class SingleTrainer extends Trainer {
  constructor(options: TrainerOptions) {
    super('single', options)
  }

  protected async result(run: TrainingRun, results: WorkerResult[]): Promise<tfjs.LayersModel> {
    return this.modelWith(run, await readWeightsFile(results[0].weightsFile))
  }
}

/** Every epoch each worker trains the current model on its shard; the new model is the mean of the replicas. */
export class AveragingTrainer extends Trainer {
  constructor(options: TrainerOptions) {
    super('averaging', options)
  }

  protected async result(run: TrainingRun): Promise<tfjs.LayersModel> {
    if (run.center === undefined) throw new MaltError('TRAIN_NO_RESULT', 'no averaged model was made: no worker finished an epoch')
    return this.modelWith(run, await readWeightsFile(run.center))
  }
}

/** `numWorkers` models trained independently, each on its own shard; `train()` resolves with all of them. */
export class EnsembleTrainer extends Trainer<tfjs.LayersModel[]> {
  constructor(options: TrainerOptions) {
    super('ensemble', options)
  }

  protected async result(run: TrainingRun, results: WorkerResult[]): Promise<tfjs.LayersModel[]> {
    return Promise.all(results.map(async (result) => this.modelWith(run, await readWeightsFile(result.weightsFile))))
  }
}
