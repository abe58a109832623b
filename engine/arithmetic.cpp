#include "engine/arithmetic.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/string.h"

namespace weft {

namespace {

const char* verb_for(Opcode op) {
  switch (op) {
    case Opcode::ADD:
      return "add";
    case Opcode::SUB:
      return "subtract";
    case Opcode::MUL:
      return "multiply";
    case Opcode::DIV:
      return "divide";
    default:
      return "take modulo of";
  }
}

double floored_fmod(double a, double b) {
  double r = std::fmod(a, b);
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

}  // namespace

[[noreturn]] void throw_integer_overflow() {
  throw_error(ExcClass::RuntimeException, "integer overflow");
}
[[noreturn]] void throw_division_by_zero() {
  throw_error(ExcClass::RuntimeException, "division by zero");
}

int64_t floored_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;  // INT64_MIN % -1 traps in C++
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

Value arithmetic(Opcode op, const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) {
      int64_t x = a.as_int();
      int64_t y = b.as_int();
      int64_t r = 0;
      switch (op) {
        case Opcode::ADD:
          if (__builtin_add_overflow(x, y, &r)) throw_integer_overflow();
          return Value::integer(r);
        case Opcode::SUB:
          if (__builtin_sub_overflow(x, y, &r)) throw_integer_overflow();
          return Value::integer(r);
        case Opcode::MUL:
          if (__builtin_mul_overflow(x, y, &r)) throw_integer_overflow();
          return Value::integer(r);
        case Opcode::DIV:
          if (y == 0) throw_division_by_zero();
          return Value::floating(static_cast<double>(x) / static_cast<double>(y));
        default:
          if (y == 0) throw_division_by_zero();
          return Value::integer(floored_mod(x, y));
      }
    }
    double x = a.as_number();
    double y = b.as_number();
    switch (op) {
      case Opcode::ADD:
        return Value::floating(x + y);
      case Opcode::SUB:
        return Value::floating(x - y);
      case Opcode::MUL:
        return Value::floating(x * y);
      case Opcode::DIV:
        if (y == 0) throw_division_by_zero();
        return Value::floating(x / y);
      default:
        if (y == 0) throw_division_by_zero();
        return Value::floating(floored_fmod(x, y));
    }
  }
  if (op == Opcode::ADD) {
    if (a.is(ObjType::String) && b.is(ObjType::String)) {
      std::string joined = a.as<String>()->str();
      joined += b.as<String>()->view();
      return make_string(std::move(joined));
    }
    if (a.is(ObjType::Array) && b.is(ObjType::Array)) {
      std::vector<Value> items = a.as<Array>()->snapshot();
      std::vector<Value> more = b.as<Array>()->snapshot();
      items.insert(items.end(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
      return make_array(std::move(items));
    }
  }
  throw_error(ExcClass::TypeException,
              std::string("cannot ") + verb_for(op) + " " + type_name(a) + " and " + type_name(b));
}

}  // namespace weft
