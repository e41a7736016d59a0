// Distributed training: `import { trainers } from 'malt'`.
export { SingleTrainer, AveragingTrainer, EnsembleTrainer } from './trainers.js'
export { Trainer, type TrainerOptions, type TrainerCallbacks, type TrainingHistory } from './trainer.js'
export type { Algorithm, EpochLogs } from './protocol.js'
