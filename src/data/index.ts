// The data layer's public part: `import { data } from 'malt'` gives everything here.
export { Dataset, type BatchOptions, type IteratorFactory } from './dataset.js'
export type { Cell, ColumnType, OnError, ReadStats, Row } from './types.js'
export { newReadStats } from './types.js'
export { rowsToTensors, toTensorBatches, toTfDataset, type TensorBatch, type TensorBatchOptions } from './tensors.js'

// Sources
export { csv, inferCsvSchema, type CsvColumn, type CsvColumnType, type CsvOptions, type CsvSchema } from './sources/csv.js'
export { readCsvTensors, csvTensors, type CsvTensorData, type CsvTensorOptions, type CsvTensors } from './sources/csv-fast.js'
export { jsonl, type JsonlOptions } from './sources/jsonl.js'
export { parquet, parquetInfo, type ParquetInfo, type ParquetOptions } from './sources/parquet.js'
export * from './sources/tfrecord.js'
export { imageFolder, imageFolderClasses, type ImageFolderOptions, type ImageRow } from './sources/image-folder.js'
export {
  mnist,
  fashionMnist,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_SPLIT_SIZES,
  MNIST_CLASS_SIZES,
  MNIST_SPLIT_SIZES,
  MNIST_IMAGE_SIZE,
  type MnistOptions,
  type MnistRow,
  type MnistSplit,
} from './sources/mnist.js'

// Files by extension, and writers
export { openDataset, convertFile, formatOf, type ConvertResult, type DataFormat, type OpenOptions } from './formats.js'
export { writeCsv, writeJsonl, type CsvWriteOptions } from './writers/text.js'

// Transformers, profiling, validation, drift
export * from './transformers/index.js'
export * from './profile/index.js'
