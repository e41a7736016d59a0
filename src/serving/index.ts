// The public serving API, a subpath of its own (`import { startServer } from 'malt/serving'`): the
// server's dependencies (fastify, prom-client, ioredis, zod) stay out of `import 'malt'`, which
// every executor process pays for. Start a server in-process, export a model, run batch inference.
export { startServer, type RunningServer, type ServeOptions } from './serve.js'
export { exportModel, type ExportModelOptions, type ExportedModel } from './export.js'
export { batchPredict, type BatchPredictOptions, type BatchPredictResult, type PredictionKind } from './batch-predict.js'
export type { ServerConfigFile } from './config.js'
export { ServingError, type BatchingOptions, type CanaryOptions, type DataType, type LoadedModel, type ModelConfig, type ModelRuntime, type Tensor, type TensorSpec, type VersionPolicy, type VersionState, type VersionStatus } from './types.js'
