// Entry point of the malt-native addon: argument helpers shared by the kernel groups, the thread
// knob, version information, and the registration of every kernel group's functions.
#include "common.h"

#include <omp.h>

#include <stdexcept>

namespace malt {

dnnl::engine& engine() {
  static dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
  return cpu;
}

std::mutex& kernelMutex() {
  static std::mutex mutex;
  return mutex;
}

dnnl::stream& stream() {
  static dnnl::stream cpuStream(engine());
  return cpuStream;
}

static Napi::Value argument(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (index >= info.Length()) {
    throw Napi::TypeError::New(info.Env(), std::string("missing argument ") + std::to_string(index) + " (" + what + ")");
  }
  return info[index];
}

F32View floatArrayArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  Napi::Value value = argument(info, index, what);
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Float32Array");
  }
  auto array = value.As<Napi::Float32Array>();
  return {array.Data(), array.ElementLength()};
}

I32View intArrayArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  Napi::Value value = argument(info, index, what);
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an Int32Array");
  }
  auto array = value.As<Napi::Int32Array>();
  return {array.Data(), array.ElementLength()};
}

int64_t intArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  Napi::Value value = argument(info, index, what);
  if (!value.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double number = value.As<Napi::Number>().DoubleValue();
  auto integer = static_cast<int64_t>(number);
  if (static_cast<double>(integer) != number) {
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an integer");
  }
  return integer;
}

double numberArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  Napi::Value value = argument(info, index, what);
  if (!value.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

bool boolArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  Napi::Value value = argument(info, index, what);
  if (!value.IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::vector<int64_t> intListArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  Napi::Value value = argument(info, index, what);
  if (!value.IsArray()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an array of integers");
  auto array = value.As<Napi::Array>();
  std::vector<int64_t> result(array.Length());
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value item = array.Get(i);
    if (!item.IsNumber()) {
      throw Napi::TypeError::New(info.Env(), std::string(what) + "[" + std::to_string(i) + "] must be a number");
    }
    result[i] = item.As<Napi::Number>().Int64Value();
  }
  return result;
}

void requireLength(const Napi::Env& env, size_t actual, size_t expected, const char* what) {
  if (actual != expected) {
    throw Napi::RangeError::New(env, std::string(what) + " has " + std::to_string(actual) + " elements, expected " +
                                         std::to_string(expected));
  }
}

int64_t elementCount(const std::vector<int64_t>& dims) {
  int64_t count = 1;
  for (int64_t dim : dims) count *= dim;
  return count;
}

std::string key(std::initializer_list<const std::vector<int64_t>*> parts, const std::string& tag) {
  std::string result = tag;
  for (const auto* part : parts) {
    result += '|';
    for (int64_t value : *part) {
      result += std::to_string(value);
      result += ',';
    }
  }
  return result;
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t threads = intArg(info, 0, "threads");
  if (threads < 1) throw Napi::RangeError::New(info.Env(), "threads must be at least 1");
  omp_set_num_threads(static_cast<int>(threads));
  return info.Env().Undefined();
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), omp_get_max_threads());
}

static Napi::Value Versions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dnnl_version_t* version = dnnl_version();
  Napi::Object result = Napi::Object::New(env);
  result.Set("onednn", std::to_string(version->major) + "." + std::to_string(version->minor) + "." +
                           std::to_string(version->patch));
  result.Set("cpuRuntime", version->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
  return result;
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("versions", Napi::Function::New(env, Versions, "versions"));
  InitConv(env, exports);
  InitPool(env, exports);
  InitMatMul(env, exports);
  InitElementwise(env, exports);
  InitReduce(env, exports);
  InitNorm(env, exports);
  InitOptimizer(env, exports);
  return exports;
}

}  // namespace malt

// NODE_API_MODULE pastes its second argument into an identifier, so it needs an unqualified name.
static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return malt::Init(env, exports); }

NODE_API_MODULE(malt_native, InitAddon)
