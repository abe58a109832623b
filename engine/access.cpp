#include "engine/access.h"

#include <string>

#include "engine/arithmetic.h"
#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/map.h"
#include "engine/range.h"
#include "engine/resource.h"
#include "engine/string.h"

namespace weft {

namespace {

std::string key_as_text(const Value& key) {
  if (key.is(ObjType::String)) return key.as<String>()->str();
  if (key.is_int()) return std::to_string(key.as_int());
  throw_error(ExcClass::TypeException, "map keys must be Strings, got " + type_name(key));
}

Value string_char(const String& s, int64_t index) {
  int64_t n = static_cast<int64_t>(s.length());
  if (index < 0) index += n;
  if (index < 0 || index >= n) return Value();
  size_t from = s.byte_offset(static_cast<size_t>(index));
  size_t to = s.byte_offset(static_cast<size_t>(index) + 1);
  return make_string(s.view().substr(from, to - from));
}

Value exception_field(const Exception& e, const Value& key) {
  if (!key.is(ObjType::String)) return Value();
  std::string_view name = key.as<String>()->view();
  if (name == "message") return e.message();
  if (name == "type") return make_string(exc_class_name(e.cls()));
  if (name == "trace") return e.has_trace() ? e.trace() : make_array();
  if (name == "value") return e.payload();
  return Value();
}

}  // namespace

Value get_path(const Value& container, const Value& key, Reach reach) {
  if (container.is_nil()) return Value();
  if (container.is_object()) {
    switch (container.as_object()->type()) {
      case ObjType::Array:
        return key.is_int() ? container.as<Array>()->get(key.as_int(), reach) : Value();
      case ObjType::Map:
        return container.as<Map>()->get(key_as_text(key), reach);
      case ObjType::String:
        return key.is_int() ? string_char(*container.as<String>(), key.as_int()) : Value();
      case ObjType::Range: {
        if (!key.is_int()) return Value();
        const Range& r = *container.as<Range>();
        int64_t i = key.as_int();
        if (i < 0) i += r.count();
        return i < 0 || i >= r.count() ? Value() : Value::integer(r.at(i));
      }
      case ObjType::Exception:
        return exception_field(*container.as<Exception>(), key);
      case ObjType::Resource:
        return key.is(ObjType::String) ? container.as<Resource>()->field(key.as<String>()->view())
                                       : Value();
      default:
        break;
    }
  }
  throw_error(ExcClass::TypeException, "cannot index " + type_name(container));
}

void set_path(const Value& container, const Value& key, Value value, Reach reach) {
  if (container.is(ObjType::Array)) {
    if (!key.is_int()) {
      throw_error(ExcClass::TypeException, "array index must be an Int, got " + type_name(key));
    }
    container.as<Array>()->set(key.as_int(), std::move(value), reach);
    return;
  }
  if (container.is(ObjType::Map)) {
    Value k = key.is(ObjType::String) ? key : make_string(key_as_text(key));
    container.as<Map>()->set(std::move(k), std::move(value), reach);
    return;
  }
  throw_error(ExcClass::TypeException, "cannot assign into " + type_name(container));
}

Value update_path(const Value& container, const Value& key, Opcode op, const Value& operand,
                  Reach reach) {
  auto combine = [op, &operand](const Value& item) {
    int64_t sum = 0;
    if (op == Opcode::ADD && item.is_int() && operand.is_int() &&
        !__builtin_add_overflow(item.as_int(), operand.as_int(), &sum)) {
      return Value::integer(sum);  // the common `+= n` without the call
    }
    return arithmetic(op, item, operand);
  };
  if (container.is(ObjType::Array) && key.is_int()) {
    return container.as<Array>()->update(key.as_int(), combine, reach);
  }
  if (container.is(ObjType::Map)) {
    Value k = key.is(ObjType::String) ? key : make_string(key_as_text(key));
    return container.as<Map>()->update(std::move(k), combine, reach);
  }
  Value next = combine(get_path(container, key));
  set_path(container, key, next);
  return next;
}

}  // namespace weft
