// Kernel group: 2-D convolutions (Conv2D and its two gradients, depthwise convolution and its two
// gradients, and the fused forward forms with bias and activation) on oneDNN 2.x's op-descriptor
// API. Tensors stay in TF.js's layouts: activations NHWC, filters HWIO ([fh, fw, in, out]) or, for
// depthwise, [fh, fw, in, multiplier]; both are described to oneDNN with explicit strides. The
// primitives' weights get format_tag::any (oneDNN's blocked layout, reordered into per call), and
// their data tensors NHWC when oneDNN runs the same kernel on it, else format_tag::any too (see
// preferNhwc). Primitives, reorders and the blocked buffers are cached per shape. The TypeScript
// side computes every size and padding exactly as TF.js does and hands them over.
// Depthwise is a grouped convolution with one input channel per group.
#include "common.h"

#include <cstring>
#include <optional>
#include <unordered_map>

namespace malt {
namespace {

using dnnl::memory;

/**
 * The geometry of one convolution, in the order the TypeScript side sends it. Depthwise is a
 * grouped convolution with `groups` = inChannels (one input channel per group) and
 * outChannels = inChannels × multiplier; output channel c·multiplier + m reads input channel c.
 * Dilations are TF's (1 = dense); paddings are oneDNN's, chosen so its output size is TF.js's.
 * oneDNN sees the first usedHeight × usedWidth pixels of each image (the rest is never read, or
 * for a gradient, is zero): TF.js's output can stop before the input ends.
 */
struct ConvGeometry {
  int64_t batch, inHeight, inWidth, inChannels;
  int64_t outHeight, outWidth, outChannels;
  int64_t filterHeight, filterWidth;
  int64_t strideHeight, strideWidth, dilationHeight, dilationWidth;
  int64_t padTop, padLeft, padBottom, padRight;
  int64_t groups;
  int64_t usedHeight, usedWidth;
};
constexpr size_t kGeometryLength = 20;

ConvGeometry geometryArg(const Napi::CallbackInfo& info, size_t index, std::vector<int64_t>& raw) {
  raw = intListArg(info, index, "geometry");
  requireLength(info.Env(), raw.size(), kGeometryLength, "geometry");
  ConvGeometry g{raw[0], raw[1], raw[2],  raw[3],  raw[4],  raw[5],  raw[6],  raw[7],  raw[8],
                 raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15], raw[16], raw[17],
                 raw[18], raw[19]};
  bool positive = g.batch > 0 && g.inHeight > 0 && g.inWidth > 0 && g.inChannels > 0 && g.outHeight > 0 &&
                  g.outWidth > 0 && g.outChannels > 0 && g.filterHeight > 0 && g.filterWidth > 0 &&
                  g.strideHeight > 0 && g.strideWidth > 0 && g.dilationHeight > 0 && g.dilationWidth > 0;
  bool padsOk = g.padTop >= 0 && g.padLeft >= 0 && g.padBottom >= 0 && g.padRight >= 0;
  bool usedOk = g.usedHeight > 0 && g.usedHeight <= g.inHeight && g.usedWidth > 0 && g.usedWidth <= g.inWidth;
  bool groupsOk = g.groups == 1 || (g.groups == g.inChannels && g.outChannels % g.groups == 0);
  if (!positive || !padsOk || !usedOk || !groupsOk) {
    throw Napi::RangeError::New(info.Env(), "conv geometry out of range");
  }
  return g;
}

/** An NHWC tensor [n, h, w, c] as oneDNN's logical [n, c, h, w] with explicit strides. */
memory::desc nhwcDesc(int64_t n, int64_t c, int64_t h, int64_t w) {
  return memory::desc({n, c, h, w}, memory::data_type::f32, {h * w * c, 1, w * c, c});
}

/** The part of the input oneDNN sees: the top-left usedHeight × usedWidth of each NHWC image. */
memory::desc sourceDesc(const ConvGeometry& g) {
  int64_t c = g.inChannels;
  return memory::desc({g.batch, c, g.usedHeight, g.usedWidth}, memory::data_type::f32,
                      {g.inHeight * g.inWidth * c, 1, g.inWidth * c, c});
}
memory::desc destinationDesc(const ConvGeometry& g) {
  return nhwcDesc(g.batch, g.outChannels, g.outHeight, g.outWidth);
}

memory::dims weightDims(const ConvGeometry& g) {
  if (g.groups == 1) return {g.outChannels, g.inChannels, g.filterHeight, g.filterWidth};
  return {g.groups, g.outChannels / g.groups, g.inChannels / g.groups, g.filterHeight, g.filterWidth};
}

/**
 * TF.js's filter layout. Conv2D: [fh, fw, in, out] = oneDNN oihw with strides
 * {1, out, fw·in·out, in·out}. Depthwise: [fh, fw, in, mult] = oneDNN goihw (o = m, i of size 1)
 * with strides {mult, 1, ·, fw·in·mult, in·mult}.
 */
memory::desc filterDesc(const ConvGeometry& g) {
  if (g.groups == 1) {
    int64_t perColumn = g.inChannels * g.outChannels;
    return memory::desc(weightDims(g), memory::data_type::f32,
                        {1, g.outChannels, g.filterWidth * perColumn, perColumn});
  }
  int64_t multiplier = g.outChannels / g.groups;
  int64_t perColumn = g.inChannels * multiplier;
  return memory::desc(weightDims(g), memory::data_type::f32,
                      {multiplier, 1, 1, g.filterWidth * perColumn, perColumn});
}

memory::desc anyDesc(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
}

memory::desc denseNhwcDesc(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::nhwc);
}

/**
 * Builds a primitive descriptor with `make(sourceLayout, destinationLayout)` (the weights are
 * always format_tag::any). The data tensors get TF.js's NHWC when oneDNN's implementation for
 * NHWC is the same one it picks given a free choice: then no data reorders run at all, which
 * measured 10–30% faster for the backward passes. Otherwise they get format_tag::any, and the
 * reorders into oneDNN's blocked layouts pay for its faster kernel.
 */
template <typename Make>
auto preferNhwc(const ConvGeometry& g, Make&& make) {
  memory::dims sourceDims = sourceDesc(g).dims();
  memory::dims destinationDims = destinationDesc(g).dims();
  auto chosen = make(anyDesc(sourceDims), anyDesc(destinationDims));
  try {
    auto nhwc = make(denseNhwcDesc(sourceDims), denseNhwcDesc(destinationDims));
    if (std::strcmp(nhwc.impl_info_str(), chosen.impl_info_str()) == 0) return nhwc;
  } catch (const dnnl::error&) {
    // No implementation for NHWC: keep oneDNN's own choice.
  }
  return chosen;
}

struct ConvShape {
  memory::dims strides, dilates, padLeft, padRight;
};

ConvShape convShape(const ConvGeometry& g) {
  return {{g.strideHeight, g.strideWidth},
          {g.dilationHeight - 1, g.dilationWidth - 1},
          {g.padTop, g.padLeft},
          {g.padBottom, g.padRight}};
}

/**
 * One tensor argument of a primitive: `user` wraps the JS array (its handle is set per call), and
 * `inner` is what the primitive reads or writes — the same memory when oneDNN chose the user's
 * layout, else a buffer in oneDNN's layout with a cached reorder between the two. Buffers up to
 * kCachedBufferBytes stay with the cached plan; larger ones are allocated per call and freed
 * after it, so a cache full of big shapes cannot pin gigabytes.
 */
constexpr size_t kCachedBufferBytes = size_t{16} << 20;

struct Binding {
  memory user;
  memory inner;
  std::optional<dnnl::reorder> convert;
  memory::desc innerDesc;
  bool transient = false;

  static Binding make(const memory::desc& userDesc, const memory::desc& innerDesc, bool isInput) {
    Binding binding;
    binding.user = memory(userDesc, engine(), DNNL_MEMORY_NONE);
    binding.innerDesc = innerDesc;
    if (innerDesc == userDesc) {
      binding.inner = binding.user;
      return binding;
    }
    binding.transient = innerDesc.get_size() > kCachedBufferBytes;
    if (!binding.transient) binding.inner = memory(innerDesc, engine());
    binding.convert = isInput ? dnnl::reorder(dnnl::reorder::primitive_desc(engine(), userDesc, engine(), innerDesc))
                              : dnnl::reorder(dnnl::reorder::primitive_desc(engine(), innerDesc, engine(), userDesc));
    return binding;
  }
  static Binding input(const memory::desc& userDesc, const memory::desc& innerDesc) {
    return make(userDesc, innerDesc, true);
  }
  static Binding output(const memory::desc& userDesc, const memory::desc& innerDesc) {
    return make(userDesc, innerDesc, false);
  }

  /** Points at the JS array and, for an input in another layout, converts it. */
  void load(float* data) {
    target(data);
    if (convert) convert->execute(stream(), user, inner);
  }

  /** Points at the JS output array; `store` later converts the result into it if needed. */
  void target(float* data) {
    user.set_data_handle(data);
    if (transient) inner = memory(innerDesc, engine());
  }
  void store() {
    if (convert) convert->execute(stream(), inner, user);
  }

  /** After the call (stream waited on): forgets the JS array and frees a per-call buffer. */
  void release() {
    user.set_data_handle(DNNL_MEMORY_NONE);
    if (transient) inner = memory();
  }
};

// Fused activations, as the TypeScript side numbers them.
enum Activation : int64_t { kLinear = 0, kRelu, kRelu6, kElu, kLeakyRelu, kSigmoid, kPrelu, kActivationCount };

struct ForwardPlan {
  dnnl::convolution_forward primitive;
  Binding source, weights, destination;
  std::optional<Binding> bias;
};

struct BackwardDataPlan {
  dnnl::convolution_backward_data primitive;
  Binding gradient, weights, inputGradient;
};

struct BackwardWeightsPlan {
  dnnl::convolution_backward_weights primitive;
  Binding source, gradient, weightsGradient;
};

// Leaked on purpose: the cached oneDNN objects must never be destroyed after the engine at exit.
ShapeCache<ForwardPlan>& forwardPlans() {
  static auto* plans = new ShapeCache<ForwardPlan>();
  return *plans;
}
ShapeCache<BackwardDataPlan>& backwardDataPlans() {
  static auto* plans = new ShapeCache<BackwardDataPlan>();
  return *plans;
}
ShapeCache<BackwardWeightsPlan>& backwardWeightsPlans() {
  static auto* plans = new ShapeCache<BackwardWeightsPlan>();
  return *plans;
}

/** The forward primitive of the shape, the hint both backward primitives are built from. */
dnnl::convolution_forward::primitive_desc forwardHint(const ConvGeometry& g, const ConvShape& s) {
  dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                       anyDesc(sourceDesc(g).dims()), anyDesc(weightDims(g)),
                                       anyDesc(destinationDesc(g).dims()), s.strides, s.dilates, s.padLeft,
                                       s.padRight);
  return dnnl::convolution_forward::primitive_desc(desc, engine());
}

ForwardPlan makeForwardPlan(const ConvGeometry& g, bool withBias, int64_t activation, float alpha) {
  ConvShape s = convShape(g);
  memory::desc biasDesc({g.outChannels}, memory::data_type::f32, memory::format_tag::x);
  dnnl::post_ops postOps;
  switch (activation) {
    case kRelu: postOps.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f); break;
    // clip_v2 is 0 ≤ x ≤ 6 with NaN passed through, as TF.js's min(max(0, x), 6).
    case kRelu6: postOps.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, 0.f, 6.f); break;
    case kElu: postOps.append_eltwise(1.f, dnnl::algorithm::eltwise_elu, 1.f, 0.f); break;
    case kLeakyRelu: postOps.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, alpha, 0.f); break;
    case kSigmoid: postOps.append_eltwise(1.f, dnnl::algorithm::eltwise_logistic, 0.f, 0.f); break;
    default: break;  // linear; prelu runs as our own loop after the primitive
  }
  dnnl::primitive_attr attributes;
  attributes.set_post_ops(postOps);
  auto pd = preferNhwc(g, [&](const memory::desc& src, const memory::desc& dst) {
    auto kind = dnnl::prop_kind::forward_inference;
    auto algorithm = dnnl::algorithm::convolution_direct;
    memory::desc weights = anyDesc(weightDims(g));
    if (withBias) {
      dnnl::convolution_forward::desc desc(kind, algorithm, src, weights, biasDesc, dst, s.strides, s.dilates,
                                           s.padLeft, s.padRight);
      return dnnl::convolution_forward::primitive_desc(desc, attributes, engine());
    }
    dnnl::convolution_forward::desc desc(kind, algorithm, src, weights, dst, s.strides, s.dilates, s.padLeft,
                                         s.padRight);
    return dnnl::convolution_forward::primitive_desc(desc, attributes, engine());
  });
  ForwardPlan plan{dnnl::convolution_forward(pd), Binding::input(sourceDesc(g), pd.src_desc()),
                   Binding::input(filterDesc(g), pd.weights_desc()),
                   Binding::output(destinationDesc(g), pd.dst_desc()), std::nullopt};
  if (withBias) plan.bias = Binding::input(biasDesc, pd.bias_desc());
  return plan;
}

/** An optional Float32Array argument: null or undefined gives nullopt. */
std::optional<F32View> optionalFloatArrayArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (index >= info.Length() || info[index].IsNull() || info[index].IsUndefined()) return std::nullopt;
  return floatArrayArg(info, index, what);
}

int64_t floatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

/** y = y < 0 ? y·alpha[c] : y over an NHWC output, as TF.js's Prelu (NaN stays NaN). */
MALT_VECTORISED void applyPrelu(float* values, int64_t pixels, int64_t channels, const float* alpha) {
#pragma omp parallel for if (pixels * channels > 32768)
  for (int64_t pixel = 0; pixel < pixels; ++pixel) {
    float* row = values + pixel * channels;
    for (int64_t c = 0; c < channels; ++c) row[c] = row[c] < 0.f ? row[c] * alpha[c] : row[c];
  }
}

/**
 * convForward(x, filter, bias | null, y, geometry, activation, alpha, preluAlpha | null):
 * y = activation(conv(x, filter) + bias). x NHWC, filter HWIO (or depthwise [fh, fw, in, mult]),
 * bias and preluAlpha [outChannels], alpha the leaky-relu slope; y is filled.
 */
Napi::Value ConvForward(const Napi::CallbackInfo& info) {
  return guarded(info, "convForward", [&] {
    F32View x = floatArrayArg(info, 0, "x");
    F32View filter = floatArrayArg(info, 1, "filter");
    std::optional<F32View> bias = optionalFloatArrayArg(info, 2, "bias");
    F32View y = floatArrayArg(info, 3, "y");
    std::vector<int64_t> raw;
    ConvGeometry g = geometryArg(info, 4, raw);
    int64_t activation = intArg(info, 5, "activation");
    auto alpha = static_cast<float>(numberArg(info, 6, "alpha"));
    std::optional<F32View> preluAlpha = optionalFloatArrayArg(info, 7, "preluAlpha");
    Napi::Env env = info.Env();
    if (activation < 0 || activation >= kActivationCount) throw Napi::RangeError::New(env, "unknown activation");
    requireLength(env, x.length, g.batch * g.inHeight * g.inWidth * g.inChannels, "x");
    requireLength(env, filter.length, g.filterHeight * g.filterWidth * g.inChannels * (g.outChannels / g.groups),
                  "filter");
    requireLength(env, y.length, g.batch * g.outHeight * g.outWidth * g.outChannels, "y");
    if (bias) requireLength(env, bias->length, g.outChannels, "bias");
    if (activation == kPrelu) {
      if (!preluAlpha) throw Napi::TypeError::New(env, "prelu needs preluAlpha");
      requireLength(env, preluAlpha->length, g.outChannels, "preluAlpha");
    }

    raw.push_back(bias ? 1 : 0);
    raw.push_back(activation);
    raw.push_back(activation == kLeakyRelu ? floatBits(alpha) : 0);
    ForwardPlan& plan = forwardPlans().get(key({&raw}, "fwd"), [&] {
      return makeForwardPlan(g, bias.has_value(), activation, alpha);
    });
    plan.source.load(x.data);
    plan.weights.load(filter.data);
    if (plan.bias) plan.bias->load(bias->data);
    plan.destination.target(y.data);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, plan.source.inner},
                                         {DNNL_ARG_WEIGHTS, plan.weights.inner},
                                         {DNNL_ARG_DST, plan.destination.inner}};
    if (plan.bias) args.emplace(DNNL_ARG_BIAS, plan.bias->inner);
    plan.primitive.execute(stream(), args);
    plan.destination.store();
    stream().wait();
    plan.source.release();
    plan.weights.release();
    plan.destination.release();
    if (plan.bias) plan.bias->release();
    if (activation == kPrelu) {
      applyPrelu(y.data, g.batch * g.outHeight * g.outWidth, g.outChannels, preluAlpha->data);
    }
  });
}

/**
 * convBackwardInput(dy, filter, dx, geometry): dx = the gradient of conv(x, filter) wrt x. dx must
 * arrive zeroed (a fresh Float32Array): pixels outside the used part of the input are not written.
 */
Napi::Value ConvBackwardInput(const Napi::CallbackInfo& info) {
  return guarded(info, "convBackwardInput", [&] {
    F32View dy = floatArrayArg(info, 0, "dy");
    F32View filter = floatArrayArg(info, 1, "filter");
    F32View dx = floatArrayArg(info, 2, "dx");
    std::vector<int64_t> raw;
    ConvGeometry g = geometryArg(info, 3, raw);
    Napi::Env env = info.Env();
    requireLength(env, dy.length, g.batch * g.outHeight * g.outWidth * g.outChannels, "dy");
    requireLength(env, filter.length, g.filterHeight * g.filterWidth * g.inChannels * (g.outChannels / g.groups),
                  "filter");
    requireLength(env, dx.length, g.batch * g.inHeight * g.inWidth * g.inChannels, "dx");

    BackwardDataPlan& plan = backwardDataPlans().get(key({&raw}, "bwd-data"), [&] {
      ConvShape s = convShape(g);
      auto hint = forwardHint(g, s);
      auto pd = preferNhwc(g, [&](const memory::desc& src, const memory::desc& dst) {
        dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, src, anyDesc(weightDims(g)),
                                                   dst, s.strides, s.dilates, s.padLeft, s.padRight);
        return dnnl::convolution_backward_data::primitive_desc(desc, engine(), hint);
      });
      return BackwardDataPlan{dnnl::convolution_backward_data(pd),
                              Binding::input(destinationDesc(g), pd.diff_dst_desc()),
                              Binding::input(filterDesc(g), pd.weights_desc()),
                              Binding::output(sourceDesc(g), pd.diff_src_desc())};
    });
    plan.gradient.load(dy.data);
    plan.weights.load(filter.data);
    plan.inputGradient.target(dx.data);
    plan.primitive.execute(stream(), {{DNNL_ARG_DIFF_DST, plan.gradient.inner},
                                      {DNNL_ARG_WEIGHTS, plan.weights.inner},
                                      {DNNL_ARG_DIFF_SRC, plan.inputGradient.inner}});
    plan.inputGradient.store();
    stream().wait();
    plan.gradient.release();
    plan.weights.release();
    plan.inputGradient.release();
  });
}

/** convBackwardFilter(x, dy, dw, geometry): dw = the gradient of conv(x, filter) wrt filter. */
Napi::Value ConvBackwardFilter(const Napi::CallbackInfo& info) {
  return guarded(info, "convBackwardFilter", [&] {
    F32View x = floatArrayArg(info, 0, "x");
    F32View dy = floatArrayArg(info, 1, "dy");
    F32View dw = floatArrayArg(info, 2, "dw");
    std::vector<int64_t> raw;
    ConvGeometry g = geometryArg(info, 3, raw);
    Napi::Env env = info.Env();
    requireLength(env, x.length, g.batch * g.inHeight * g.inWidth * g.inChannels, "x");
    requireLength(env, dy.length, g.batch * g.outHeight * g.outWidth * g.outChannels, "dy");
    requireLength(env, dw.length, g.filterHeight * g.filterWidth * g.inChannels * (g.outChannels / g.groups), "dw");

    BackwardWeightsPlan& plan = backwardWeightsPlans().get(key({&raw}, "bwd-weights"), [&] {
      ConvShape s = convShape(g);
      auto hint = forwardHint(g, s);
      auto pd = preferNhwc(g, [&](const memory::desc& src, const memory::desc& dst) {
        dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, src,
                                                      anyDesc(weightDims(g)), dst, s.strides, s.dilates, s.padLeft,
                                                      s.padRight);
        return dnnl::convolution_backward_weights::primitive_desc(desc, engine(), hint);
      });
      return BackwardWeightsPlan{dnnl::convolution_backward_weights(pd), Binding::input(sourceDesc(g), pd.src_desc()),
                                 Binding::input(destinationDesc(g), pd.diff_dst_desc()),
                                 Binding::output(filterDesc(g), pd.diff_weights_desc())};
    });
    plan.source.load(x.data);
    plan.gradient.load(dy.data);
    plan.weightsGradient.target(dw.data);
    plan.primitive.execute(stream(), {{DNNL_ARG_SRC, plan.source.inner},
                                      {DNNL_ARG_DIFF_DST, plan.gradient.inner},
                                      {DNNL_ARG_DIFF_WEIGHTS, plan.weightsGradient.inner}});
    plan.weightsGradient.store();
    stream().wait();
    plan.source.release();
    plan.gradient.release();
    plan.weightsGradient.release();
  });
}

}  // namespace

void InitConv(Napi::Env env, Napi::Object exports) {
  exports.Set("convForward", Napi::Function::New(env, ConvForward, "convForward"));
  exports.Set("convBackwardInput", Napi::Function::New(env, ConvBackwardInput, "convBackwardInput"));
  exports.Set("convBackwardFilter", Napi::Function::New(env, ConvBackwardFilter, "convBackwardFilter"));
}

}  // namespace malt
