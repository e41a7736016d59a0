// The protobuf messages TensorBoard reads from event files (Event, Summary, the hparams plugin's
// data) as .proto text for protobufjs: tests decode what Malt's hand-written encoder
// (src/experiments/tensorboard/protos.ts) writes with this independent copy of the schema.
import protobuf from 'protobufjs'

/**
 * Field numbers from tensorflow/core/util/event.proto, tensorflow/core/framework/{summary,tensor,
 * tensor_shape}.proto. Only the fields Malt writes are declared: readers skip nothing they need.
 */
const TENSORFLOW_SCHEMA = `
syntax = "proto3";
package tensorflow;
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    Summary summary = 5;
  }
}
message Summary {
  message Value {
    string tag = 1;
    SummaryMetadata metadata = 9;
    oneof value {
      float simple_value = 2;
      TensorProto tensor = 8;
    }
  }
  repeated Value value = 1;
}
message SummaryMetadata {
  message PluginData {
    string plugin_name = 1;
    bytes content = 2;
  }
  PluginData plugin_data = 1;
  string display_name = 2;
  string summary_description = 3;
}
enum DataType {
  DT_INVALID = 0;
  DT_FLOAT = 1;
}
message TensorShapeProto {
  message Dim {
    int64 size = 1;
  }
  repeated Dim dim = 2;
}
message TensorProto {
  DataType dtype = 1;
  TensorShapeProto tensor_shape = 2;
  repeated float float_val = 5 [packed = true];
}
`

/** google/protobuf/struct.proto's Value (hparam values), without the struct kind Malt never writes. */
const STRUCT_SCHEMA = `
syntax = "proto3";
package google.protobuf;
enum NullValue { NULL_VALUE = 0; }
message Value {
  oneof kind {
    NullValue null_value = 1;
    double number_value = 2;
    string string_value = 3;
    bool bool_value = 4;
    ListValue list_value = 6;
  }
}
message ListValue { repeated Value values = 1; }
`

/** tensorboard/plugins/hparams/{api,plugin_data}.proto: what the HParams dashboard reads. */
const HPARAMS_SCHEMA = `
syntax = "proto3";
package tensorboard.hparams;
enum DataType {
  DATA_TYPE_UNSET = 0;
  DATA_TYPE_STRING = 1;
  DATA_TYPE_BOOL = 2;
  DATA_TYPE_FLOAT64 = 3;
}
enum DatasetType {
  DATASET_UNKNOWN = 0;
  DATASET_TRAINING = 1;
  DATASET_VALIDATION = 2;
}
enum Status {
  STATUS_UNKNOWN = 0;
  STATUS_SUCCESS = 1;
  STATUS_FAILURE = 2;
  STATUS_RUNNING = 3;
}
message Interval {
  double min_value = 1;
  double max_value = 2;
}
message HParamInfo {
  string name = 1;
  string display_name = 2;
  string description = 3;
  DataType type = 4;
  oneof domain {
    google.protobuf.ListValue domain_discrete = 5;
    Interval domain_interval = 6;
  }
}
message MetricName {
  string group = 1;
  string tag = 2;
}
message MetricInfo {
  MetricName name = 1;
  string display_name = 3;
  string description = 4;
  DatasetType dataset_type = 5;
}
message Experiment {
  string description = 1;
  string user = 2;
  double time_created_secs = 3;
  repeated HParamInfo hparam_infos = 4;
  repeated MetricInfo metric_infos = 5;
  string name = 6;
}
message SessionStartInfo {
  map<string, google.protobuf.Value> hparams = 1;
  string group_name = 4;
  double start_time_secs = 5;
}
message SessionEndInfo {
  Status status = 1;
  double end_time_secs = 2;
}
message HParamsPluginData {
  int32 version = 1;
  oneof data {
    Experiment experiment = 2;
    SessionStartInfo session_start_info = 3;
    SessionEndInfo session_end_info = 4;
  }
}
`

/** The message types Malt encodes (field names as in the .proto files: `wall_time`). */
export interface TensorBoardTypes {
  event: protobuf.Type
  summary: protobuf.Type
  hparamsPluginData: protobuf.Type
}

let types: TensorBoardTypes | undefined

/** Builds the schema once, on first use. */
export function tensorBoardTypes(): TensorBoardTypes {
  if (types) return types
  const root = new protobuf.Root()
  for (const schema of [STRUCT_SCHEMA, TENSORFLOW_SCHEMA, HPARAMS_SCHEMA]) protobuf.parse(schema, root, { keepCase: true })
  root.resolveAll()
  types = {
    event: root.lookupType('tensorflow.Event'),
    summary: root.lookupType('tensorflow.Summary'),
    hparamsPluginData: root.lookupType('tensorboard.hparams.HParamsPluginData'),
  }
  return types
}
