// TensorBoard-compatible logs: event files of scalars and any summary, and the hparams plugin's
// experiment and session records that let the HParams dashboard compare the trials of a search.
export { EventWriter, FILE_VERSION } from './event-writer.js'
export type { EventWriterOptions, SummaryMetadataInput, SummaryValueInput, TensorInput } from './event-writer.js'
export {
  EXPERIMENT_TAG,
  HPARAMS_DATA_VERSION,
  HPARAMS_PLUGIN_NAME,
  SESSION_END_TAG,
  SESSION_START_TAG,
  experimentSummary,
  hparamsFromSpace,
  hparamsSummaryValue,
  sessionEndSummary,
  sessionStartSummary,
  writeHparamsExperiment,
  writeSessionEnd,
  writeSessionStart,
} from './hparams.js'
export type { HparamConfig, HparamDomain, HparamType, HparamsExperimentConfig, HparamsTarget, MetricConfig, SessionEnd, SessionStart } from './hparams.js'
