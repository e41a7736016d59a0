// Kernel group: norm (filled in by the native-backend work).
#include "common.h"

namespace malt {

void InitNorm(Napi::Env env, Napi::Object exports) {}

}  // namespace malt
