// Fused optimizer updates. TF.js's Adam runs 14 kernels and creates a handful of scalar tensors
// per variable per step; for small models that engine overhead, not arithmetic, is the step
// time. One pass computes the same float32 operations in the same order (FMA contraction is off
// for this file, see binding.gyp), so the result matches the unfused kernels.
#include "common.h"

namespace malt {

struct AdamScalars {
  float beta1, beta2, oneMinusBeta1, oneMinusBeta2, oneMinusAccBeta1, oneMinusAccBeta2, epsilon, negLearningRate;
};

MALT_VECTORISED
static void adamRange(const float* value, const float* m, const float* v, const float* gradient, float* outValue,
                      float* outM, float* outV, const AdamScalars& s, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float g = gradient[i];
    // newM = m*beta1 + g*(1-beta1); newV = v*beta2 + g²*(1-beta2), each product rounded to float.
    float newM = m[i] * s.beta1 + g * s.oneMinusBeta1;
    float newV = v[i] * s.beta2 + (g * g) * s.oneMinusBeta2;
    float mHat = newM / s.oneMinusAccBeta1;
    float vHat = newV / s.oneMinusAccBeta2;
    float step = mHat / (std::sqrt(vHat) + s.epsilon);
    outValue[i] = step * s.negLearningRate + value[i];
    outM[i] = newM;
    outV[i] = newV;
  }
}

// adamUpdate(value, m, v, gradient, outValue, outM, outV,
//            beta1, beta2, oneMinusBeta1, oneMinusBeta2, oneMinusAccBeta1, oneMinusAccBeta2, epsilon, negLearningRate)
static Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  return guarded(info, "AdamUpdate", [&] {
    F32View value = floatArrayArg(info, 0, "value");
    F32View m = floatArrayArg(info, 1, "m");
    F32View v = floatArrayArg(info, 2, "v");
    F32View gradient = floatArrayArg(info, 3, "gradient");
    F32View outValue = floatArrayArg(info, 4, "outValue");
    F32View outM = floatArrayArg(info, 5, "outM");
    F32View outV = floatArrayArg(info, 6, "outV");
    Napi::Env env = info.Env();
    for (const auto& [view, name] : {std::pair{m, "m"}, {v, "v"}, {gradient, "gradient"}, {outValue, "outValue"},
                                     {outM, "outM"}, {outV, "outV"}}) {
      requireLength(env, view.length, value.length, name);
    }
    // The scalars arrive as JS numbers and are rounded to float32, as TF.js's scalar tensors are.
    AdamScalars s{};
    s.beta1 = static_cast<float>(numberArg(info, 7, "beta1"));
    s.beta2 = static_cast<float>(numberArg(info, 8, "beta2"));
    s.oneMinusBeta1 = static_cast<float>(numberArg(info, 9, "oneMinusBeta1"));
    s.oneMinusBeta2 = static_cast<float>(numberArg(info, 10, "oneMinusBeta2"));
    s.oneMinusAccBeta1 = static_cast<float>(numberArg(info, 11, "oneMinusAccBeta1"));
    s.oneMinusAccBeta2 = static_cast<float>(numberArg(info, 12, "oneMinusAccBeta2"));
    s.epsilon = static_cast<float>(numberArg(info, 13, "epsilon"));
    s.negLearningRate = static_cast<float>(numberArg(info, 14, "negLearningRate"));
    const auto size = static_cast<int64_t>(value.length);
    constexpr int64_t chunk = 1 << 16;
    const int64_t chunks = (size + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int64_t c = 0; c < chunks; ++c) {
      adamRange(value.data, m.data, v.data, gradient.data, outValue.data, outM.data, outV.data, s, c * chunk,
                std::min(size, (c + 1) * chunk));
    }
  });
}

void InitOptimizer(Napi::Env env, Napi::Object exports) {
  exports.Set("adamUpdate", Napi::Function::New(env, AdamUpdate, "adamUpdate"));
}

}  // namespace malt
