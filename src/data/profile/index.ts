// Data profiling and validation: one-pass statistics (what Facets Overview shows), schemas,
// drift between data sets, and text / HTML reports.
export { Profiler, profileDataset, resolveProfileOptions, stripSamples } from './profile.js'
export { PROFILE_DEFAULTS } from './types.js'
export type {
  CategoricalStats,
  ColumnKind,
  ColumnProfile,
  HistogramBin,
  NumericStats,
  Profile,
  ProfileOptions,
  ProfiledType,
  ValueCount,
  VectorStats,
} from './types.js'
export { Validator, inferSchema, parseSchema, validate } from './schema.js'
export type { InferSchemaOptions, Schema, SchemaColumn, SchemaType, ValidateOptions, ValidationResult, Violation, ViolationKind } from './schema.js'
export { DRIFT_DEFAULTS, compareDatasets, compareProfiles, jensenShannonDistance, kolmogorovSurvival, ksTest, lInfinityDistance } from './drift.js'
export type { ColumnDrift, Comparison, DriftThresholds, KsResult } from './drift.js'
export { renderProfileHtml } from './html-report.js'
export type { ComparedProfile, HtmlReportOptions } from './html-report.js'
export { renderComparisonText, renderProfileText, renderValidationText } from './text-report.js'
