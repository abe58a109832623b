// Reading and writing through paths (a/0, m/key, s/-1, $ex/message), shared
// by the interpreter's GETFIELD/SETFIELD family and the stdlib.
#pragma once

#include "engine/value.h"

namespace weft {

// Gives nil for a missing key or index and for any path on nil; throws
// TypeException for values that cannot be indexed ("cannot index Int").
Value get_path(const Value& container, const Value& key);

// Array index (negative from the end; out of range throws) or map key
// (added when new). Throws TypeException for anything else.
void set_path(const Value& container, const Value& key, Value value);

}  // namespace weft
