// Kernel group: normalisation — FusedBatchNorm (inference formula) and Softmax over the last axis.
//
// Both follow TF.js's CPU kernels operation by operation so results agree bit for bit:
// - batch norm computes offset + (x − mean) · scale / sqrt(variance + ε) in float64 (the JS kernel
//   works on JS numbers) and rounds once to float32; only the square root is hoisted out of the loop
//   (it is exact, so hoisting changes nothing);
// - softmax takes the row max (NaN wins, as in the Max kernel), subtracts in float32, exponentiates
//   in float64 rounded to float32 (Math.exp into a Float32Array), sums in float64, rounds the sum to
//   float32 and divides in float32 — the steps of TF.js's Max, Sub, Exp, Sum and RealDiv kernels.
#include "common.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace malt {
namespace {

// Below this many elements a call runs on one thread: thread start-up costs more than it saves.
constexpr int64_t kParallelElements = 1 << 15;

/**
 * A batch-norm parameter as a per-row pointer: a per-channel array (length = channels; a scalar
 * is widened to one) is the same for every row, a full-size array advances one row at a time.
 */
struct RowParameter {
  const float* data;
  bool full;
  const float* row(int64_t row, int64_t channels) const { return full ? data + row * channels : data; }
};

/** Checks a parameter's length (1, channels or the element count) and widens a scalar to `widened`. */
RowParameter rowParameter(const Napi::Env& env, F32View view, int64_t channels, int64_t elements, std::vector<float>& widened,
                          const char* what) {
  const auto length = static_cast<int64_t>(view.length);
  if (length == elements) return {view.data, true};
  if (length == channels) return {view.data, false};
  if (length == 1) {
    widened.assign(static_cast<size_t>(channels), view.data[0]);
    return {widened.data(), false};
  }
  throw Napi::RangeError::New(env, std::string(what) + " must have 1, " + std::to_string(channels) + " or " + std::to_string(elements) +
                                       " elements, got " + std::to_string(length));
}

MALT_VECTORISED void batchNormRow(const float* x, const float* mean, const double* deviation, const float* scale,
                                  const float* offset, float* out, int64_t channels) {
  for (int64_t c = 0; c < channels; ++c) {
    const double centred = static_cast<double>(x[c]) - static_cast<double>(mean[c]);
    out[c] = static_cast<float>(static_cast<double>(offset[c]) + centred * static_cast<double>(scale[c]) / deviation[c]);
  }
}

MALT_VECTORISED void standardDeviations(const float* variance, double* deviation, int64_t count, double epsilon) {
  for (int64_t i = 0; i < count; ++i) deviation[i] = std::sqrt(static_cast<double>(variance[i]) + epsilon);
}

// batchNorm(x, mean, variance, offset, scale, out, channels, varianceEpsilon); offset and scale
// are [0] and [1] when the op has none (as the CPU kernel defaults them).
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  return guarded(info, "FusedBatchNorm", [&] {
    Napi::Env env = info.Env();
    F32View x = floatArrayArg(info, 0, "x");
    F32View mean = floatArrayArg(info, 1, "mean");
    F32View variance = floatArrayArg(info, 2, "variance");
    F32View offset = floatArrayArg(info, 3, "offset");
    F32View scale = floatArrayArg(info, 4, "scale");
    F32View out = floatArrayArg(info, 5, "out");
    const int64_t channels = intArg(info, 6, "channels");
    const double epsilon = numberArg(info, 7, "varianceEpsilon");
    const auto elements = static_cast<int64_t>(x.length);
    if (channels < 1 || elements % channels != 0) throw Napi::RangeError::New(env, "channels must divide the element count of x");
    requireLength(env, out.length, x.length, "out");
    std::vector<float> meanWide, varianceWide, offsetWide, scaleWide;
    const RowParameter meanRows = rowParameter(env, mean, channels, elements, meanWide, "mean");
    const RowParameter varianceRows = rowParameter(env, variance, channels, elements, varianceWide, "variance");
    const RowParameter offsetRows = rowParameter(env, offset, channels, elements, offsetWide, "offset");
    const RowParameter scaleRows = rowParameter(env, scale, channels, elements, scaleWide, "scale");
    const int64_t deviationCount = varianceRows.full ? elements : channels;
    std::vector<double> deviation(static_cast<size_t>(deviationCount));
    standardDeviations(varianceRows.data, deviation.data(), deviationCount, epsilon);
    const int64_t rows = elements / channels;
#pragma omp parallel for schedule(static) if (rows > 1 && elements > kParallelElements)
    for (int64_t row = 0; row < rows; ++row) {
      batchNormRow(x.data + row * channels, meanRows.row(row, channels), deviation.data() + (varianceRows.full ? row * channels : 0),
                   scaleRows.row(row, channels), offsetRows.row(row, channels), out.data + row * channels, channels);
    }
  });
}

/** The row maximum as TF.js's Max kernel takes it: NaN anywhere makes it NaN. */
MALT_VECTORISED float rowMax(const float* logits, int64_t columns) {
  float best = logits[0];
  bool sawNaN = false;
  for (int64_t j = 0; j < columns; ++j) {
    sawNaN |= std::isnan(logits[j]);
    best = logits[j] > best ? logits[j] : best;
  }
  return sawNaN ? std::numeric_limits<float>::quiet_NaN() : best;
}

void softmaxRow(const float* logits, float* out, int64_t columns) {
  const float max = rowMax(logits, columns);
  double sum = 0.0;
  for (int64_t j = 0; j < columns; ++j) {
    const float shifted = logits[j] - max;
    const auto exponential = static_cast<float>(std::exp(static_cast<double>(shifted)));
    out[j] = exponential;
    sum += static_cast<double>(exponential);
  }
  const auto total = static_cast<float>(sum);
  for (int64_t j = 0; j < columns; ++j) out[j] = out[j] / total;
}

// softmax(logits, out, columns): softmax over the last axis of length `columns`.
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  return guarded(info, "Softmax", [&] {
    F32View logits = floatArrayArg(info, 0, "logits");
    F32View out = floatArrayArg(info, 1, "out");
    const int64_t columns = intArg(info, 2, "columns");
    const auto elements = static_cast<int64_t>(logits.length);
    if (columns < 1 || elements % columns != 0) throw Napi::RangeError::New(info.Env(), "columns must divide the element count of logits");
    requireLength(info.Env(), out.length, logits.length, "out");
    const int64_t rows = elements / columns;
#pragma omp parallel for schedule(static) if (rows > 1 && elements > kParallelElements)
    for (int64_t row = 0; row < rows; ++row) softmaxRow(logits.data + row * columns, out.data + row * columns, columns);
  });
}

}  // namespace

void InitNorm(Napi::Env env, Napi::Object exports) {
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm, "batchNorm"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
}

}  // namespace malt
