"""Independent check of TensorBoard event files written by Malt, with the real TensorBoard.

Usage: check_tfevents.py LOGDIR EXPECTED.json

1. Every record of every event file: TFRecord framing and both masked CRC32Cs, verified with an
   independent CRC32C (crcmod or google_crc32c when installed, else TensorBoard's own), and each
   record parses as a tensorboard Event; the first one of a file carries the file version.
2. Each trial run loaded with TensorBoard's EventAccumulator: scalar steps and values as expected.
3. The hparams plugin's data parsed with its own metadata module, then the plugin's backend
   (GetExperiment and ListSessionGroups handlers over a multiplexer data provider).

Exits 1 with a message on the first mismatch; prints a JSON summary of what TensorBoard saw.
"""
import json
import math
import os
import struct
import sys

from google.protobuf import json_format
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, event_accumulator, plugin_event_multiplexer
from tensorboard.compat.proto import event_pb2
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, get_experiment, list_session_groups, metadata


def crc32c_function():
    """An independent CRC32C: (name, function of bytes)."""
    try:
        import crcmod.predefined

        return "crcmod crc-32c", crcmod.predefined.mkCrcFun("crc-32c")
    except ImportError:
        pass
    try:
        import google_crc32c

        return "google_crc32c", google_crc32c.value
    except ImportError:
        pass
    from tensorboard.compat.tensorflow_stub import pywrap_tensorflow

    return "tensorboard.compat.tensorflow_stub crc32c", pywrap_tensorflow.crc32c


CRC_NAME, CRC32C = crc32c_function()


def masked(crc):
    """TFRecord's mask: rotate right by 15 bits, add 0xa282ead8 (mod 2^32)."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def fail(message):
    print("check_tfevents: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def check_file_records(path):
    """Parses and CRC-checks every record of one file; returns the number of records."""
    data = open(path, "rb").read()
    pos = 0
    index = 0
    while pos < len(data):
        check(len(data) - pos >= 12, "%s: record %d: truncated header at byte %d" % (path, index, pos))
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8 : pos + 12])
        check(length_crc == masked(CRC32C(header)), "%s: record %d: length CRC mismatch" % (path, index))
        end = pos + 12 + length
        check(end + 4 <= len(data), "%s: record %d: truncated data" % (path, index))
        payload = data[pos + 12 : end]
        (data_crc,) = struct.unpack("<I", data[end : end + 4])
        check(data_crc == masked(CRC32C(payload)), "%s: record %d: data CRC mismatch" % (path, index))
        event = event_pb2.Event.FromString(payload)
        if index == 0:
            check(event.file_version == "brain.Event:2", "%s: first Event has file_version %r" % (path, event.file_version))
            check(event.wall_time > 1e9, "%s: first Event wall_time %r is not in seconds" % (path, event.wall_time))
        pos = end + 4
        index += 1
    return index


def as_float32(value):
    """What a float field holds for `value` (Summary.Value.simple_value is a float)."""
    number = float(value)  # also reads "NaN", "Infinity", "-Infinity"
    return struct.unpack("<f", struct.pack("<f", number))[0]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_scalars(logdir, run, expected_tags):
    accumulator = event_accumulator.EventAccumulator(os.path.join(logdir, run))
    accumulator.Reload()
    seen = {}
    check(sorted(accumulator.Tags()["scalars"]) == sorted(expected_tags), "run %s: scalar tags %s, expected %s" % (run, accumulator.Tags()["scalars"], sorted(expected_tags)))
    for tag, points in expected_tags.items():
        events = accumulator.Scalars(tag)
        got = [(e.step, e.value) for e in events]
        want = [(step, as_float32(value)) for step, value in points]
        check(len(got) == len(want) and all(g[0] == w[0] and same(g[1], w[1]) for g, w in zip(got, want)), "run %s tag %s: TensorBoard read %s, expected %s" % (run, tag, got, want))
        seen[tag] = [[step, value if math.isfinite(value) else str(value)] for step, value in got]
    return accumulator, seen


def value_of(proto_value):
    kind = proto_value.WhichOneof("kind")
    return getattr(proto_value, kind) if kind else None


def main():
    logdir, expected_path = sys.argv[1], sys.argv[2]
    expected = json.load(open(expected_path))
    summary = {"crc32c": CRC_NAME, "files": {}, "scalars": {}, "sessions": {}, "experiment": None, "sessionGroups": None}

    for root, _dirs, files in os.walk(logdir):
        for name in sorted(files):
            if "tfevents" in name:
                path = os.path.join(root, name)
                summary["files"][os.path.relpath(path, logdir)] = check_file_records(path)
    check(len(summary["files"]) > 0, "no event files under " + logdir)

    # The run dir: the experiment summary, read as the plugin reads it.
    root_accumulator = event_accumulator.EventAccumulator(logdir)
    root_accumulator.Reload()
    root_content = root_accumulator.PluginTagToContent(metadata.PLUGIN_NAME)
    check(metadata.EXPERIMENT_TAG in root_content, "run dir: no %s summary (tags: %s)" % (metadata.EXPERIMENT_TAG, list(root_content)))
    experiment = metadata.parse_experiment_plugin_data(root_content[metadata.EXPERIMENT_TAG])
    infos = {info.name: info for info in experiment.hparam_infos}
    for want in expected["hparams"]:
        info = infos.get(want["name"])
        check(info is not None, "experiment: hparam %s missing (has %s)" % (want["name"], list(infos)))
        check(api_pb2.DataType.Name(info.type) == want["type"], "hparam %s: type %s, expected %s" % (want["name"], api_pb2.DataType.Name(info.type), want["type"]))
        if "interval" in want:
            got = [info.domain_interval.min_value, info.domain_interval.max_value]
            check(info.HasField("domain_interval") and got == want["interval"], "hparam %s: interval %s, expected %s" % (want["name"], got, want["interval"]))
        if "values" in want:
            got = [value_of(v) for v in info.domain_discrete.values]
            check(info.HasField("domain_discrete") and got == want["values"], "hparam %s: values %s, expected %s" % (want["name"], got, want["values"]))
    metric_tags = [m.name.tag for m in experiment.metric_infos]
    check(metric_tags == expected["metrics"], "experiment: metrics %s, expected %s" % (metric_tags, expected["metrics"]))

    # Each trial: scalars through EventAccumulator, its session start/end records.
    for run, trial in expected["trials"].items():
        accumulator, summary["scalars"][run] = check_scalars(logdir, run, trial["scalars"])
        content = accumulator.PluginTagToContent(metadata.PLUGIN_NAME)
        start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
        params = {k: value_of(v) for k, v in start.hparams.items()}
        check(params == trial["params"], "run %s: session params %s, expected %s" % (run, params, trial["params"]))
        end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
        status = api_pb2.Status.Name(end.status)
        check(status == trial["status"], "run %s: status %s, expected %s" % (run, status, trial["status"]))
        check(end.end_time_secs >= start.start_time_secs > 1e9, "run %s: start %s / end %s times" % (run, start.start_time_secs, end.end_time_secs))
        summary["sessions"][run] = {"params": params, "status": status}

    # The hparams plugin's own backend, as the dashboard's HTTP handlers call it.
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, logdir)
    hparams_context = backend_context.Context(base_plugin.TBContext(logdir=logdir, multiplexer=multiplexer, data_provider=provider))
    request_context = context.RequestContext()
    listed = get_experiment.Handler(request_context, hparams_context, "", api_pb2.GetExperimentRequest()).run()
    check(sorted(i.name for i in listed.hparam_infos) == sorted(h["name"] for h in expected["hparams"]), "plugin experiment: hparams %s" % [i.name for i in listed.hparam_infos])
    summary["experiment"] = json.loads(json_format.MessageToJson(listed))
    request = json_format.Parse(
        json.dumps({"experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"], "startIndex": 0, "sliceSize": 1000}),
        api_pb2.ListSessionGroupsRequest(),
    )
    groups = list_session_groups.Handler(request_context, hparams_context, "", request).run()
    check(groups.total_size == len(expected["trials"]), "plugin session groups: %d, expected %d" % (groups.total_size, len(expected["trials"])))
    for group in groups.session_groups:
        trial = expected["trials"].get(group.name)
        check(trial is not None, "plugin session group %s is not a trial" % group.name)
        check({k: value_of(v) for k, v in group.hparams.items()} == trial["params"], "group %s: hparams differ" % group.name)
        statuses = [api_pb2.Status.Name(s.status) for s in group.sessions]
        check(statuses == [trial["status"]], "group %s: statuses %s" % (group.name, statuses))
        # The dashboard's metric column: the last value of each metric tag in the trial's run.
        for metric in group.metric_values:
            points = trial["scalars"][metric.name.tag]
            check(same(metric.value, as_float32(points[-1][1])), "group %s metric %s: %s, expected %s" % (group.name, metric.name.tag, metric.value, points[-1][1]))
        check(len(group.metric_values) == len(expected["metrics"]), "group %s: %d metric values" % (group.name, len(group.metric_values)))
    summary["sessionGroups"] = json.loads(json_format.MessageToJson(groups))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
