// Shared plumbing of the malt-native addon: the oneDNN engine and stream, argument readers that
// name what is wrong, the error guard every entry point runs in, and a per-shape primitive cache.
#pragma once

#include <napi.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

// Our own hot loops are compiled for AVX-512, AVX2 and plain x86-64 and picked at load time, so the
// addon stays portable to any x86-64 machine (no -march=native) yet vectorises where it can.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MALT_VECTORISED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MALT_VECTORISED
#endif

namespace malt {

/** The one CPU engine and stream; oneDNN primitives run synchronously on the JS thread. */
dnnl::engine& engine();
dnnl::stream& stream();

/** Held by every entry point (see guarded). */
std::mutex& kernelMutex();

/** A float32 view of a JS Float32Array argument (the pointer includes the view's byte offset). */
struct F32View {
  float* data;
  size_t length;
};

/** Reads argument `index` as a Float32Array; throws a TypeError naming `what` otherwise. */
F32View floatArrayArg(const Napi::CallbackInfo& info, size_t index, const char* what);
/** Reads argument `index` as an Int32Array. */
struct I32View {
  int32_t* data;
  size_t length;
};
I32View intArrayArg(const Napi::CallbackInfo& info, size_t index, const char* what);
/** Reads argument `index` as an integer number. */
int64_t intArg(const Napi::CallbackInfo& info, size_t index, const char* what);
/** Reads argument `index` as a number. */
double numberArg(const Napi::CallbackInfo& info, size_t index, const char* what);
/** Reads argument `index` as a boolean. */
bool boolArg(const Napi::CallbackInfo& info, size_t index, const char* what);
/** Reads argument `index` as an array of integers (shapes, strides, paddings). */
std::vector<int64_t> intListArg(const Napi::CallbackInfo& info, size_t index, const char* what);
/** Throws a RangeError unless `view` holds exactly `expected` elements. */
void requireLength(const Napi::Env& env, size_t actual, size_t expected, const char* what);

/** Product of dims. */
int64_t elementCount(const std::vector<int64_t>& dims);

/** Joins integers into a cache key, e.g. "conv|64,28,28,1|...". */
std::string key(std::initializer_list<const std::vector<int64_t>*> parts, const std::string& tag);

/**
 * Runs `body` and turns oneDNN and C++ errors into JS errors carrying `kernel`'s name, so a
 * failure in a kernel is a catchable exception in JS instead of an aborted process.
 */
template <typename Body>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* kernel, Body&& body) {
  Napi::Env env = info.Env();
  // The shape caches are process-wide; worker_threads share them, so calls are serialised
  // (uncontended, the lock costs nanoseconds; kernels are synchronous on their JS thread anyway).
  std::lock_guard<std::mutex> lock(kernelMutex());
  try {
    body();
    return env.Undefined();
  } catch (const Napi::Error&) {
    throw;
  } catch (const dnnl::error& error) {
    throw Napi::Error::New(env, std::string("malt-native ") + kernel + ": oneDNN error " +
                                    std::to_string(static_cast<int>(error.status)) + ": " + error.what());
  } catch (const std::exception& error) {
    throw Napi::Error::New(env, std::string("malt-native ") + kernel + ": " + error.what());
  }
}

/**
 * Caches what is costly to create per shape (oneDNN primitives, their memory descriptors, weight
 * reorders): the first call for a shape costs tens of milliseconds, later ones microseconds.
 * Bounded: when full it is cleared, so a stream of ever-new shapes cannot grow memory without end.
 */
template <typename Value>
class ShapeCache {
 public:
  explicit ShapeCache(size_t capacity = 256) : capacity_(capacity) {}

  template <typename Make>
  Value& get(const std::string& cacheKey, Make&& make) {
    auto found = entries_.find(cacheKey);
    if (found != entries_.end()) return found->second;
    if (entries_.size() >= capacity_) entries_.clear();
    return entries_.emplace(cacheKey, make()).first->second;
  }

 private:
  size_t capacity_;
  std::unordered_map<std::string, Value> entries_;
};

// Each kernel group adds its functions to the addon's exports.
void InitConv(Napi::Env env, Napi::Object exports);
void InitPool(Napi::Env env, Napi::Object exports);
void InitMatMul(Napi::Env env, Napi::Object exports);
void InitElementwise(Napi::Env env, Napi::Object exports);
void InitReduce(Napi::Env env, Napi::Object exports);
void InitNorm(Napi::Env env, Napi::Object exports);
void InitOptimizer(Napi::Env env, Napi::Object exports);

}  // namespace malt
