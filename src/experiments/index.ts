// The public experiments API (`import { experiment } from 'malt'`): launch and searches,
// space builders, the algorithms and stopping rules, and the types a training function uses.
export { launch, gridSearch, randomSearch, evolutionarySearch, bayesianSearch, search, resume } from './api.js'
export type {
  LaunchOptions,
  RandomSearchRunOptions,
  EvolutionarySearchOptions,
  BayesianSearchOptions,
  CustomSearchOptions,
  ResumeOptions,
  TrainingFunctionRef,
} from './api.js'
export { ablation, type AblationOptions, type AblationResult, type AblationEntry, type AblationContext, type ModelBuilder } from './ablation.js'
export { EXPERIMENT_KILLED, type ExperimentOptions, type ExperimentResult, type StoppingChoice } from './session.js'
export { float, int, categorical } from './space.js'
export { GridSearch, RandomSearch, DifferentialEvolution, TPE } from './algorithms/index.js'
export { MedianStoppingRule, ASHA } from './stopping/index.js'
export type { TrialContext } from './context.js'
export type { TrainingFunction, TrainingReturn } from './trial-runner.js'
export type { ExperimentRecord, TrialRecord, BestTrial, FunctionRef } from './records.js'
export type * from './types.js'
