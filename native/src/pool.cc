// Kernel group: 2-D pooling on NHWC float32 tensors (MaxPool, MaxPoolGrad, AvgPool, AvgPoolGrad).
//
// Hand-written loops rather than oneDNN pooling, because TF.js's CPU kernels fix details that
// oneDNN does not promise: MaxPoolGrad sends the gradient to the FIRST maximum of a window in
// row-major window order (ties are common after relu: windows of zeros), max pooling skips NaN
// (`pixel > best` is false for NaN) and gives -Infinity for a window with nothing above it (oneDNN
// starts from the lowest finite float), such a window gets no gradient, AvgPool sums in float64 and
// divides by the count of non-padded elements, and AvgPoolGrad divides by the full filter area
// (TF.js's own rule, even where the forward pass divided by fewer).
// The channels, contiguous in NHWC, are the vector lanes: blocks of 16, then 4, then 1 channel, as
// GCC vector types (auto-vectorisation of these short loops gave scalar code, 2.5x slower); OpenMP
// splits the rows. Against oneDNN's max pooling forward (jit:avx512_core) at the benchmark shapes
// this loop measured within ~20% of its time, and it is exact where oneDNN is not.
#include "common.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

// The vector helpers below are always inlined, so the warning that passing wide vectors by value
// depends on the instruction set (an ABI question for real calls) does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace malt {
namespace {

// Below this many element visits a call runs on one thread: thread start-up costs more than it saves.
constexpr int64_t kParallelWork = 1 << 15;

// Inlined into each target clone, so the vector code is compiled for that clone's instruction set.
#define MALT_ALWAYS_INLINE __attribute__((always_inline))
#define MALT_INLINE MALT_ALWAYS_INLINE inline

/** Vectors of `kLanes` channels: float values, int32 positions and masks, float64 sums. */
template <int kLanes>
struct Lanes {
  typedef float Floats __attribute__((vector_size(sizeof(float) * kLanes)));
  typedef int32_t Ints __attribute__((vector_size(sizeof(int32_t) * kLanes)));
  typedef double Doubles __attribute__((vector_size(sizeof(double) * kLanes)));
};

template <typename Vector>
MALT_INLINE Vector load(const void* from) {
  Vector vector;
  std::memcpy(&vector, from, sizeof vector);
  return vector;
}

template <typename Vector>
MALT_INLINE void store(void* to, const Vector& vector) {
  std::memcpy(to, &vector, sizeof vector);
}

/**
 * Calls `block(lanes, c0)` over the channels in blocks of 16, then 4, then 1; `lanes` is an
 * integral_constant, so each block is compiled for its width (and inlined into the caller's clone).
 */
template <typename Block>
MALT_INLINE void forChannelBlocks(int64_t channels, Block&& block) {
  int64_t c0 = 0;
  for (; c0 + 16 <= channels; c0 += 16) block(std::integral_constant<int, 16>{}, c0);
  for (; c0 + 4 <= channels; c0 += 4) block(std::integral_constant<int, 4>{}, c0);
  for (; c0 < channels; ++c0) block(std::integral_constant<int, 1>{}, c0);
}

/** The pooling geometry as backend_util.computePool2DInfo computes it (dilation is always 1). */
struct PoolGeometry {
  int64_t batch, inHeight, inWidth, channels;
  int64_t outHeight, outWidth;
  int64_t filterHeight, filterWidth, strideHeight, strideWidth, padTop, padLeft;

  int64_t inSize() const { return batch * inHeight * inWidth * channels; }
  int64_t outSize() const { return batch * outHeight * outWidth * channels; }
  int64_t imageSize() const { return inHeight * inWidth * channels; }
  int64_t outImageSize() const { return outHeight * outWidth * channels; }
};

/** Input rows (or columns) [low, high) of the window at output index `out`, clipped to the input. */
struct Span {
  int64_t low, high;
};
inline Span windowSpan(int64_t out, int64_t stride, int64_t pad, int64_t filter, int64_t inSize) {
  const int64_t corner = out * stride - pad;
  return {std::max<int64_t>(0, corner), std::min(inSize, corner + filter)};
}

inline int64_t floorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/** Output indices [low, high) whose windows cover input index `in` (windows unclipped, as TF.js's gradients). */
inline Span coveringOutputs(int64_t in, int64_t stride, int64_t pad, int64_t filter, int64_t outSize) {
  // out*stride - pad <= in < out*stride - pad + filter
  const int64_t low = floorDiv(in + pad - filter, stride) + 1;
  const int64_t high = floorDiv(in + pad, stride) + 1;
  return {std::max<int64_t>(0, low), std::min(outSize, high)};
}

PoolGeometry geometryArg(const Napi::CallbackInfo& info, size_t index) {
  std::vector<int64_t> dims = intListArg(info, index, "pool geometry");
  if (dims.size() != 12) {
    throw Napi::RangeError::New(info.Env(), "pool geometry must have 12 entries, got " + std::to_string(dims.size()));
  }
  PoolGeometry g{dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], dims[7], dims[8], dims[9], dims[10], dims[11]};
  for (size_t i = 0; i < 10; ++i) {
    if (dims[i] < 1) throw Napi::RangeError::New(info.Env(), "pool geometry entry " + std::to_string(i) + " must be positive");
  }
  if (g.padTop < 0 || g.padLeft < 0) throw Napi::RangeError::New(info.Env(), "pool padding must not be negative");
  return g;
}

/**
 * Max over one window for `kLanes` channels from c0: the value, and the in-image position
 * (row * inWidth + column) of the first maximum, -1 when nothing beats -Infinity (as TF.js).
 */
template <int kLanes>
MALT_INLINE void windowMax(const PoolGeometry& g, const float* image, Span rows, Span cols, int64_t c0,
                           typename Lanes<kLanes>::Floats& best, typename Lanes<kLanes>::Ints& where) {
  using Floats = typename Lanes<kLanes>::Floats;
  using Ints = typename Lanes<kLanes>::Ints;
  best = Floats{} - std::numeric_limits<float>::infinity();
  where = Ints{} - 1;
  for (int64_t row = rows.low; row < rows.high; ++row) {
    for (int64_t col = cols.low; col < cols.high; ++col) {
      const auto position = static_cast<int32_t>(row * g.inWidth + col);
      const auto pixel = load<Floats>(image + position * g.channels + c0);
      const Ints greater = pixel > best;  // false for NaN: TF.js skips NaN too; strict: the first maximum stays
      best = greater ? pixel : best;
      where = greater ? Ints{} + position : where;
    }
  }
}

/** MaxPool of output row `outRow` of one image. */
MALT_VECTORISED void maxPoolRow(const PoolGeometry& g, const float* image, float* out, int64_t outRow) {
  const Span rows = windowSpan(outRow, g.strideHeight, g.padTop, g.filterHeight, g.inHeight);
  for (int64_t outCol = 0; outCol < g.outWidth; ++outCol) {
    const Span cols = windowSpan(outCol, g.strideWidth, g.padLeft, g.filterWidth, g.inWidth);
    float* target = out + (outRow * g.outWidth + outCol) * g.channels;
    forChannelBlocks(g.channels, [&](auto lanes, int64_t c0) MALT_ALWAYS_INLINE {
      using Floats = typename Lanes<decltype(lanes)::value>::Floats;
      Floats best = Floats{} - std::numeric_limits<float>::infinity();
      for (int64_t row = rows.low; row < rows.high; ++row) {
        for (int64_t col = cols.low; col < cols.high; ++col) {
          const auto pixel = load<Floats>(image + (row * g.inWidth + col) * g.channels + c0);
          best = pixel > best ? pixel : best;
        }
      }
      store(target + c0, best);
    });
  }
}

/** Positions of the first maxima of output row `outRow` of one image (for the overlapping-window gradient). */
MALT_VECTORISED void maxPositionsRow(const PoolGeometry& g, const float* image, int32_t* positions, int64_t outRow) {
  const Span rows = windowSpan(outRow, g.strideHeight, g.padTop, g.filterHeight, g.inHeight);
  for (int64_t outCol = 0; outCol < g.outWidth; ++outCol) {
    const Span cols = windowSpan(outCol, g.strideWidth, g.padLeft, g.filterWidth, g.inWidth);
    int32_t* target = positions + (outRow * g.outWidth + outCol) * g.channels;
    forChannelBlocks(g.channels, [&](auto lanes, int64_t c0) MALT_ALWAYS_INLINE {
      constexpr int kLanes = decltype(lanes)::value;
      typename Lanes<kLanes>::Floats best;
      typename Lanes<kLanes>::Ints where;
      windowMax<kLanes>(g, image, rows, cols, c0, best, where);
      store(target + c0, where);
    });
  }
}

/**
 * MaxPoolGrad for windows that do not overlap (stride ≥ filter): each input element lies in at
 * most one window, so the windows of output row `outRow` write their part of dx directly (the
 * first maximum gets 0 + dy as TF.js sums it, the rest +0; elements in no window keep the zeros dx
 * starts with).
 */
MALT_VECTORISED void maxPoolGradDisjointRow(const PoolGeometry& g, const float* image, const float* dyImage, float* dxImage,
                                            int64_t outRow) {
  const Span rows = windowSpan(outRow, g.strideHeight, g.padTop, g.filterHeight, g.inHeight);
  for (int64_t outCol = 0; outCol < g.outWidth; ++outCol) {
    const Span cols = windowSpan(outCol, g.strideWidth, g.padLeft, g.filterWidth, g.inWidth);
    const float* dy = dyImage + (outRow * g.outWidth + outCol) * g.channels;
    forChannelBlocks(g.channels, [&](auto lanes, int64_t c0) MALT_ALWAYS_INLINE {
      constexpr int kLanes = decltype(lanes)::value;
      using Floats = typename Lanes<kLanes>::Floats;
      using Ints = typename Lanes<kLanes>::Ints;
      Floats best;
      Ints where;
      windowMax<kLanes>(g, image, rows, cols, c0, best, where);
      const Ints gradient = reinterpret_cast<Ints>(0.0f + load<Floats>(dy + c0));
      for (int64_t row = rows.low; row < rows.high; ++row) {
        for (int64_t col = cols.low; col < cols.high; ++col) {
          const auto position = static_cast<int32_t>(row * g.inWidth + col);
          store(dxImage + position * g.channels + c0, reinterpret_cast<Floats>(gradient & (where == position)));
        }
      }
    });
  }
}

/**
 * MaxPoolGrad for overlapping windows, input row `inRow` of one image: each dx element sums, in
 * float64 and in TF.js's order, the dy of every covering window whose first maximum it is
 * (the others add +0, which changes no sum).
 */
MALT_VECTORISED void maxPoolGradGatherRow(const PoolGeometry& g, const int32_t* positions, const float* dyImage, float* dxImage,
                                          int64_t inRow) {
  const Span outRows = coveringOutputs(inRow, g.strideHeight, g.padTop, g.filterHeight, g.outHeight);
  for (int64_t inCol = 0; inCol < g.inWidth; ++inCol) {
    const Span outCols = coveringOutputs(inCol, g.strideWidth, g.padLeft, g.filterWidth, g.outWidth);
    const auto position = static_cast<int32_t>(inRow * g.inWidth + inCol);
    float* dx = dxImage + position * g.channels;
    forChannelBlocks(g.channels, [&](auto lanes, int64_t c0) MALT_ALWAYS_INLINE {
      using L = Lanes<decltype(lanes)::value>;
      typename L::Doubles sum = {};
      for (int64_t outRow = outRows.low; outRow < outRows.high; ++outRow) {
        for (int64_t outCol = outCols.low; outCol < outCols.high; ++outCol) {
          const int64_t offset = (outRow * g.outWidth + outCol) * g.channels + c0;
          const auto gradient = load<typename L::Ints>(dyImage + offset);
          const auto mine = load<typename L::Ints>(positions + offset) == position;
          sum += __builtin_convertvector(reinterpret_cast<typename L::Floats>(gradient & mine), typename L::Doubles);
        }
      }
      store(dx + c0, __builtin_convertvector(sum, typename L::Floats));
    });
  }
}

/** AvgPool of output row `outRow` of one image: float64 sums over the non-padded elements, divided by their count. */
MALT_VECTORISED void avgPoolRow(const PoolGeometry& g, const float* image, float* out, int64_t outRow) {
  const Span rows = windowSpan(outRow, g.strideHeight, g.padTop, g.filterHeight, g.inHeight);
  for (int64_t outCol = 0; outCol < g.outWidth; ++outCol) {
    const Span cols = windowSpan(outCol, g.strideWidth, g.padLeft, g.filterWidth, g.inWidth);
    // An empty window (possible only with huge explicit padding) gives 0 / 0 = NaN, as in TF.js.
    const auto count = static_cast<double>(std::max<int64_t>(0, rows.high - rows.low) * std::max<int64_t>(0, cols.high - cols.low));
    float* target = out + (outRow * g.outWidth + outCol) * g.channels;
    forChannelBlocks(g.channels, [&](auto lanes, int64_t c0) MALT_ALWAYS_INLINE {
      using L = Lanes<decltype(lanes)::value>;
      typename L::Doubles sum = {};
      for (int64_t row = rows.low; row < rows.high; ++row) {
        for (int64_t col = cols.low; col < cols.high; ++col) {
          const auto pixel = load<typename L::Floats>(image + (row * g.inWidth + col) * g.channels + c0);
          sum += __builtin_convertvector(pixel, typename L::Doubles);
        }
      }
      store(target + c0, __builtin_convertvector(sum / count, typename L::Floats));
    });
  }
}

/** AvgPoolGrad of input row `inRow` of one image: the float64 sum of the covering windows' dy, times 1 / filter area. */
MALT_VECTORISED void avgPoolGradRow(const PoolGeometry& g, const float* dyImage, float* dxImage, int64_t inRow) {
  const Span outRows = coveringOutputs(inRow, g.strideHeight, g.padTop, g.filterHeight, g.outHeight);
  const double multiplier = 1.0 / static_cast<double>(g.filterHeight * g.filterWidth);
  for (int64_t inCol = 0; inCol < g.inWidth; ++inCol) {
    const Span outCols = coveringOutputs(inCol, g.strideWidth, g.padLeft, g.filterWidth, g.outWidth);
    float* dx = dxImage + (inRow * g.inWidth + inCol) * g.channels;
    forChannelBlocks(g.channels, [&](auto lanes, int64_t c0) MALT_ALWAYS_INLINE {
      using L = Lanes<decltype(lanes)::value>;
      typename L::Doubles sum = {};
      for (int64_t outRow = outRows.low; outRow < outRows.high; ++outRow) {
        for (int64_t outCol = outCols.low; outCol < outCols.high; ++outCol) {
          const auto gradient = load<typename L::Floats>(dyImage + (outRow * g.outWidth + outCol) * g.channels + c0);
          sum += __builtin_convertvector(gradient, typename L::Doubles);
        }
      }
      store(dx + c0, __builtin_convertvector(sum * multiplier, typename L::Floats));
    });
  }
}

/** Runs `row(image, rowIndex)` for every image and row, on all threads when the work is large. */
template <typename Row>
void forEachRow(int64_t batch, int64_t rowsPerImage, int64_t workPerRow, Row&& row) {
  const int64_t total = batch * rowsPerImage;
  const bool parallel = total > 1 && total * workPerRow > kParallelWork;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t index = 0; index < total; ++index) row(index / rowsPerImage, index % rowsPerImage);
}

int64_t windowWork(const PoolGeometry& g) { return g.outWidth * g.channels * g.filterHeight * g.filterWidth; }

// maxPool(x, out, geometry)
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  return guarded(info, "MaxPool", [&] {
    F32View x = floatArrayArg(info, 0, "x");
    F32View out = floatArrayArg(info, 1, "out");
    const PoolGeometry g = geometryArg(info, 2);
    requireLength(info.Env(), x.length, g.inSize(), "x");
    requireLength(info.Env(), out.length, g.outSize(), "out");
    forEachRow(g.batch, g.outHeight, windowWork(g), [&](int64_t b, int64_t outRow) {
      maxPoolRow(g, x.data + b * g.imageSize(), out.data + b * g.outImageSize(), outRow);
    });
  });
}

// maxPoolGrad(dy, x, dx, geometry); dx must arrive zero-filled (a fresh Float32Array).
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  return guarded(info, "MaxPoolGrad", [&] {
    F32View dy = floatArrayArg(info, 0, "dy");
    F32View x = floatArrayArg(info, 1, "x");
    F32View dx = floatArrayArg(info, 2, "dx");
    const PoolGeometry g = geometryArg(info, 3);
    requireLength(info.Env(), dy.length, g.outSize(), "dy");
    requireLength(info.Env(), x.length, g.inSize(), "x");
    requireLength(info.Env(), dx.length, g.inSize(), "dx");
    if (g.inHeight * g.inWidth > std::numeric_limits<int32_t>::max()) throw std::length_error("image too large for MaxPoolGrad");
    if (g.strideHeight >= g.filterHeight && g.strideWidth >= g.filterWidth) {
      forEachRow(g.batch, g.outHeight, windowWork(g), [&](int64_t b, int64_t outRow) {
        maxPoolGradDisjointRow(g, x.data + b * g.imageSize(), dy.data + b * g.outImageSize(), dx.data + b * g.imageSize(), outRow);
      });
      return;
    }
    std::vector<int32_t> positions(static_cast<size_t>(g.outSize()));
    forEachRow(g.batch, g.outHeight, windowWork(g), [&](int64_t b, int64_t outRow) {
      maxPositionsRow(g, x.data + b * g.imageSize(), positions.data() + b * g.outImageSize(), outRow);
    });
    const int64_t gatherWork = g.inWidth * g.channels * g.filterHeight * g.filterWidth;
    forEachRow(g.batch, g.inHeight, gatherWork, [&](int64_t b, int64_t inRow) {
      maxPoolGradGatherRow(g, positions.data() + b * g.outImageSize(), dy.data + b * g.outImageSize(), dx.data + b * g.imageSize(),
                           inRow);
    });
  });
}

// avgPool(x, out, geometry)
Napi::Value AvgPool(const Napi::CallbackInfo& info) {
  return guarded(info, "AvgPool", [&] {
    F32View x = floatArrayArg(info, 0, "x");
    F32View out = floatArrayArg(info, 1, "out");
    const PoolGeometry g = geometryArg(info, 2);
    requireLength(info.Env(), x.length, g.inSize(), "x");
    requireLength(info.Env(), out.length, g.outSize(), "out");
    forEachRow(g.batch, g.outHeight, windowWork(g), [&](int64_t b, int64_t outRow) {
      avgPoolRow(g, x.data + b * g.imageSize(), out.data + b * g.outImageSize(), outRow);
    });
  });
}

// avgPoolGrad(dy, dx, geometry)
Napi::Value AvgPoolGrad(const Napi::CallbackInfo& info) {
  return guarded(info, "AvgPoolGrad", [&] {
    F32View dy = floatArrayArg(info, 0, "dy");
    F32View dx = floatArrayArg(info, 1, "dx");
    const PoolGeometry g = geometryArg(info, 2);
    requireLength(info.Env(), dy.length, g.outSize(), "dy");
    requireLength(info.Env(), dx.length, g.inSize(), "dx");
    const int64_t gatherWork = g.inWidth * g.channels * g.filterHeight * g.filterWidth;
    forEachRow(g.batch, g.inHeight, gatherWork, [&](int64_t b, int64_t inRow) {
      avgPoolGradRow(g, dy.data + b * g.outImageSize(), dx.data + b * g.imageSize(), inRow);
    });
  });
}

}  // namespace

void InitPool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool", Napi::Function::New(env, MaxPool, "maxPool"));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad, "maxPoolGrad"));
  exports.Set("avgPool", Napi::Function::New(env, AvgPool, "avgPool"));
  exports.Set("avgPoolGrad", Napi::Function::New(env, AvgPoolGrad, "avgPoolGrad"));
}

}  // namespace malt
