// abs min max floor ceil round sqrt rand now now_ms quot range
#include <chrono>
#include <cmath>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/range.h"
#include "engine/runtime.h"
#include "engine/stdlib/stdlib.h"

namespace weft {

namespace {

const Value& number_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const Value& v = call.arg(i);
  if (!v.is_number()) {
    throw_error(ExcClass::TypeException,
                std::string(fn) + " expects a number, got " + type_name(v));
  }
  return v;
}

int64_t int_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const Value& v = call.arg(i);
  if (!v.is_int()) {
    throw_error(ExcClass::TypeException, std::string(fn) + " expects an Int, got " + type_name(v));
  }
  return v.as_int();
}

[[noreturn]] void throw_overflow() {
  throw_error(ExcClass::RuntimeException, "integer overflow");
}

Value abs_value(NativeCall& call) {
  const Value& v = number_arg(call, 0, "abs");
  if (v.is_float()) return Value::floating(std::fabs(v.as_float()));
  if (v.as_int() == INT64_MIN) throw_overflow();
  return Value::integer(v.as_int() < 0 ? -v.as_int() : v.as_int());
}

// (min a b ...) or (min array): the least by value, as it was given (an Int
// stays an Int).
Value extreme(NativeCall& call, const char* fn, int want) {
  std::vector<Value> items;
  if (call.count == 1 && call.args[0].is(ObjType::Array)) {
    items = call.args[0].as<Array>()->snapshot();
  } else if (call.count == 1 && call.args[0].is(ObjType::Range)) {
    const Range* r = call.args[0].as<Range>();
    if (r->count() > 0) {
      items.push_back(Value::integer(r->first()));
      items.push_back(Value::integer(r->at(r->count() - 1)));
    }
  } else {
    items.assign(call.args, call.args + call.count);
  }
  if (items.empty()) {
    throw_error(ExcClass::ArgumentException, std::string(fn) + " of no numbers");
  }
  size_t best = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_number()) {
      throw_error(ExcClass::TypeException,
                  std::string(fn) + " expects numbers, got " + type_name(items[i]));
    }
    if (i > 0 && compare_values(items[i], items[best]) == want) best = i;
  }
  return items[best];
}

Value min_value(NativeCall& call) {
  return extreme(call, "min", -1);
}

Value max_value(NativeCall& call) {
  return extreme(call, "max", 1);
}

Value to_int(double d, const char* fn) {
  // 2^63 is exactly representable; every double below it fits.
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
    throw_error(ExcClass::RuntimeException,
                std::string(fn) + ": " + format_float(d) + " does not fit in an Int");
  }
  return Value::integer(static_cast<int64_t>(d));
}

Value floor_value(NativeCall& call) {
  const Value& v = number_arg(call, 0, "floor");
  return v.is_int() ? v : to_int(std::floor(v.as_float()), "floor");
}

Value ceil_value(NativeCall& call) {
  const Value& v = number_arg(call, 0, "ceil");
  return v.is_int() ? v : to_int(std::ceil(v.as_float()), "ceil");
}

// Halves round away from zero.
Value round_value(NativeCall& call) {
  const Value& v = number_arg(call, 0, "round");
  return v.is_int() ? v : to_int(std::round(v.as_float()), "round");
}

Value sqrt_value(NativeCall& call) {
  return Value::floating(std::sqrt(number_arg(call, 0, "sqrt").as_number()));
}

// (rand): a Float in [0, 1); (rand n): an Int in [0, n).
Value rand_value(NativeCall& call) {
  Runtime& rt = call.runtime;
  if (call.count == 0 || call.args[0].is_nil()) {
    return Value::floating(static_cast<double>(rt.next_random() >> 11) * 0x1.0p-53);
  }
  int64_t n = int_arg(call, 0, "rand");
  if (n <= 0) {
    throw_error(ExcClass::ArgumentException,
                "rand expects a positive Int, got " + std::to_string(n));
  }
  // Rejection keeps every result equally likely.
  uint64_t bound = static_cast<uint64_t>(n);
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t r;
  do {
    r = rt.next_random();
  } while (r >= limit);
  return Value::integer(static_cast<int64_t>(r % bound));
}

Value now(NativeCall&) {
  auto since = std::chrono::system_clock::now().time_since_epoch();
  return Value::floating(std::chrono::duration<double>(since).count());
}

Value now_ms(NativeCall&) {
  auto since = std::chrono::system_clock::now().time_since_epoch();
  return Value::integer(std::chrono::duration_cast<std::chrono::milliseconds>(since).count());
}

// Integer division truncating toward zero (decision 3).
Value quot(NativeCall& call) {
  const Value& a = call.arg(0);
  const Value& b = call.arg(1);
  if (!a.is_number() || !b.is_number()) {
    throw_error(ExcClass::TypeException, "cannot divide " + type_name(a) + " and " + type_name(b));
  }
  if (a.is_int() && b.is_int()) {
    if (b.as_int() == 0) throw_error(ExcClass::RuntimeException, "division by zero");
    if (a.as_int() == INT64_MIN && b.as_int() == -1) throw_overflow();
    return Value::integer(a.as_int() / b.as_int());
  }
  if (b.as_number() == 0) throw_error(ExcClass::RuntimeException, "division by zero");
  double q = std::trunc(a.as_number() / b.as_number());
  if (!(q >= -9223372036854775808.0 && q < 9223372036854775808.0)) throw_overflow();
  return Value::integer(static_cast<int64_t>(q));
}

// (range n), (range a b), (range a b step): end exclusive (decision 9).
Value range(NativeCall& call) {
  if (call.count <= 1) return make_range(0, int_arg(call, 0, "range"), 1);
  int64_t from = int_arg(call, 0, "range");
  int64_t to = int_arg(call, 1, "range");
  int64_t step = call.count >= 3 ? int_arg(call, 2, "range") : 1;
  return make_range(from, to, step);
}

}  // namespace

void register_math_builtins(Runtime& runtime) {
  runtime.register_native("abs", abs_value, 1, 1);
  runtime.register_native("min", min_value, 1, -1);
  runtime.register_native("max", max_value, 1, -1);
  runtime.register_native("floor", floor_value, 1, 1);
  runtime.register_native("ceil", ceil_value, 1, 1);
  runtime.register_native("round", round_value, 1, 1);
  runtime.register_native("sqrt", sqrt_value, 1, 1);
  runtime.register_native("rand", rand_value, 0, 1);
  runtime.register_native("now", now, 0, 0);
  runtime.register_native("now_ms", now_ms, 0, 0);
  runtime.register_native("quot", quot, 2, 2);
  runtime.register_native("range", range, 1, 3);
}

}  // namespace weft
