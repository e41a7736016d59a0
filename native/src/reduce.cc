// Kernel group: reduce (filled in by the native-backend work).
#include "common.h"

namespace malt {

void InitReduce(Napi::Env env, Napi::Object exports) {}

}  // namespace malt
