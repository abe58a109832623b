// weft::embed::Value: a script value as the host sees it, converted at the
// boundary (a deep copy), so the host never touches the runtime's
// reference-counted objects. nil, booleans, 64-bit integers, doubles,
// strings, arrays and maps (in insertion order, any key); anything else
// (a function, a future, an actor) arrives as Other, with the text Weft
// prints for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace weft::embed {

class Value {
 public:
  enum class Kind { Nil, Bool, Int, Float, String, Array, Map, Other };
  using Array = std::vector<Value>;
  using Map = std::vector<std::pair<Value, Value>>;

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : kind_(Kind::Bool), data_(b) {}
  Value(int i) : kind_(Kind::Int), data_(std::int64_t{i}) {}
  Value(std::int64_t i) : kind_(Kind::Int), data_(i) {}
  Value(double d) : kind_(Kind::Float), data_(d) {}
  Value(const char* s) : kind_(Kind::String), data_(std::string(s)) {}
  Value(std::string s) : kind_(Kind::String), data_(std::move(s)) {}
  Value(std::string_view s) : kind_(Kind::String), data_(std::string(s)) {}
  Value(Array items) : kind_(Kind::Array), data_(std::move(items)) {}
  Value(Map entries) : kind_(Kind::Map), data_(std::move(entries)) {}
  // A value with no C++ counterpart, as Weft prints it.
  static Value other(std::string description);

  Kind kind() const { return kind_; }
  bool is_nil() const { return kind_ == Kind::Nil; }

  // Each throws std::invalid_argument on a value of another kind, except
  // as_float, which also takes an Int.
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_float() const;
  const std::string& as_string() const;  // String, or Other's description
  const Array& as_array() const;
  const Map& as_map() const;

  // A map's value under the string key `key`, or null.
  const Value* find(std::string_view key) const;

  // As Weft's (str v) would print it, near enough for logs and tests.
  std::string to_string() const;

  friend bool operator==(const Value& a, const Value& b);

 private:
  Kind kind_ = Kind::Nil;
  std::variant<std::monostate, bool, std::int64_t, double, std::string, Array, Map> data_;
};

}  // namespace weft::embed
