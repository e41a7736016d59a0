// Kernel group: elementwise (filled in by the native-backend work).
#include "common.h"

namespace malt {

void InitElementwise(Napi::Env env, Napi::Object exports) {}

}  // namespace malt
