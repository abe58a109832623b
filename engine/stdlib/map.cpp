// Map methods of decision 29 that take no callback (.map .filter .reduce
// .each are written in Weft), and the Range methods .size .to_a .contains.
// Every method gets the receiver as args[0].
#include "engine/map.h"

#include <cmath>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/range.h"
#include "engine/runtime.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"

namespace weft {

namespace {

// A range larger than this is not made into an array (16 bytes a number).
constexpr int64_t kMaxRangeArray = int64_t{1} << 27;

Map& map_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const Value& v = call.arg(i);
  if (!v.is(ObjType::Map)) {
    throw_error(ExcClass::TypeException, std::string(fn) + " expects a Map, got " + type_name(v));
  }
  return *v.as<Map>();
}

// Decision 11.
const Value& key_arg(const NativeCall& call, uint32_t i) {
  const Value& v = call.arg(i);
  if (!v.is(ObjType::String)) {
    throw_error(ExcClass::TypeException, "map keys must be Strings, got " + type_name(v));
  }
  return v;
}

std::string_view key_text(const Value& key) {
  return key.as<String>()->view();
}

Value size(NativeCall& call) {
  return Value::integer(static_cast<int64_t>(map_arg(call, 0, "size").size()));
}

Value keys(NativeCall& call) {
  return make_array(map_arg(call, 0, "keys").keys());
}

Value values(NativeCall& call) {
  return make_array(map_arg(call, 0, "values").values());
}

Value contains(NativeCall& call) {
  Map& self = map_arg(call, 0, "contains");
  return Value::boolean(self.contains(key_text(key_arg(call, 1))));
}

// (m .get k [default])
Value get(NativeCall& call) {
  Map& self = map_arg(call, 0, "get");
  Value out;
  if (self.find(key_text(key_arg(call, 1)), out)) return out;
  return call.arg(2);
}

// (m .set k v): gives the map.
Value set(NativeCall& call) {
  Map& self = map_arg(call, 0, "set");
  self.set(key_arg(call, 1), call.arg(2));
  return call.args[0];
}

// (m .delete k): gives the removed value, or nil.
Value erase(NativeCall& call) {
  Map& self = map_arg(call, 0, "delete");
  Value removed;
  self.erase(key_text(key_arg(call, 1)), &removed);
  return removed;
}

const Range& range_arg(const NativeCall& call, const char* fn) {
  const Value& v = call.arg(0);
  if (!v.is(ObjType::Range)) {
    throw_error(ExcClass::TypeException, std::string(fn) + " expects a Range, got " + type_name(v));
  }
  return *v.as<Range>();
}

Value range_size(NativeCall& call) {
  return Value::integer(range_arg(call, "size").count());
}

Value range_to_a(NativeCall& call) {
  const Range& r = range_arg(call, "to_a");
  if (r.count() > kMaxRangeArray) {
    throw_error(ExcClass::RuntimeException,
                "range of " + std::to_string(r.count()) + " items is too large for an Array");
  }
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(r.count()));
  for (int64_t i = 0; i < r.count(); ++i) items.push_back(Value::integer(r.at(i)));
  return make_array(std::move(items));
}

// Numbers only; a Float counts when it is integral.
Value range_contains(NativeCall& call) {
  const Range& r = range_arg(call, "contains");
  const Value& v = call.arg(1);
  int64_t n;
  if (v.is_int()) {
    n = v.as_int();
  } else if (v.is_float() && std::trunc(v.as_float()) == v.as_float() &&
             v.as_float() >= -9223372036854775808.0 && v.as_float() < 9223372036854775808.0) {
    n = static_cast<int64_t>(v.as_float());
  } else {
    return Value::boolean(false);
  }
  if (r.count() == 0) return Value::boolean(false);
  __int128 offset = static_cast<__int128>(n) - r.first();
  if (offset % r.step() != 0) return Value::boolean(false);
  __int128 index = offset / r.step();
  return Value::boolean(index >= 0 && index < r.count());
}

}  // namespace

void register_map_methods(Runtime& runtime) {
  // Arities count the receiver.
  const ObjType t = ObjType::Map;
  runtime.register_native_method(t, "size", size, 1, 1);
  runtime.register_native_method(t, "keys", keys, 1, 1);
  runtime.register_native_method(t, "values", values, 1, 1);
  runtime.register_native_method(t, "contains", contains, 2, 2);
  runtime.register_native_method(t, "get", get, 2, 3);
  runtime.register_native_method(t, "set", set, 3, 3);
  runtime.register_native_method(t, "delete", erase, 2, 2);
  runtime.register_native_method(ObjType::Range, "size", range_size, 1, 1);
  runtime.register_native_method(ObjType::Range, "to_a", range_to_a, 1, 1);
  runtime.register_native_method(ObjType::Range, "contains", range_contains, 2, 2);
}

}  // namespace weft
