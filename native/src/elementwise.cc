// Kernel group: element-wise ops (activations and their gradients, arithmetic with NumPy/TF
// broadcasting, AddN). These are memory-bound and mostly tiny (optimizer scalars, logits), so the
// design keeps calls cheap: one entry point per family (unary, binary, AddN) with the op as a code,
// a switch that picks a loop compiled per op for AVX-512/AVX2/x86-64, and OpenMP only for tensors
// large enough to pay for waking the thread team.
//
// Every op reproduces the TF.js CPU kernel bit for bit where IEEE arithmetic allows: the JS kernels
// compute in float64 and round once to float32. For + - * / and sqrt a single float32 operation
// rounds the same way (float64 has more than 2*24+2 bits, so double rounding is innocuous); every
// other formula (sigmoid, elu, rsqrt, squared difference, ...) is evaluated in double and rounded
// once, exactly as V8 does. NaN, signed zeros and infinities follow JS (Math.max, Math.pow, ...).
#include "common.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

namespace malt {
namespace {

// Below this many output elements a kernel runs on the calling thread: waking the OpenMP team costs
// a few microseconds, more than the whole loop for the small tensors that dominate training steps.
constexpr int64_t kParallelThreshold = int64_t{1} << 16;
// Broadcasts are described by at most this many collapsed dimensions (see TS planBroadcast).
constexpr int kMaxRank = 6;
// AddN sums a block of outputs over all inputs before moving on, so the block stays in L1.
constexpr int64_t kAddNBlock = 2048;
// A broadcast input repeating every kMaxPeriod elements or fewer is tiled into kTileLength floats.
constexpr int64_t kMaxPeriod = 128;
constexpr int64_t kTileLength = 1024;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

inline float fromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

/** Attributes of the parameterised unary ops (LeakyRelu/Step alpha, ClipByValue bounds). */
struct UnaryParams {
  double alpha;  // JS number: LeakyRelu multiplies by it in double
  double beta;
};

// ---- Unary ops: float -> float, each the TF.js CPU kernel's formula. ----

struct Relu {  // Math.max(0, x): NaN stays NaN, -0 becomes +0
  explicit Relu(const UnaryParams&) {}
  float operator()(float x) const { return x != x ? x : (x > 0.f ? x : 0.f); }
};
struct Relu6 {  // Math.min(Math.max(0, x), 6)
  explicit Relu6(const UnaryParams&) {}
  float operator()(float x) const { return x != x ? x : (x > 6.f ? 6.f : (x > 0.f ? x : 0.f)); }
};
struct Elu {  // x >= 0 ? x : Math.exp(x) - 1
  explicit Elu(const UnaryParams&) {}
  float operator()(float x) const { return x >= 0.f ? x : static_cast<float>(std::exp(static_cast<double>(x)) - 1.0); }
};
struct LeakyRelu {  // x < 0 ? alpha * x : x, the product in double
  double alpha;
  explicit LeakyRelu(const UnaryParams& p) : alpha(p.alpha) {}
  float operator()(float x) const { return x < 0.f ? static_cast<float>(alpha * static_cast<double>(x)) : x; }
};
struct Sigmoid {  // 1 / (1 + Math.exp(-x))
  explicit Sigmoid(const UnaryParams&) {}
  float operator()(float x) const { return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x)))); }
};
struct Tanh {
  explicit Tanh(const UnaryParams&) {}
  float operator()(float x) const { return static_cast<float>(std::tanh(static_cast<double>(x))); }
};
struct Step {  // NaN passes through; x > 0 ? 1 : alpha (alpha stored as float32)
  float alpha;
  explicit Step(const UnaryParams& p) : alpha(static_cast<float>(p.alpha)) {}
  float operator()(float x) const { return x != x ? x : (x > 0.f ? 1.f : alpha); }
};
struct Exp {
  explicit Exp(const UnaryParams&) {}
  float operator()(float x) const { return static_cast<float>(std::exp(static_cast<double>(x))); }
};
struct Log {
  explicit Log(const UnaryParams&) {}
  float operator()(float x) const { return static_cast<float>(std::log(static_cast<double>(x))); }
};
struct Log1p {
  explicit Log1p(const UnaryParams&) {}
  float operator()(float x) const { return static_cast<float>(std::log1p(static_cast<double>(x))); }
};
struct Expm1 {
  explicit Expm1(const UnaryParams&) {}
  float operator()(float x) const { return static_cast<float>(std::expm1(static_cast<double>(x))); }
};
struct Sqrt {  // float32 sqrt rounds as Math.sqrt then Float32Array does
  explicit Sqrt(const UnaryParams&) {}
  float operator()(float x) const { return std::sqrt(x); }
};
struct Rsqrt {  // 1 / Math.sqrt(x): two double operations, one rounding to float32
  explicit Rsqrt(const UnaryParams&) {}
  float operator()(float x) const { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(x))); }
};
struct Square {
  explicit Square(const UnaryParams&) {}
  float operator()(float x) const { return x * x; }
};
struct Neg {  // -1 * x
  explicit Neg(const UnaryParams&) {}
  float operator()(float x) const { return -x; }
};
struct Abs {
  explicit Abs(const UnaryParams&) {}
  float operator()(float x) const { return std::fabs(x); }
};
struct Reciprocal {
  explicit Reciprocal(const UnaryParams&) {}
  float operator()(float x) const { return 1.f / x; }
};
struct ClipByValue {
  // x > max ? max : x < min ? min : x, NaN passing through. Comparing with the bounds rounded to
  // float32 picks a different branch than JS's double comparison only when x equals the rounded
  // bound, where both branches give the same value.
  float low;
  float high;
  explicit ClipByValue(const UnaryParams& p) : low(static_cast<float>(p.alpha)), high(static_cast<float>(p.beta)) {}
  float operator()(float x) const { return x > high ? high : (x < low ? low : x); }
};
struct Softplus {
  // TF.js: below log(float32 epsilon) + 2 softplus(x) = exp(x), above its negation it is x.
  static double threshold() {
    static const double value = std::log(1.1920928955078125e-7) + 2.0;
    return value;
  }
  double low;
  explicit Softplus(const UnaryParams&) : low(threshold()) {}
  float operator()(float x) const {
    double value = x;
    if (value < low) return static_cast<float>(std::exp(value));
    if (value > -low) return x;
    return static_cast<float>(std::log(1.0 + std::exp(value)));
  }
};

// ---- Binary ops: (a, b) -> float. ----

struct Add {
  float operator()(float a, float b) const { return a + b; }
};
struct Sub {
  float operator()(float a, float b) const { return a - b; }
};
struct Multiply {
  float operator()(float a, float b) const { return a * b; }
};
struct RealDiv {
  float operator()(float a, float b) const { return a / b; }
};
struct Maximum {  // Math.max: NaN wins, and max(+0, -0) is +0 (the AND of the sign bits)
  float operator()(float a, float b) const {
    float larger = a > b ? a : b;
    larger = a == b ? fromBits(bitsOf(a) & bitsOf(b)) : larger;
    return a != a ? a : larger;
  }
};
struct Minimum {  // Math.min: NaN wins, and min(+0, -0) is -0 (the OR of the sign bits)
  float operator()(float a, float b) const {
    float smaller = a < b ? a : b;
    smaller = a == b ? fromBits(bitsOf(a) | bitsOf(b)) : smaller;
    return a != a ? a : smaller;
  }
};
struct SquaredDifference {  // (a - b)^2 with the difference kept in double, as JS does
  float operator()(float a, float b) const {
    double difference = static_cast<double>(a) - static_cast<double>(b);
    return static_cast<float>(difference * difference);
  }
};
struct Pow {
  // Math.pow differs from C's pow in two places: x ** NaN is NaN even for x = 1, and
  // (+-1) ** (+-Infinity) is NaN, not 1.
  float operator()(float a, float b) const {
    if (b != b) return b;
    if (std::fabs(a) == 1.f && std::isinf(b)) return kNaN;
    return static_cast<float>(std::pow(static_cast<double>(a), static_cast<double>(b)));
  }
};
struct ReluGrad {  // a = dy, b = x: dy * step(x) as TF.js's Relu gradient computes it (Step, then Multiply)
  float operator()(float dy, float x) const { return dy * (x != x ? x : (x > 0.f ? 1.f : 0.f)); }
};
struct EluGrad {  // a = dy, b = y: y >= 0 ? dy : dy * (y + 1), in double
  float operator()(float dy, float y) const {
    return y >= 0.f ? dy : static_cast<float>(static_cast<double>(dy) * (static_cast<double>(y) + 1.0));
  }
};

// ---- Loops. Each op gets its own copies, compiled per instruction set (MALT_VECTORISED). ----

template <typename Op>
inline __attribute__((always_inline)) void unaryLoop(const float* __restrict x, float* __restrict out, int64_t count,
                                                     const Op& op) {
  for (int64_t i = 0; i < count; ++i) out[i] = op(x[i]);
}

/**
 * A broadcast after collapsing: dim 0 is innermost; a and b strides are 0 along the dims they are
 * broadcast over. Inner strides are 0 or 1, so each output row is vector-vector, vector-scalar or
 * scalar-vector, each a simple vectorisable loop.
 */
struct Layout {
  int rank;
  int64_t size[kMaxRank];
  int64_t aStride[kMaxRank];
  int64_t bStride[kMaxRank];
};

template <typename Op>
inline __attribute__((always_inline)) void binaryRow(const float* __restrict a, const float* __restrict b,
                                                     float* __restrict out, int64_t count, int64_t aStep,
                                                     int64_t bStep, const Op& op) {
  if (aStep != 0 && bStep != 0) {
    for (int64_t i = 0; i < count; ++i) out[i] = op(a[i], b[i]);
  } else if (aStep != 0) {
    const float scalar = b[0];
    for (int64_t i = 0; i < count; ++i) out[i] = op(a[i], scalar);
  } else if (bStep != 0) {
    const float scalar = a[0];
    for (int64_t i = 0; i < count; ++i) out[i] = op(scalar, b[i]);
  } else {
    const float value = op(a[0], b[0]);
    for (int64_t i = 0; i < count; ++i) out[i] = value;
  }
}

/**
 * Output elements [begin, end) when one input repeats with a short period along a contiguous other
 * (bias add: [N,H,W,C] + [C]). Rows of C elements would spend more time on loop set-up than on
 * arithmetic, so the repeating input is tiled into a buffer of about a thousand elements and the
 * output is processed in long vector-vector rows.
 */
template <typename Op>
inline __attribute__((always_inline)) void periodicRange(const float* a, const float* b, float* out, int64_t period,
                                                         bool aRepeats, int64_t begin, int64_t end, const Op& op) {
  float tile[kTileLength];
  const float* repeating = aRepeats ? a : b;
  const int64_t tileLength = kTileLength / period * period;
  for (int64_t start = 0; start < tileLength; start += period) {
    std::memcpy(tile + start, repeating, static_cast<size_t>(period) * sizeof(float));
  }
  int64_t position = begin;
  while (position < end) {
    const int64_t phase = position % period;
    const int64_t count = std::min(tileLength - phase, end - position);
    if (aRepeats) {
      binaryRow(tile + phase, b + position, out + position, count, 1, 1, op);
    } else {
      binaryRow(a + position, tile + phase, out + position, count, 1, 1, op);
    }
    position += count;
  }
}

/** Output elements [begin, end) of a broadcast binary op: an odometer over the outer dims. */
template <typename Op>
inline __attribute__((always_inline)) void binaryRange(const Layout& layout, const float* a, const float* b,
                                                       float* out, int64_t begin, int64_t end, const Op& op) {
  const int64_t rowLength = layout.size[0];
  // Small ranges keep the row loop: building the tile would cost more than it saves.
  if (layout.rank == 2 && rowLength <= kMaxPeriod && end - begin >= 4 * kTileLength && layout.aStride[0] == 1 &&
      layout.bStride[0] == 1) {
    if (layout.bStride[1] == 0 && layout.aStride[1] == rowLength) {
      periodicRange(a, b, out, rowLength, false, begin, end, op);
      return;
    }
    if (layout.aStride[1] == 0 && layout.bStride[1] == rowLength) {
      periodicRange(a, b, out, rowLength, true, begin, end, op);
      return;
    }
  }
  int64_t index[kMaxRank] = {0};
  int64_t column = begin % rowLength;
  int64_t rest = begin / rowLength;
  int64_t aRow = 0;
  int64_t bRow = 0;
  for (int d = 1; d < layout.rank; ++d) {
    index[d] = rest % layout.size[d];
    rest /= layout.size[d];
    aRow += index[d] * layout.aStride[d];
    bRow += index[d] * layout.bStride[d];
  }
  int64_t position = begin;
  while (position < end) {
    const int64_t count = std::min(rowLength - column, end - position);
    binaryRow(a + aRow + column * layout.aStride[0], b + bRow + column * layout.bStride[0], out + position, count,
              layout.aStride[0], layout.bStride[0], op);
    position += count;
    column = 0;
    for (int d = 1; d < layout.rank; ++d) {
      aRow += layout.aStride[d];
      bRow += layout.bStride[d];
      if (++index[d] < layout.size[d]) break;
      aRow -= layout.size[d] * layout.aStride[d];
      bRow -= layout.size[d] * layout.bStride[d];
      index[d] = 0;
    }
  }
}

using UnaryRange = void (*)(const float*, float*, int64_t, const UnaryParams&);
using BinaryRange = void (*)(const Layout&, const float*, const float*, float*, int64_t, int64_t);

#define MALT_UNARY_RANGE(Name)                                                                                    \
  MALT_VECTORISED void Name##Range(const float* x, float* out, int64_t count, const UnaryParams& params) { \
    unaryLoop(x, out, count, Name(params));                                                                       \
  }
#define MALT_BINARY_RANGE(Name)                                                                              \
  MALT_VECTORISED void Name##Range(const Layout& layout, const float* a, const float* b, float* out, int64_t begin, \
                                   int64_t end) {                                                            \
    binaryRange(layout, a, b, out, begin, end, Name());                                                      \
  }

MALT_UNARY_RANGE(Relu)
MALT_UNARY_RANGE(Relu6)
MALT_UNARY_RANGE(Elu)
MALT_UNARY_RANGE(LeakyRelu)
MALT_UNARY_RANGE(Sigmoid)
MALT_UNARY_RANGE(Tanh)
MALT_UNARY_RANGE(Step)
MALT_UNARY_RANGE(Exp)
MALT_UNARY_RANGE(Log)
MALT_UNARY_RANGE(Log1p)
MALT_UNARY_RANGE(Expm1)
MALT_UNARY_RANGE(Sqrt)
MALT_UNARY_RANGE(Rsqrt)
MALT_UNARY_RANGE(Square)
MALT_UNARY_RANGE(Neg)
MALT_UNARY_RANGE(Abs)
MALT_UNARY_RANGE(Reciprocal)
MALT_UNARY_RANGE(ClipByValue)
MALT_UNARY_RANGE(Softplus)

MALT_BINARY_RANGE(Add)
MALT_BINARY_RANGE(Sub)
MALT_BINARY_RANGE(Multiply)
MALT_BINARY_RANGE(RealDiv)
MALT_BINARY_RANGE(Maximum)
MALT_BINARY_RANGE(Minimum)
MALT_BINARY_RANGE(SquaredDifference)
MALT_BINARY_RANGE(Pow)
MALT_BINARY_RANGE(EluGrad)
MALT_BINARY_RANGE(ReluGrad)

#undef MALT_UNARY_RANGE
#undef MALT_BINARY_RANGE

struct UnaryEntry {
  const char* name;  // the TF.js kernel name
  UnaryRange range;
};
struct BinaryEntry {
  const char* name;
  BinaryRange range;
};

// The op codes are the positions in these tables; TypeScript reads the names (elementwiseOps) and
// never hard-codes a number, so the two sides cannot drift apart.
const UnaryEntry kUnaryOps[] = {
    {"Relu", ReluRange},       {"Relu6", Relu6Range},
    {"Elu", EluRange},         {"LeakyRelu", LeakyReluRange},
    {"Sigmoid", SigmoidRange}, {"Tanh", TanhRange},
    {"Step", StepRange},       {"Exp", ExpRange},
    {"Log", LogRange},         {"Log1p", Log1pRange},
    {"Expm1", Expm1Range},     {"Sqrt", SqrtRange},
    {"Rsqrt", RsqrtRange},     {"Square", SquareRange},
    {"Neg", NegRange},         {"Abs", AbsRange},
    {"Reciprocal", ReciprocalRange}, {"ClipByValue", ClipByValueRange},
    {"Softplus", SoftplusRange},
};
const BinaryEntry kBinaryOps[] = {
    {"Add", AddRange},         {"Sub", SubRange},
    {"Multiply", MultiplyRange}, {"RealDiv", RealDivRange},
    {"Maximum", MaximumRange}, {"Minimum", MinimumRange},
    {"SquaredDifference", SquaredDifferenceRange}, {"Pow", PowRange},
    {"EluGrad", EluGradRange}, {"ReluGrad", ReluGradRange},
};
constexpr int64_t kUnaryOpCount = sizeof kUnaryOps / sizeof kUnaryOps[0];
constexpr int64_t kBinaryOpCount = sizeof kBinaryOps / sizeof kBinaryOps[0];

/**
 * Runs body(begin, end) over [0, count): on this thread when small, else split evenly across the
 * OpenMP team in chunks that are whole multiples of 16 floats (one AVX-512 vector, cache-line aligned
 * when the arrays are).
 */
template <typename Body>
void forChunks(int64_t count, Body&& body) {
  if (count < kParallelThreshold || omp_get_max_threads() == 1) {
    body(int64_t{0}, count);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t thread = omp_get_thread_num();
    const int64_t chunk = ((count + threads - 1) / threads + 15) / 16 * 16;
    const int64_t begin = std::min(count, thread * chunk);
    const int64_t end = std::min(count, begin + chunk);
    if (begin < end) body(begin, end);
  }
}

int64_t opArg(const Napi::CallbackInfo& info, int64_t count) {
  int64_t op = intArg(info, 0, "op");
  if (op < 0 || op >= count) throw Napi::RangeError::New(info.Env(), "unknown element-wise op " + std::to_string(op));
  return op;
}

// elementwiseUnary(op, x: Float32Array, out: Float32Array, alpha: number, beta: number)
Napi::Value ElementwiseUnary(const Napi::CallbackInfo& info) {
  const UnaryEntry& entry = kUnaryOps[opArg(info, kUnaryOpCount)];
  F32View x = floatArrayArg(info, 1, "x");
  F32View out = floatArrayArg(info, 2, "out");
  UnaryParams params{numberArg(info, 3, "alpha"), numberArg(info, 4, "beta")};
  requireLength(info.Env(), out.length, x.length, "out");
  return guarded(info, entry.name, [&] {
    forChunks(static_cast<int64_t>(x.length), [&](int64_t begin, int64_t end) {
      entry.range(x.data + begin, out.data + begin, end - begin, params);
    });
  });
}

/** Reads and checks a collapsed broadcast: [rank, (size, aStride, bStride) x rank], innermost first. */
Layout layoutArg(const Napi::CallbackInfo& info, size_t index, size_t aLength, size_t bLength, size_t outLength) {
  Napi::Env env = info.Env();
  I32View raw = intArrayArg(info, index, "layout");
  if (raw.length < 1 || raw.data[0] < 1 || raw.data[0] > kMaxRank || raw.length < 1 + 3 * static_cast<size_t>(raw.data[0])) {
    throw Napi::RangeError::New(env, "layout must hold a rank from 1 to 6 and three numbers per dimension");
  }
  Layout layout{};
  layout.rank = raw.data[0];
  int64_t aExtent = 1;
  int64_t bExtent = 1;
  int64_t total = 1;
  for (int d = 0; d < layout.rank; ++d) {
    layout.size[d] = raw.data[1 + 3 * d];
    layout.aStride[d] = raw.data[2 + 3 * d];
    layout.bStride[d] = raw.data[3 + 3 * d];
    if (layout.size[d] < 1 || layout.aStride[d] < 0 || layout.bStride[d] < 0) {
      throw Napi::RangeError::New(env, "layout sizes must be positive and strides non-negative");
    }
    aExtent += (layout.size[d] - 1) * layout.aStride[d];
    bExtent += (layout.size[d] - 1) * layout.bStride[d];
    total *= layout.size[d];
    // Each term is below 2^62 (int32 factors); stopping at the first excess keeps the sums in range.
    if (aExtent > static_cast<int64_t>(aLength) || bExtent > static_cast<int64_t>(bLength) ||
        total > static_cast<int64_t>(outLength)) {
      throw Napi::RangeError::New(env, "layout reaches past the ends of a, b or out");
    }
  }
  if (layout.aStride[0] > 1 || layout.bStride[0] > 1) {
    throw Napi::RangeError::New(env, "layout inner strides must be 0 or 1");
  }
  // Every read stays inside a and b: their lengths are exactly the furthest offset plus one.
  requireLength(env, aLength, static_cast<size_t>(aExtent), "a");
  requireLength(env, bLength, static_cast<size_t>(bExtent), "b");
  requireLength(env, outLength, static_cast<size_t>(total), "out");
  return layout;
}

// elementwiseBinary(op, a: Float32Array, b: Float32Array, out: Float32Array, layout: Int32Array)
Napi::Value ElementwiseBinary(const Napi::CallbackInfo& info) {
  const BinaryEntry& entry = kBinaryOps[opArg(info, kBinaryOpCount)];
  F32View a = floatArrayArg(info, 1, "a");
  F32View b = floatArrayArg(info, 2, "b");
  F32View out = floatArrayArg(info, 3, "out");
  Layout layout = layoutArg(info, 4, a.length, b.length, out.length);
  return guarded(info, entry.name, [&] {
    forChunks(static_cast<int64_t>(out.length), [&](int64_t begin, int64_t end) {
      entry.range(layout, a.data, b.data, out.data, begin, end);
    });
  });
}

/** out = ((0 + in[0]) + in[1]) + ...: the CPU kernel's order, rounded to float32 after each add. */
MALT_VECTORISED void addNRange(const float* const* inputs, int64_t inputCount, float* __restrict out, int64_t begin,
                               int64_t end) {
  for (int64_t block = begin; block < end; block += kAddNBlock) {
    const int64_t stop = std::min(end, block + kAddNBlock);
    const float* __restrict first = inputs[0];
    // 0 + x, not x: the JS kernel starts from a zero-filled buffer, which turns -0 into +0.
    for (int64_t i = block; i < stop; ++i) out[i] = 0.f + first[i];
    for (int64_t k = 1; k < inputCount; ++k) {
      const float* __restrict input = inputs[k];
      for (int64_t i = block; i < stop; ++i) out[i] += input[i];
    }
  }
}

// elementwiseAddN(inputs: Float32Array[], out: Float32Array)
Napi::Value ElementwiseAddN(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "inputs must be an array of Float32Arrays");
  auto list = info[0].As<Napi::Array>();
  F32View out = floatArrayArg(info, 1, "out");
  const uint32_t inputCount = list.Length();
  if (inputCount < 1) throw Napi::RangeError::New(env, "AddN needs at least one input");
  std::vector<const float*> inputs(inputCount);
  for (uint32_t k = 0; k < inputCount; ++k) {
    Napi::Value item = list.Get(k);
    if (!item.IsTypedArray() || item.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(env, "inputs[" + std::to_string(k) + "] must be a Float32Array");
    }
    auto array = item.As<Napi::Float32Array>();
    requireLength(env, array.ElementLength(), out.length, "an AddN input");
    inputs[k] = array.Data();
  }
  return guarded(info, "AddN", [&] {
    forChunks(static_cast<int64_t>(out.length), [&](int64_t begin, int64_t end) {
      addNRange(inputs.data(), inputCount, out.data, begin, end);
    });
  });
}

// elementwiseOps() -> { unary: string[], binary: string[] }: op codes are indices into these lists.
Napi::Value ElementwiseOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array unary = Napi::Array::New(env, kUnaryOpCount);
  for (int64_t i = 0; i < kUnaryOpCount; ++i) unary.Set(static_cast<uint32_t>(i), kUnaryOps[i].name);
  Napi::Array binary = Napi::Array::New(env, kBinaryOpCount);
  for (int64_t i = 0; i < kBinaryOpCount; ++i) binary.Set(static_cast<uint32_t>(i), kBinaryOps[i].name);
  Napi::Object result = Napi::Object::New(env);
  result.Set("unary", unary);
  result.Set("binary", binary);
  return result;
}

}  // namespace

void InitElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("elementwiseUnary", Napi::Function::New(env, ElementwiseUnary, "elementwiseUnary"));
  exports.Set("elementwiseBinary", Napi::Function::New(env, ElementwiseBinary, "elementwiseBinary"));
  exports.Set("elementwiseAddN", Napi::Function::New(env, ElementwiseAddN, "elementwiseAddN"));
  exports.Set("elementwiseOps", Napi::Function::New(env, ElementwiseOps, "elementwiseOps"));
}

}  // namespace malt
