// The transformers `fromJSON` knows, by saved `type`: adding a transformer is one line here.
// (Pipeline itself is dispatched in pipeline.ts, which imports this map.)
import type { Transformer, TransformerJSON } from './base.js'
import { BinaryLabel } from './binary-label.js'
import { DenseToSparse } from './dense-to-sparse.js'
import { Imputer } from './imputer.js'
import { LabelIndexInverse } from './label-index-inverse.js'
import { LabelIndexer } from './label-indexer.js'
import { MinMaxScaler } from './min-max-scaler.js'
import { OneHotEncoder } from './one-hot-encoder.js'
import { Reshape } from './reshape.js'
import { SparseToDense } from './sparse-to-dense.js'
import { StandardScaler } from './standard-scaler.js'
import { VectorAssembler } from './vector-assembler.js'

/** Saved `type` → the function that rebuilds that transformer. */
export const transformerFactories: Readonly<Record<string, (json: TransformerJSON) => Transformer>> = {
  BinaryLabel: BinaryLabel.fromJSON,
  DenseToSparse: DenseToSparse.fromJSON,
  Imputer: Imputer.fromJSON,
  LabelIndexInverse: LabelIndexInverse.fromJSON,
  LabelIndexer: LabelIndexer.fromJSON,
  MinMaxScaler: MinMaxScaler.fromJSON,
  OneHotEncoder: OneHotEncoder.fromJSON,
  Reshape: Reshape.fromJSON,
  SparseToDense: SparseToDense.fromJSON,
  StandardScaler: StandardScaler.fromJSON,
  VectorAssembler: VectorAssembler.fromJSON,
}
