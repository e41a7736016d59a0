// The public part of the transformers: every transformer, the Pipeline and the JSON helpers.
export type { ColumnOptions, JsonValue, RowSource, Transformer, TransformerJSON } from './base.js'
export { BinaryLabel, type BinaryLabelOptions, type PositiveClass } from './binary-label.js'
export { DenseToSparse, type DenseToSparseOptions } from './dense-to-sparse.js'
export { Imputer, type FillValue, type ImputeStrategy, type ImputerOptions } from './imputer.js'
export { LabelIndexInverse, type LabelIndexInverseOptions } from './label-index-inverse.js'
export { LabelIndexer, type LabelIndexerOptions } from './label-indexer.js'
export { MinMaxScaler, type MinMaxScalerOptions } from './min-max-scaler.js'
export { OneHotEncoder, type Category, type OneHotEncoderOptions } from './one-hot-encoder.js'
export {
  PIPELINE_FORMAT,
  PIPELINE_VERSION,
  Pipeline,
  knownTransformerTypes,
  transformerFromJSON,
  type PipelineFitOptions,
  type PipelineJSON,
} from './pipeline.js'
export { Reshape, type NestedNumbers, type ReshapeOptions } from './reshape.js'
export { SparseToDense, type SparseToDenseOptions } from './sparse-to-dense.js'
export type { SparseVector } from './sparse-vector.js'
export { StandardScaler, type StandardScalerOptions } from './standard-scaler.js'
export { VectorAssembler, type VectorAssemblerOptions } from './vector-assembler.js'
