// Kernel group: reductions (Sum, Mean, Prod, Max, Min over any set of axes; ArgMax, ArgMin over one).
// TF.js's CPU kernels transpose the reduced axes innermost and then reduce each output's values in
// row-major order of the reduced axes, summing in float64. A single row-major pass over the input
// with one accumulator per output visits each output's values in exactly that order, so our sums
// are the same float64 sums — bit for bit — without the transpose. Threads split the outputs (never
// one output's values), which keeps that order: the first kept dim is divided among them.
#include "common.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace malt {

namespace {

/** Reduction codes shared with src/backend/native/kernels/reduce.ts. */
enum class Reduction : int64_t { Sum = 0, Mean = 1, Prod = 2, Max = 3, Min = 4 };

/** Columns whose accumulators stay in registers while rows stream past (two AVX-512 registers of doubles). */
constexpr int kBlock = 16;

/**
 * Below this many input elements (about 10 µs of work) one thread is quicker than waking the
 * others; on a busy machine a woken thread can wait long for a core, so the bar is high.
 */
constexpr int64_t kParallelThreshold = 1 << 18;

/** Input dims with runs of reduced / kept dims merged and size-1 dims dropped (they change no order). */
struct Collapsed {
  std::vector<int64_t> dims;
  std::vector<bool> reduced;
};

Collapsed collapse(const std::vector<int64_t>& shape, const std::vector<bool>& reducedAxis) {
  Collapsed result;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (!result.dims.empty() && result.reduced.back() == reducedAxis[i]) {
      result.dims.back() *= shape[i];
    } else {
      result.dims.push_back(shape[i]);
      result.reduced.push_back(reducedAxis[i]);
    }
  }
  return result;
}

// The accumulation steps, exactly as the CPU kernels write them: sums and products in double;
// max/min take a NaN and then keep it (a comparison with NaN is false), ties keep the earlier value.
struct SumStep {
  using Acc = double;
  static Acc step(Acc acc, float value) { return acc + static_cast<double>(value); }
};
struct ProdStep {
  using Acc = double;
  static Acc step(Acc acc, float value) { return acc * static_cast<double>(value); }
};
struct MaxStep {
  using Acc = float;
  static Acc step(Acc acc, float value) { return (value != value || value > acc) ? value : acc; }
};
struct MinStep {
  using Acc = float;
  static Acc step(Acc acc, float value) { return (value != value || value < acc) ? value : acc; }
};
/** Mean: the CPU kernel divides every value by the count in float32 first, then sums in double. */
struct MeanStep {
  using Acc = double;
  float count;
  Acc step(Acc acc, float value) const { return acc + static_cast<double>(value / count); }
};

/**
 * Walks the input in row-major order from `level` on, adding each value to its output's
 * accumulator. Dim `splitLevel` is restricted to [splitBegin, splitEnd) (a thread's share).
 */
template <typename Step>
struct Walker {
  const Collapsed& shape;
  const std::vector<int64_t>& inStrides;
  const std::vector<int64_t>& outStrides;  // 0 for reduced dims
  const float* input;
  typename Step::Acc* acc;
  Step stepper;
  size_t splitLevel;
  int64_t splitBegin;
  int64_t splitEnd;

  /** The last dim: a run of one output's values, or one value for each of a run of outputs. */
  MALT_VECTORISED void innermost(const float* in, typename Step::Acc* out, int64_t begin, int64_t end,
                                 bool reduced) const {
    if (reduced) {
      typename Step::Acc value = *out;
      for (int64_t j = begin; j < end; ++j) value = stepper.step(value, in[j]);
      *out = value;
    } else {
      for (int64_t j = begin; j < end; ++j) out[j] = stepper.step(out[j], in[j]);
    }
  }

  /**
   * Rows that all feed the same outputs (a reduced dim over a kept innermost dim, e.g. the bias
   * gradient's [N·H·W, C]): blocks of columns keep their accumulators in registers across all
   * rows, instead of a load and store per value. Each column still takes its rows in order.
   */
  MALT_VECTORISED void accumulateRows(const float* in, int64_t rowStride, int64_t rows, typename Step::Acc* out,
                                      int64_t begin, int64_t end) const {
    using Acc = typename Step::Acc;
    int64_t column = begin;
    for (; column + kBlock <= end; column += kBlock) {
      Acc local[kBlock];
      for (int c = 0; c < kBlock; ++c) local[c] = out[column + c];
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = in + r * rowStride + column;
        for (int c = 0; c < kBlock; ++c) local[c] = stepper.step(local[c], row[c]);
      }
      for (int c = 0; c < kBlock; ++c) out[column + c] = local[c];
    }
    if (column < end) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* row = in + r * rowStride;
        for (int64_t c = column; c < end; ++c) out[c] = stepper.step(out[c], row[c]);
      }
    }
  }

  std::pair<int64_t, int64_t> range(size_t level) const {
    if (level == splitLevel) return {splitBegin, splitEnd};
    return {0, shape.dims[level]};
  }

  void walk(size_t level, int64_t inOffset, int64_t outOffset) const {
    const auto [begin, end] = range(level);
    const size_t rank = shape.dims.size();
    if (level + 1 == rank) {
      innermost(input + inOffset, acc + outOffset, begin, end, shape.reduced[level]);
      return;
    }
    if (level + 2 == rank) {
      // The last two dims in one loop nest: many short rows (e.g. [N·H·W, C]) cost no call each.
      const auto [innerBegin, innerEnd] = range(level + 1);
      const bool innerReduced = shape.reduced[level + 1];
      if (shape.reduced[level] && !innerReduced) {
        accumulateRows(input + inOffset + begin * inStrides[level], inStrides[level], end - begin, acc + outOffset,
                       innerBegin, innerEnd);
        return;
      }
      for (int64_t i = begin; i < end; ++i) {
        innermost(input + inOffset + i * inStrides[level], acc + outOffset + i * outStrides[level], innerBegin,
                  innerEnd, innerReduced);
      }
      return;
    }
    for (int64_t i = begin; i < end; ++i) {
      walk(level + 1, inOffset + i * inStrides[level], outOffset + i * outStrides[level]);
    }
  }
};

template <typename Step>
void reduceWith(const Collapsed& shape, const float* input, float* output, int64_t outputCount,
                typename Step::Acc initial, Step stepper) {
  std::vector<typename Step::Acc> acc(static_cast<size_t>(outputCount), initial);
  if (shape.dims.empty()) {
    // Every dim has size 1: one value, one output.
    acc[0] = stepper.step(acc[0], input[0]);
  } else {
    const size_t rank = shape.dims.size();
    std::vector<int64_t> inStrides(rank), outStrides(rank);
    int64_t inStride = 1, outStride = 1;
    for (size_t i = rank; i-- > 0;) {
      inStrides[i] = inStride;
      inStride *= shape.dims[i];
      outStrides[i] = shape.reduced[i] ? 0 : outStride;
      if (!shape.reduced[i]) outStride *= shape.dims[i];
    }
    // Threads share the first kept dim: the dims before it are all reduced, so distinct indices of
    // it are distinct outputs, and each output's values are still visited in order by one thread.
    size_t splitLevel = 0;
    while (splitLevel < rank && shape.reduced[splitLevel]) ++splitLevel;
    const int64_t total = inStride;
    if (splitLevel == rank) {
      // A full reduction: one output, one ordered pass.
      Walker<Step> walker{shape, inStrides, outStrides, input, acc.data(), stepper, rank, 0, 0};
      walker.walk(0, 0, 0);
    } else {
      const int64_t splitSize = shape.dims[splitLevel];
      // Splitting the innermost dim pays only in whole register blocks: a thread with a narrower
      // share is bound by the same add latency down its columns as one thread with all of them.
      const int64_t grain = splitLevel + 1 == rank ? kBlock : 1;
      const int64_t units = (splitSize + grain - 1) / grain;
      const int threads = total >= kParallelThreshold ? std::min<int64_t>(omp_get_max_threads(), units) : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
      {
        const int64_t thread = omp_get_thread_num();
        const int64_t count = omp_get_num_threads();
        const int64_t begin = std::min(splitSize, grain * (units * thread / count));
        const int64_t end = std::min(splitSize, grain * (units * (thread + 1) / count));
        if (begin < end) {
          Walker<Step> walker{shape, inStrides, outStrides, input, acc.data(), stepper, splitLevel, begin, end};
          walker.walk(0, 0, 0);
        }
      }
    }
  }
  for (int64_t i = 0; i < outputCount; ++i) output[i] = static_cast<float>(acc[i]);
}

/** Reads shape and axes and checks them; returns whether each axis is reduced. */
std::vector<bool> reducedAxes(const Napi::Env& env, const std::vector<int64_t>& shape,
                              const std::vector<int64_t>& axes) {
  std::vector<bool> reduced(shape.size(), false);
  for (int64_t axis : axes) {
    if (axis < 0 || axis >= static_cast<int64_t>(shape.size())) throw Napi::RangeError::New(env, "axis out of range");
    if (reduced[axis]) throw Napi::RangeError::New(env, "axis listed twice");
    reduced[axis] = true;
  }
  for (int64_t dim : shape) {
    if (dim < 1) throw Napi::RangeError::New(env, "dims must be positive");
  }
  return reduced;
}

/** reduce(op, x, out, shape, axes): out holds the product of the kept dims. */
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t op = intArg(info, 0, "op");
  F32View x = floatArrayArg(info, 1, "x");
  F32View out = floatArrayArg(info, 2, "out");
  std::vector<int64_t> shape = intListArg(info, 3, "shape");
  std::vector<int64_t> axes = intListArg(info, 4, "axes");
  std::vector<bool> reduced = reducedAxes(env, shape, axes);
  int64_t outputCount = 1, reduceCount = 1;
  for (size_t i = 0; i < shape.size(); ++i) (reduced[i] ? reduceCount : outputCount) *= shape[i];
  requireLength(env, x.length, static_cast<size_t>(outputCount * reduceCount), "x");
  requireLength(env, out.length, static_cast<size_t>(outputCount), "out");
  if (op < 0 || op > 4) throw Napi::RangeError::New(env, "unknown reduction");
  return guarded(info, "Reduce", [&] {
    const Collapsed collapsed = collapse(shape, reduced);
    switch (static_cast<Reduction>(op)) {
      case Reduction::Sum:
        reduceWith(collapsed, x.data, out.data, outputCount, 0.0, SumStep{});
        break;
      case Reduction::Mean:
        reduceWith(collapsed, x.data, out.data, outputCount, 0.0, MeanStep{static_cast<float>(reduceCount)});
        break;
      case Reduction::Prod:
        reduceWith(collapsed, x.data, out.data, outputCount, 1.0, ProdStep{});
        break;
      case Reduction::Max:
        // Starting from -inf and taking every value is the CPU kernel's "start at the first value".
        reduceWith(collapsed, x.data, out.data, outputCount, -std::numeric_limits<float>::infinity(), MaxStep{});
        break;
      case Reduction::Min:
        reduceWith(collapsed, x.data, out.data, outputCount, std::numeric_limits<float>::infinity(), MinStep{});
        break;
    }
  });
}

/**
 * Index of the first maximum (minimum) along the middle dim of one [length, inner] slab, for the
 * columns [begin, end), as the CPU kernel finds it: start at the first value, move only on a
 * strictly greater (smaller) one, so a NaN is never chosen unless it is first, and then it stays.
 */
template <bool kMax>
MALT_VECTORISED void argReduceSlab(const float* slab, int32_t* indices, float* bestOf, int64_t length, int64_t inner,
                                   int64_t begin, int64_t end) {
  if (inner == 1) {
    float best = slab[0];
    int32_t bestIndex = 0;
    for (int64_t j = 1; j < length; ++j) {
      const float value = slab[j];
      if (kMax ? value > best : value < best) {
        best = value;
        bestIndex = static_cast<int32_t>(j);
      }
    }
    indices[0] = bestIndex;
    return;
  }
  std::copy(slab + begin, slab + end, bestOf + begin);
  std::fill(indices + begin, indices + end, 0);
  for (int64_t j = 1; j < length; ++j) {
    const float* row = slab + j * inner;
    for (int64_t i = begin; i < end; ++i) {
      const bool better = kMax ? row[i] > bestOf[i] : row[i] < bestOf[i];
      bestOf[i] = better ? row[i] : bestOf[i];
      indices[i] = better ? static_cast<int32_t>(j) : indices[i];
    }
  }
}

/** Arg-reduces [outer, length, inner]; threads take slabs, or column ranges when slabs are few. */
template <bool kMax>
void argReduce(const float* x, int32_t* out, int64_t outer, int64_t length, int64_t inner) {
  const int threads = outer * length * inner >= kParallelThreshold ? omp_get_max_threads() : 1;
  const int64_t chunks = threads > 1 && outer < threads ? std::min<int64_t>(inner, threads) : 1;
  const int64_t items = outer * chunks;
  // The running best values, allocated here: nothing may throw inside the parallel region.
  std::vector<float> best(static_cast<size_t>(inner > 1 ? outer * inner : 0));
#pragma omp parallel for num_threads(threads) if (threads > 1 && items > 1) schedule(static)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t o = item / chunks, chunk = item % chunks;
    argReduceSlab<kMax>(x + o * length * inner, out + o * inner, inner > 1 ? best.data() + o * inner : nullptr, length,
                        inner, inner * chunk / chunks, inner * (chunk + 1) / chunks);
  }
}

/** argReduce(isMax, x, out, [outer, length, inner]): out is an Int32Array of outer × inner. */
Napi::Value ArgReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool isMax = boolArg(info, 0, "isMax");
  F32View x = floatArrayArg(info, 1, "x");
  I32View out = intArrayArg(info, 2, "out");
  std::vector<int64_t> dims = intListArg(info, 3, "dims");
  if (dims.size() != 3 || dims[0] < 1 || dims[1] < 1 || dims[2] < 1) {
    throw Napi::RangeError::New(env, "dims must be 3 positive integers [outer, length, inner]");
  }
  requireLength(env, x.length, static_cast<size_t>(elementCount(dims)), "x");
  requireLength(env, out.length, static_cast<size_t>(dims[0] * dims[2]), "out");
  return guarded(info, isMax ? "ArgMax" : "ArgMin", [&] {
    if (isMax) {
      argReduce<true>(x.data, out.data, dims[0], dims[1], dims[2]);
    } else {
      argReduce<false>(x.data, out.data, dims[0], dims[1], dims[2]);
    }
  });
}

}  // namespace

void InitReduce(Napi::Env env, Napi::Object exports) {
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
  exports.Set("argReduce", Napi::Function::New(env, ArgReduce, "argReduce"));
}

}  // namespace malt
