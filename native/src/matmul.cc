// Kernel group: matmul (filled in by the native-backend work).
#include "common.h"

namespace malt {

void InitMatMul(Napi::Env env, Napi::Object exports) {}

}  // namespace malt
