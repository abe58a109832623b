// weft::embed::Value's methods and its conversions to and from the
// runtime's values.
#include "engine/embed_value.h"

#include <stdexcept>

#include "engine/array.h"
#include "engine/format.h"
#include "engine/map.h"
#include "engine/string.h"

namespace weft {

namespace embed {

namespace {

[[noreturn]] void wrong_kind(const char* wanted) {
  throw std::invalid_argument(std::string("weft::embed::Value is not ") + wanted);
}

}  // namespace

Value Value::other(std::string description) {
  Value v;
  v.kind_ = Kind::Other;
  v.data_ = std::move(description);
  return v;
}

bool Value::as_bool() const {
  if (kind_ != Kind::Bool) wrong_kind("a Bool");
  return std::get<bool>(data_);
}

std::int64_t Value::as_int() const {
  if (kind_ != Kind::Int) wrong_kind("an Int");
  return std::get<std::int64_t>(data_);
}

double Value::as_float() const {
  if (kind_ == Kind::Int) return static_cast<double>(std::get<std::int64_t>(data_));
  if (kind_ != Kind::Float) wrong_kind("a number");
  return std::get<double>(data_);
}

const std::string& Value::as_string() const {
  if (kind_ != Kind::String && kind_ != Kind::Other) wrong_kind("a String");
  return std::get<std::string>(data_);
}

const Value::Array& Value::as_array() const {
  if (kind_ != Kind::Array) wrong_kind("an Array");
  return std::get<Array>(data_);
}

const Value::Map& Value::as_map() const {
  if (kind_ != Kind::Map) wrong_kind("a Map");
  return std::get<Map>(data_);
}

const Value* Value::find(std::string_view key) const {
  if (kind_ != Kind::Map) return nullptr;
  for (const auto& [k, v] : std::get<Map>(data_)) {
    if (k.kind_ == Kind::String && std::get<std::string>(k.data_) == key) return &v;
  }
  return nullptr;
}

std::string Value::to_string() const {
  return display(from_host_value(*this));
}

bool operator==(const Value& a, const Value& b) {
  return a.kind_ == b.kind_ && a.data_ == b.data_;
}

}  // namespace embed

embed::Value to_host_value(const Value& value) {
  if (value.is_nil() || value.is_missing()) return embed::Value();
  if (value.is_bool()) return embed::Value(value.as_bool());
  if (value.is_int()) return embed::Value(value.as_int());
  if (value.is_float()) return embed::Value(value.as_float());
  if (value.is(ObjType::String)) return embed::Value(value.as<String>()->str());
  if (value.is(ObjType::Array)) {
    embed::Value::Array items;
    for (const Value& item : value.as<Array>()->snapshot()) items.push_back(to_host_value(item));
    return embed::Value(std::move(items));
  }
  if (value.is(ObjType::Map)) {
    embed::Value::Map entries;
    for (const auto& [k, v] : value.as<Map>()->entries()) {
      entries.emplace_back(to_host_value(k), to_host_value(v));
    }
    return embed::Value(std::move(entries));
  }
  return embed::Value::other(display(value));
}

Value from_host_value(const embed::Value& value) {
  switch (value.kind()) {
    case embed::Value::Kind::Nil:
      return Value();
    case embed::Value::Kind::Bool:
      return Value::boolean(value.as_bool());
    case embed::Value::Kind::Int:
      return Value::integer(value.as_int());
    case embed::Value::Kind::Float:
      return Value::floating(value.as_float());
    case embed::Value::Kind::String:
    case embed::Value::Kind::Other:
      return make_string(value.as_string());
    case embed::Value::Kind::Array: {
      std::vector<Value> items;
      items.reserve(value.as_array().size());
      for (const embed::Value& item : value.as_array()) items.push_back(from_host_value(item));
      return make_array(std::move(items));
    }
    case embed::Value::Kind::Map: {
      Value map = make_map();
      for (const auto& [k, v] : value.as_map()) {
        map.as<Map>()->set(from_host_value(k), from_host_value(v));
      }
      return map;
    }
  }
  return Value();
}

}  // namespace weft
