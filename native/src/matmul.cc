// Kernel group: matrix multiply. BatchMatMul and _FusedMatMul of TF.js run as one oneDNN matmul
// primitive (2.x op-descriptor API): transposes are expressed as strides of the plain JS arrays (no
// copies), batch broadcasting as size-1 batch dims, bias as the primitive's broadcast bias and the
// activations as eltwise post-ops. PReLU's weights broadcast more freely than a post-op allows, so
// it is our own loop over the (cache-hot) output. Primitives are cached per shape and options.
#include "common.h"

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace malt {

namespace {

using dnnl::memory;

/** Activation codes shared with src/backend/native/kernels/matmul.ts. */
enum class Activation : int64_t { Linear = 0, Relu = 1, Relu6 = 2, Elu = 3, LeakyRelu = 4, Sigmoid = 5, Prelu = 6 };

/** A matmul primitive and the user memories it runs on; the data handles are swapped in per call. */
struct MatMulPlan {
  dnnl::matmul primitive;
  memory src;
  memory weights;
  memory bias;
  memory dst;
  bool hasBias = false;
};

ShapeCache<MatMulPlan>& planCache() {
  static ShapeCache<MatMulPlan> cache;
  return cache;
}

/**
 * Dims and strides of one operand stored row-major as [groups, batches, rows, cols] (or
 * [groups, batches, cols, rows] when transposed); a broadcast batch dim has size 1. The logical
 * matrix dims are always [rows, cols]: a transpose only swaps the strides.
 */
memory::desc operandDesc(int64_t groups, int64_t batches, int64_t rows, int64_t cols, bool transposed, bool fourD) {
  const int64_t matrix = rows * cols;
  const int64_t rowStride = transposed ? 1 : cols;
  const int64_t colStride = transposed ? rows : 1;
  if (fourD) {
    return memory::desc({groups, batches, rows, cols}, memory::data_type::f32,
                        {batches * matrix, matrix, rowStride, colStride});
  }
  return memory::desc({batches, rows, cols}, memory::data_type::f32, {matrix, rowStride, colStride});
}

void appendActivation(dnnl::post_ops& ops, Activation activation, float alpha) {
  switch (activation) {
    case Activation::Relu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      break;
    case Activation::Relu6:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, 6.0f);
      break;
    case Activation::Elu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_elu, 1.0f, 0.0f);
      break;
    case Activation::LeakyRelu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, alpha, 0.0f);
      break;
    case Activation::Sigmoid:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f);
      break;
    case Activation::Linear:
    case Activation::Prelu:
      break;
  }
}

/** TF.js's prelu: x < 0 ? alpha * x : x, with alpha broadcast as [b, m, n] (each 1 or full). */
MALT_VECTORISED void applyPrelu(float* out, const float* alpha, int64_t batches, int64_t rows, int64_t cols,
                                const std::vector<int64_t>& alphaDims) {
  const int64_t batchStride = alphaDims[0] > 1 ? alphaDims[1] * alphaDims[2] : 0;
  const int64_t rowStride = alphaDims[1] > 1 ? alphaDims[2] : 0;
  const bool perColumn = alphaDims[2] > 1;
  for (int64_t b = 0; b < batches; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      float* row = out + (b * rows + r) * cols;
      const float* weights = alpha + b * batchStride + r * rowStride;
      if (perColumn) {
        for (int64_t c = 0; c < cols; ++c) row[c] = row[c] < 0.0f ? weights[c] * row[c] : row[c];
      } else {
        const float weight = weights[0];
        for (int64_t c = 0; c < cols; ++c) row[c] = row[c] < 0.0f ? weight * row[c] : row[c];
      }
    }
  }
}

bool optionalArg(const Napi::CallbackInfo& info, size_t index) {
  return index < info.Length() && !info[index].IsUndefined() && !info[index].IsNull();
}

/**
 * matMul(a, b, out, dims, transposeA, transposeB, bias?, biasDims, activation, alpha, prelu?, preluDims)
 *   dims = [groups, batches, groupsA, batchesA, groupsB, batchesB, M, K, N]: the output batch is
 *   groups × batches; an operand's groups/batches are either the output's or 1 (broadcast).
 *   biasDims / preluDims = [batch, M, N] of the bias / PReLU weights, each 1 or the output's
 *   (only with groups = 1). out holds groups × batches × M × N floats.
 */
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32View a = floatArrayArg(info, 0, "a");
  F32View b = floatArrayArg(info, 1, "b");
  F32View out = floatArrayArg(info, 2, "out");
  std::vector<int64_t> dims = intListArg(info, 3, "dims");
  if (dims.size() != 9) throw Napi::RangeError::New(env, "dims must hold 9 integers");
  const bool transposeA = boolArg(info, 4, "transposeA");
  const bool transposeB = boolArg(info, 5, "transposeB");
  const bool hasBias = optionalArg(info, 6);
  F32View bias{nullptr, 0};
  if (hasBias) bias = floatArrayArg(info, 6, "bias");
  std::vector<int64_t> biasDims = intListArg(info, 7, "biasDims");
  const int64_t activationCode = intArg(info, 8, "activation");
  const double alpha = numberArg(info, 9, "alpha");
  const bool hasPrelu = optionalArg(info, 10);
  F32View prelu{nullptr, 0};
  if (hasPrelu) prelu = floatArrayArg(info, 10, "prelu");
  std::vector<int64_t> preluDims = intListArg(info, 11, "preluDims");

  const int64_t groups = dims[0], batches = dims[1], groupsA = dims[2], batchesA = dims[3];
  const int64_t groupsB = dims[4], batchesB = dims[5], m = dims[6], k = dims[7], n = dims[8];
  for (int64_t dim : dims) {
    if (dim < 1) throw Napi::RangeError::New(env, "matMul dims must be positive");
  }
  auto broadcastable = [](int64_t operand, int64_t full) { return operand == 1 || operand == full; };
  if (!broadcastable(groupsA, groups) || !broadcastable(groupsB, groups) || !broadcastable(batchesA, batches) ||
      !broadcastable(batchesB, batches)) {
    throw Napi::RangeError::New(env, "operand batch dims must be 1 or the output's");
  }
  if (activationCode < 0 || activationCode > 6) throw Napi::RangeError::New(env, "unknown activation code");
  const auto activation = static_cast<Activation>(activationCode);
  if (biasDims.size() != 3 || preluDims.size() != 3) {
    throw Napi::RangeError::New(env, "biasDims and preluDims hold 3 integers");
  }
  const std::vector<int64_t> outDims3{batches, m, n};
  for (int i = 0; i < 3; ++i) {
    if (hasBias && !broadcastable(biasDims[i], outDims3[i])) {
      throw Napi::RangeError::New(env, "bias does not broadcast");
    }
    if (hasPrelu && !broadcastable(preluDims[i], outDims3[i])) {
      throw Napi::RangeError::New(env, "prelu weights do not broadcast");
    }
  }
  if ((hasBias || hasPrelu) && groups != 1) throw Napi::RangeError::New(env, "bias and prelu need groups = 1");
  if ((activation == Activation::Prelu) != hasPrelu) {
    throw Napi::RangeError::New(env, "prelu weights go with the prelu activation");
  }

  requireLength(env, a.length, static_cast<size_t>(groupsA * batchesA * m * k), "a");
  requireLength(env, b.length, static_cast<size_t>(groupsB * batchesB * k * n), "b");
  requireLength(env, out.length, static_cast<size_t>(groups * batches * m * n), "out");
  if (hasBias) requireLength(env, bias.length, static_cast<size_t>(elementCount(biasDims)), "bias");
  if (hasPrelu) requireLength(env, prelu.length, static_cast<size_t>(elementCount(preluDims)), "prelu");

  return guarded(info, "MatMul", [&] {
    const std::vector<int64_t> flags{transposeA, transposeB, hasBias, activationCode, omp_get_max_threads()};
    const std::vector<int64_t> noBias{};
    // The thread count is part of the key: oneDNN partitions the work for it when it creates a primitive.
    // Only leaky ReLU's alpha shapes the primitive; it is keyed exactly, as the float oneDNN gets.
    char alphaText[32] = "";
    if (activation == Activation::LeakyRelu) {
      std::snprintf(alphaText, sizeof alphaText, "%a", static_cast<double>(static_cast<float>(alpha)));
    }
    const std::string cacheKey =
        key({&dims, &flags, hasBias ? &biasDims : &noBias}, std::string("matmul|") + alphaText);
    MatMulPlan& plan = planCache().get(cacheKey, [&] {
      const bool fourD = groups > 1;
      // A is [.., M, K] (stored [.., K, M] when transposed); B is [.., K, N] (stored [.., N, K]).
      memory::desc srcDesc = operandDesc(groupsA, batchesA, m, k, transposeA, fourD);
      memory::desc weightsDesc = operandDesc(groupsB, batchesB, k, n, transposeB, fourD);
      memory::desc dstDesc = operandDesc(groups, batches, m, n, false, fourD);
      dnnl::post_ops ops;
      appendActivation(ops, activation, static_cast<float>(alpha));
      dnnl::primitive_attr attr;
      attr.set_post_ops(ops);
      MatMulPlan made;
      made.hasBias = hasBias;
      if (hasBias) {
        memory::desc biasDesc(biasDims, memory::data_type::f32, memory::format_tag::abc);
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(srcDesc, weightsDesc, biasDesc, dstDesc), attr, engine());
        made.primitive = dnnl::matmul(pd);
        made.bias = memory(biasDesc, engine(), DNNL_MEMORY_NONE);
      } else {
        dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(srcDesc, weightsDesc, dstDesc), attr, engine());
        made.primitive = dnnl::matmul(pd);
      }
      made.src = memory(srcDesc, engine(), DNNL_MEMORY_NONE);
      made.weights = memory(weightsDesc, engine(), DNNL_MEMORY_NONE);
      made.dst = memory(dstDesc, engine(), DNNL_MEMORY_NONE);
      return made;
    });
    plan.src.set_data_handle(a.data);
    plan.weights.set_data_handle(b.data);
    plan.dst.set_data_handle(out.data);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, plan.src}, {DNNL_ARG_WEIGHTS, plan.weights}, {DNNL_ARG_DST, plan.dst}};
    if (plan.hasBias) {
      plan.bias.set_data_handle(bias.data);
      args.emplace(DNNL_ARG_BIAS, plan.bias);
    }
    plan.primitive.execute(stream(), args);
    stream().wait();
    // The cached memories must not keep pointers into JS buffers past this call.
    plan.src.set_data_handle(nullptr);
    plan.weights.set_data_handle(nullptr);
    plan.dst.set_data_handle(nullptr);
    if (plan.hasBias) plan.bias.set_data_handle(nullptr);
    if (hasPrelu) applyPrelu(out.data, prelu.data, batches, m, n, preluDims);
  });
}

}  // namespace

void InitMatMul(Napi::Env env, Napi::Object exports) {
  exports.Set("matMul", Napi::Function::New(env, MatMul, "matMul"));
}

}  // namespace malt
