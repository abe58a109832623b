// Conversions between the runtime's values and the embedding API's
// weft::embed::Value (include/weft/value.h): deep copies, by recursion over
// the value (a host exchanges data, not deeply nested structures).
#pragma once

#include "engine/value.h"
#include "weft/value.h"

namespace weft {

embed::Value to_host_value(const Value& value);
Value from_host_value(const embed::Value& value);

}  // namespace weft
