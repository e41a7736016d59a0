// Kernel group: pool (filled in by the native-backend work).
#include "common.h"

namespace malt {

void InitPool(Napi::Env env, Napi::Object exports) {}

}  // namespace malt
