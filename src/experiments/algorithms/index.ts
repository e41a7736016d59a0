// The search algorithms, one per file; each implements SearchAlgorithm (../types.ts). A new one
// is one file here plus one line below, and it runs the shared suite in conformance.test.ts.
export { GridSearch } from './grid.js'
export { RandomSearch, RANDOM_SEARCH_DEFAULTS, type RandomSearchOptions } from './random.js'
export {
  DifferentialEvolution,
  DIFFERENTIAL_EVOLUTION_DEFAULTS,
  type DifferentialEvolutionOptions,
  type DifferentialEvolutionReuse,
} from './evolutionary.js'
export { TPE, TPE_DEFAULTS, type TpeOptions } from './tpe.js'
