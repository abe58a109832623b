// Array methods of decision 28 that take no callback (.map .filter
// .reduce .each .sort_by are written in Weft), and __sort_by_keys, which
// .sort_by uses. Every method gets the receiver as args[0]; compound work
// runs on a snapshot (array.h rule 3).
#include "engine/array.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/exception.h"
#include "engine/format.h"
#include "engine/runtime.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"

namespace weft {

namespace {

Array& array_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const Value& v = call.arg(i);
  if (!v.is(ObjType::Array)) {
    throw_error(ExcClass::TypeException,
                std::string(fn) + " expects an Array, got " + type_name(v));
  }
  return *v.as<Array>();
}

int64_t int_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const Value& v = call.arg(i);
  if (!v.is_int()) {
    throw_error(ExcClass::TypeException, std::string(fn) + " expects an Int, got " + type_name(v));
  }
  return v.as_int();
}

[[noreturn]] void throw_out_of_range(int64_t index, size_t size) {
  throw_error(
      ExcClass::RuntimeException,
      "index " + std::to_string(index) + " out of range for Array of size " + std::to_string(size));
}

// A script position (negative from the end) clamped to 0..size.
size_t clamp_index(int64_t index, size_t size) {
  int64_t n = static_cast<int64_t>(size);
  if (index < 0) index += n;
  if (index < 0) return 0;
  if (index > n) return size;
  return static_cast<size_t>(index);
}

Value size(NativeCall& call) {
  return Value::integer(static_cast<int64_t>(array_arg(call, 0, "size").size()));
}

Value empty(NativeCall& call) {
  return Value::boolean(array_arg(call, 0, "empty?").size() == 0);
}

Value add(NativeCall& call) {
  array_arg(call, 0, "add").push(call.arg(1));
  return call.args[0];
}

Value pop(NativeCall& call) {
  return array_arg(call, 0, "pop").pop();
}

Value get(NativeCall& call) {
  Array& self = array_arg(call, 0, "get");
  return self.get(int_arg(call, 1, "get"));
}

// (a .set i v): replaces element i (negative from the end); an index out
// of range throws, as assigning through a path does. Gives the array.
Value set(NativeCall& call) {
  Array& self = array_arg(call, 0, "set");
  self.set(int_arg(call, 1, "set"), call.arg(2));
  return call.args[0];
}

Value first(NativeCall& call) {
  return array_arg(call, 0, "first").get(0);
}

Value last(NativeCall& call) {
  return array_arg(call, 0, "last").get(-1);
}

// Stable, in the natural order of compare_values; a new array.
Value sort(NativeCall& call) {
  std::vector<Value> items = array_arg(call, 0, "sort").snapshot();
  std::stable_sort(items.begin(), items.end(),
                   [](const Value& a, const Value& b) { return compare_values(a, b) < 0; });
  return make_array(std::move(items));
}

Value reverse(NativeCall& call) {
  std::vector<Value> items = array_arg(call, 0, "reverse").snapshot();
  std::reverse(items.begin(), items.end());
  return make_array(std::move(items));
}

// (a .slice start [end]): end exclusive, negatives from the end, clamped.
Value slice(NativeCall& call) {
  std::vector<Value> items = array_arg(call, 0, "slice").snapshot();
  size_t start = clamp_index(int_arg(call, 1, "slice"), items.size());
  size_t end = items.size();
  if (call.count >= 3 && !call.args[2].is_nil()) {
    end = clamp_index(int_arg(call, 2, "slice"), items.size());
  }
  if (end <= start) return make_array();
  return make_array(std::vector<Value>(std::make_move_iterator(items.begin() + start),
                                       std::make_move_iterator(items.begin() + end)));
}

int64_t position_of(const NativeCall& call, const char* fn) {
  std::vector<Value> items = array_arg(call, 0, fn).snapshot();
  const Value& wanted = call.arg(1);
  for (size_t i = 0; i < items.size(); ++i) {
    if (values_equal(items[i], wanted)) return static_cast<int64_t>(i);
  }
  return -1;
}

Value contains(NativeCall& call) {
  return Value::boolean(position_of(call, "contains") >= 0);
}

Value index_of(NativeCall& call) {
  return Value::integer(position_of(call, "index_of"));
}

// (a .join [sep]): printed forms, default separator "".
Value join(NativeCall& call) {
  std::vector<Value> items = array_arg(call, 0, "join").snapshot();
  std::string_view sep;
  const Value& sep_value = call.arg(1);
  if (!sep_value.is_nil()) {
    if (!sep_value.is(ObjType::String)) {
      throw_error(ExcClass::TypeException, "join expects a String, got " + type_name(sep_value));
    }
    sep = sep_value.as<String>()->view();
  }
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    append_display(out, items[i]);
  }
  return make_string(std::move(out));
}

// (a .insert i v): before position i (0..size, negative from the end);
// gives the array.
Value insert(NativeCall& call) {
  Array& self = array_arg(call, 0, "insert");
  int64_t index = int_arg(call, 1, "insert");
  if (!self.insert(index, call.arg(2))) throw_out_of_range(index, self.size());
  return call.args[0];
}

// (a .remove_at i): gives the removed item.
Value remove_at(NativeCall& call) {
  Array& self = array_arg(call, 0, "remove_at");
  int64_t index = int_arg(call, 1, "remove_at");
  Value removed;
  if (!self.remove_at(index, removed)) throw_out_of_range(index, self.size());
  return removed;
}

// (__sort_by_keys items keys): `items` stably sorted by the parallel
// `keys`; a new array.
Value sort_by_keys(NativeCall& call) {
  std::vector<Value> items = array_arg(call, 0, "__sort_by_keys").snapshot();
  std::vector<Value> keys = array_arg(call, 1, "__sort_by_keys").snapshot();
  if (items.size() != keys.size()) {
    throw_error(ExcClass::ArgumentException, "__sort_by_keys expects as many keys as items");
  }
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&keys](size_t a, size_t b) { return compare_values(keys[a], keys[b]) < 0; });
  std::vector<Value> sorted;
  sorted.reserve(items.size());
  for (size_t i : order) sorted.push_back(std::move(items[i]));
  return make_array(std::move(sorted));
}

}  // namespace

void register_array_methods(Runtime& runtime) {
  // Arities count the receiver.
  const ObjType t = ObjType::Array;
  runtime.register_native_method(t, "size", size, 1, 1);
  runtime.register_native_method(t, "empty?", empty, 1, 1);
  runtime.register_native_method(t, "add", add, 2, 2);
  runtime.register_native_method(t, "append", add, 2, 2);
  runtime.register_native_method(t, "pop", pop, 1, 1);
  runtime.register_native_method(t, "get", get, 2, 2);
  runtime.register_native_method(t, "set", set, 3, 3);
  runtime.register_native_method(t, "first", first, 1, 1);
  runtime.register_native_method(t, "last", last, 1, 1);
  runtime.register_native_method(t, "sort", sort, 1, 1);
  runtime.register_native_method(t, "reverse", reverse, 1, 1);
  runtime.register_native_method(t, "slice", slice, 2, 3);
  runtime.register_native_method(t, "contains", contains, 2, 2);
  runtime.register_native_method(t, "index_of", index_of, 2, 2);
  runtime.register_native_method(t, "join", join, 1, 2);
  runtime.register_native_method(t, "insert", insert, 3, 3);
  runtime.register_native_method(t, "remove_at", remove_at, 2, 2);
  runtime.register_native("__sort_by_keys", sort_by_keys, 2, 2);
}

}  // namespace weft
