// Short builders for script values in unit tests: I(1), S("x"), A({...}),
// M({{"k", v}}).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/array.h"
#include "engine/map.h"
#include "engine/string.h"
#include "engine/value.h"

namespace weft::test_values {

inline Value I(int64_t i) { return Value::integer(i); }
inline Value F(double d) { return Value::floating(d); }
inline Value B(bool b) { return Value::boolean(b); }
inline Value S(std::string_view s) { return make_string(s); }
inline Value A(std::vector<Value> items) { return make_array(std::move(items)); }
inline Value M(std::vector<std::pair<std::string, Value>> entries) {
  Value map = make_map();
  for (auto& [k, v] : entries) map.as<Map>()->set(k, std::move(v));
  return map;
}

}  // namespace weft::test_values
