// Distributed training: `import { trainers } from 'malt'`.
export { SingleTrainer, AveragingTrainer, EnsembleTrainer } from './trainers.js'
export { Trainer, type TrainerOptions, type TrainerCallbacks, type TrainingHistory } from './trainer.js'
export type { Algorithm, EpochLogs } from './protocol.js'
export { ADAG, AEASGD, DOWNPOUR, DynSGD, EAMSGD, ParameterServerTrainer, type ParameterServerTrainerOptions, type ElasticTrainerOptions } from './trainers-ps.js'
export { ModelPredictor, AccuracyEvaluator, ConfusionMatrixEvaluator, type ModelPredictorOptions, type EvaluatorOptions, type ConfusionMatrix } from './evaluation.js'
export { AllReduce, EASGD, type AllReduceTrainerOptions, type EasgdTrainerOptions } from './trainers-ring.js'
