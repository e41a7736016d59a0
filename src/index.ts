// Malt's public API. Importing it selects the TF.js backend (top-level await), so `tf` is
// ready to use: `import { tf, data } from 'malt'`.
import { ready } from './backend/index.js'

export { tf, ready, type BackendInfo } from './backend/index.js'
export { nativeBackend } from './backend/native/index.js'
export * as data from './data/index.js'
export { Dataset } from './data/dataset.js'
export * as storage from './storage/index.js'
export * as experiment from './experiments/index.js'
export * as trainers from './training/index.js'
export type { TrialContext, TrainingFunction, ExperimentResult, ExperimentOptions } from './experiments/index.js'
export { MaltError, type ErrorLocation } from './errors.js'

await ready()
