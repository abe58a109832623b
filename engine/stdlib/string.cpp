// String methods (LANGUAGE.md section 3, decision 13) and str/join.
// Every method gets the receiver as args[0]. Sizes and indexes count code
// points; String::byte_offset turns one into a byte position.
#include "engine/string.h"

#include <charconv>
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

constexpr size_t kMaxStringBytes = size_t{1} << 30;

const String& string_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const Value& v = call.arg(i);
  if (!v.is(ObjType::String)) {
    throw_error(ExcClass::TypeException,
                std::string(fn) + " expects a String, got " + type_name(v));
  }
  return *v.as<String>();
}

int64_t int_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const Value& v = call.arg(i);
  if (!v.is_int()) {
    throw_error(ExcClass::TypeException, std::string(fn) + " expects an Int, got " + type_name(v));
  }
  return v.as_int();
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim_view(std::string_view s) {
  size_t begin = 0;
  size_t end = s.size();
  while (begin < end && is_space(s[begin])) ++begin;
  while (end > begin && is_space(s[end - 1])) --end;
  return s.substr(begin, end - begin);
}

// Drops one leading '+'; false when what is left cannot be a number.
bool strip_plus(std::string_view& text) {
  if (!text.empty() && text[0] == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text[0] == '+' || text[0] == '-')) return false;
  }
  return !text.empty();
}

// Byte length of the UTF-8 sequence that starts with `lead`.
size_t sequence_length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// The code points of `s`, each as a view.
std::vector<std::string_view> code_points(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t n = 1;
    size_t limit = std::min(sequence_length(static_cast<unsigned char>(s[i])), s.size() - i);
    while (n < limit && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

Value chars_array(std::string_view s) {
  std::vector<Value> items;
  for (std::string_view c : code_points(s)) items.push_back(make_string(c));
  return make_array(std::move(items));
}

// A code point index as given by a script (negative from the end), clamped
// to 0..length.
size_t clamp_index(int64_t index, size_t length) {
  int64_t n = static_cast<int64_t>(length);
  if (index < 0) index += n;
  if (index < 0) return 0;
  if (index > n) return length;
  return static_cast<size_t>(index);
}

Value size(NativeCall& call) {
  return Value::integer(static_cast<int64_t>(string_arg(call, 0, "size").length()));
}

Value empty(NativeCall& call) {
  return Value::boolean(string_arg(call, 0, "empty?").length() == 0);
}

template <char (*Convert)(char)>
Value map_ascii(NativeCall& call, const char* fn) {
  std::string text = string_arg(call, 0, fn).str();
  for (char& c : text) c = Convert(c);
  return make_string(std::move(text));
}

char to_upper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

char to_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

Value upper(NativeCall& call) {
  return map_ascii<to_upper>(call, "upper");
}

Value lower(NativeCall& call) {
  return map_ascii<to_lower>(call, "lower");
}

Value trim(NativeCall& call) {
  const String& s = string_arg(call, 0, "trim");
  std::string_view trimmed = trim_view(s.view());
  if (trimmed.size() == s.byte_size()) return call.args[0];
  return make_string(trimmed);
}

// (s .split): runs of whitespace, no empty pieces; (s .split ""): the
// characters; (s .split sep): every occurrence, empty pieces kept.
Value split(NativeCall& call) {
  std::string_view s = string_arg(call, 0, "split").view();
  std::vector<Value> pieces;
  if (call.count < 2 || call.args[1].is_nil()) {
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && is_space(s[i])) ++i;
      size_t start = i;
      while (i < s.size() && !is_space(s[i])) ++i;
      if (i > start) pieces.push_back(make_string(s.substr(start, i - start)));
    }
    return make_array(std::move(pieces));
  }
  std::string_view sep = string_arg(call, 1, "split").view();
  if (sep.empty()) return chars_array(s);
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    if (at == std::string_view::npos) break;
    pieces.push_back(make_string(s.substr(start, at - start)));
    start = at + sep.size();
  }
  pieces.push_back(make_string(s.substr(start)));
  return make_array(std::move(pieces));
}

Value contains(NativeCall& call) {
  std::string_view s = string_arg(call, 0, "contains").view();
  return Value::boolean(s.find(string_arg(call, 1, "contains").view()) != std::string_view::npos);
}

Value starts_with(NativeCall& call) {
  std::string_view s = string_arg(call, 0, "starts_with").view();
  return Value::boolean(s.starts_with(string_arg(call, 1, "starts_with").view()));
}

Value ends_with(NativeCall& call) {
  std::string_view s = string_arg(call, 0, "ends_with").view();
  return Value::boolean(s.ends_with(string_arg(call, 1, "ends_with").view()));
}

// Every occurrence; an empty pattern leaves the string as it is.
Value replace(NativeCall& call) {
  std::string_view s = string_arg(call, 0, "replace").view();
  std::string_view from = string_arg(call, 1, "replace").view();
  std::string_view to = string_arg(call, 2, "replace").view();
  if (from.empty() || s.find(from) == std::string_view::npos) return call.args[0];
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(from, start);
    if (at == std::string_view::npos) break;
    out.append(s, start, at - start);
    out.append(to);
    if (out.size() > kMaxStringBytes) throw_error(ExcClass::RuntimeException, "string too large");
    start = at + from.size();
  }
  out.append(s.substr(start));
  return make_string(std::move(out));
}

// (s .find sub [start]): the code point index of the first occurrence at
// or after `start`, or -1.
Value find_in(NativeCall& call, const char* fn) {
  const String& s = string_arg(call, 0, fn);
  std::string_view sub = string_arg(call, 1, fn).view();
  size_t start = 0;
  if (call.count >= 3 && !call.args[2].is_nil()) {
    start = clamp_index(int_arg(call, 2, fn), s.length());
  }
  size_t from = s.byte_offset(start);
  size_t at = s.view().find(sub, from);
  if (at == std::string_view::npos) return Value::integer(-1);
  return Value::integer(
      static_cast<int64_t>(start + utf8_length(s.view().substr(from, at - from))));
}

Value find(NativeCall& call) {
  return find_in(call, "find");
}

Value index_of(NativeCall& call) {
  return find_in(call, "index_of");
}

// Integer text only (surrounding whitespace allowed), else nil.
Value to_i(NativeCall& call) {
  std::string_view text = trim_view(string_arg(call, 0, "to_i").view());
  if (!strip_plus(text)) return Value();
  int64_t out = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), out);
  if (res.ec != std::errc() || res.ptr != text.data() + text.size()) return Value();
  return Value::integer(out);
}

// Decimal number text (surrounding whitespace allowed), else nil.
Value to_f(NativeCall& call) {
  std::string_view text = trim_view(string_arg(call, 0, "to_f").view());
  if (!strip_plus(text)) return Value();
  double out = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), out);
  if (res.ec == std::errc::result_out_of_range) {
    // Too large or too small for a double: what reading it would give.
    bool negative = text[0] == '-';
    size_t e = text.find_first_of("eE");
    bool tiny = e != std::string_view::npos && text.find('-', e) != std::string_view::npos;
    double magnitude = tiny ? 0.0 : HUGE_VAL;
    return Value::floating(negative ? -magnitude : magnitude);
  }
  if (res.ec != std::errc() || res.ptr != text.data() + text.size()) return Value();
  return Value::floating(out);
}

// (s .substr start [len]): negative start counts from the end; both clamp.
Value substr(NativeCall& call) {
  const String& s = string_arg(call, 0, "substr");
  size_t start = clamp_index(int_arg(call, 1, "substr"), s.length());
  size_t end = s.length();
  if (call.count >= 3 && !call.args[2].is_nil()) {
    int64_t len = int_arg(call, 2, "substr");
    if (len < 0) len = 0;
    end = static_cast<size_t>(len) < end - start ? start + static_cast<size_t>(len) : end;
  }
  if (start == 0 && end == s.length()) return call.args[0];
  size_t from = s.byte_offset(start);
  return make_string(s.view().substr(from, s.byte_offset(end) - from));
}

Value chars(NativeCall& call) {
  return chars_array(string_arg(call, 0, "chars").view());
}

Value repeat(NativeCall& call) {
  std::string_view s = string_arg(call, 0, "repeat").view();
  int64_t n = int_arg(call, 1, "repeat");
  if (n < 0) {
    throw_error(ExcClass::ArgumentException,
                "repeat expects a count >= 0, got " + std::to_string(n));
  }
  if (!s.empty() && static_cast<uint64_t>(n) > kMaxStringBytes / s.size()) {
    throw_error(ExcClass::RuntimeException, "string too large");
  }
  std::string out;
  if (s.empty()) return make_string(std::move(out));  // and no n-step loop
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.append(s);
  return make_string(std::move(out));
}

// (str/join sep items): the printed forms of an array's (or a range's)
// items with `sep` between them.
Value join(NativeCall& call) {
  std::string_view sep = string_arg(call, 0, "str/join").view();
  const Value& items = call.arg(1);
  std::string out;
  if (items.is(ObjType::Range)) {
    const Range* r = items.as<Range>();
    for (int64_t i = 0; i < r->count(); ++i) {
      if (i > 0) out += sep;
      out += std::to_string(r->at(i));
      if (out.size() > kMaxStringBytes) throw_error(ExcClass::RuntimeException, "string too large");
    }
    return make_string(std::move(out));
  }
  if (!items.is(ObjType::Array)) {
    throw_error(ExcClass::TypeException, "str/join expects an Array, got " + type_name(items));
  }
  std::vector<Value> snapshot = items.as<Array>()->snapshot();
  for (size_t i = 0; i < snapshot.size(); ++i) {
    if (i > 0) out += sep;
    append_display(out, snapshot[i]);
  }
  return make_string(std::move(out));
}

}  // namespace

void register_string_methods(Runtime& runtime) {
  // Arities count the receiver.
  const ObjType t = ObjType::String;
  runtime.register_native_method(t, "size", size, 1, 1);
  runtime.register_native_method(t, "empty?", empty, 1, 1);
  runtime.register_native_method(t, "upper", upper, 1, 1);
  runtime.register_native_method(t, "lower", lower, 1, 1);
  runtime.register_native_method(t, "trim", trim, 1, 1);
  runtime.register_native_method(t, "split", split, 1, 2);
  runtime.register_native_method(t, "contains", contains, 2, 2);
  runtime.register_native_method(t, "starts_with", starts_with, 2, 2);
  runtime.register_native_method(t, "ends_with", ends_with, 2, 2);
  runtime.register_native_method(t, "replace", replace, 3, 3);
  runtime.register_native_method(t, "find", find, 2, 3);
  runtime.register_native_method(t, "index_of", index_of, 2, 3);
  runtime.register_native_method(t, "to_i", to_i, 1, 1);
  runtime.register_native_method(t, "to_f", to_f, 1, 1);
  runtime.register_native_method(t, "substr", substr, 2, 3);
  runtime.register_native_method(t, "chars", chars, 1, 1);
  runtime.register_native_method(t, "repeat", repeat, 2, 2);
  runtime.register_native("str/join", join, 2, 2);
}

}  // namespace weft
