// Kernel group: conv (filled in by the native-backend work).
#include "common.h"

namespace malt {

void InitConv(Napi::Env env, Napi::Object exports) {}

}  // namespace malt
