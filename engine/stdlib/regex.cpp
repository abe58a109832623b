// re/match re/find_all re/replace re/split (decision 26), on RE2 so that
// matching is linear in the text whatever the pattern. Offsets are UTF-8
// byte offsets; only whole strings reach scripts.
#include <re2/re2.h>

#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/regex_cache.h"
#include "engine/runtime.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"

namespace weft {

namespace {

std::string_view string_arg(const NativeCall& call, uint32_t i, const char* fn, const char* what) {
  const Value& v = call.arg(i);
  if (!v.is(ObjType::String)) {
    throw_error(ExcClass::TypeException,
                std::string(fn) + " expects a String " + what + ", got " + type_name(v));
  }
  return v.as<String>()->view();
}

std::shared_ptr<const re2::RE2> pattern_arg(NativeCall& call, uint32_t i, const char* fn) {
  return call.runtime.regex_cache().get(string_arg(call, i, fn, "pattern"));
}

re2::StringPiece piece(std::string_view s) {
  return re2::StringPiece(s.data(), s.size());
}

std::string_view view(const re2::StringPiece& p) {
  return std::string_view(p.data(), p.size());
}

// Byte position just past the code point that starts at `at` (for stepping
// over an empty match).
size_t next_code_point(std::string_view text, size_t at) {
  ++at;
  while (at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) ++at;
  return at;
}

// Calls `on_match(begin, end)` for each leftmost non-overlapping match.
template <typename OnMatch>
void for_each_match(const re2::RE2& re, std::string_view text, OnMatch on_match) {
  re2::StringPiece whole = piece(text);
  re2::StringPiece found;
  size_t pos = 0;
  while (pos <= text.size() && re.Match(whole, pos, text.size(), re2::RE2::UNANCHORED, &found, 1)) {
    size_t begin = static_cast<size_t>(found.data() - text.data());
    size_t end = begin + found.size();
    on_match(begin, end);
    pos = end > begin ? end : next_code_point(text, end);
  }
}

// (re/match p s): [whole g1 g2 ...] of the first match (a group that took
// no part is nil), or nil.
Value match(NativeCall& call) {
  auto re = pattern_arg(call, 0, "re/match");
  std::string_view text = string_arg(call, 1, "re/match", "to search");
  int groups = re->NumberOfCapturingGroups();
  std::vector<re2::StringPiece> found(static_cast<size_t>(groups) + 1);
  if (!re->Match(piece(text), 0, text.size(), re2::RE2::UNANCHORED, found.data(), groups + 1)) {
    return Value();
  }
  std::vector<Value> items;
  items.reserve(found.size());
  for (const re2::StringPiece& group : found) {
    items.push_back(group.data() == nullptr ? Value() : make_string(view(group)));
  }
  return make_array(std::move(items));
}

// (re/find_all p s): every whole match.
Value find_all(NativeCall& call) {
  auto re = pattern_arg(call, 0, "re/find_all");
  std::string_view text = string_arg(call, 1, "re/find_all", "to search");
  std::vector<Value> items;
  for_each_match(*re, text, [&](size_t begin, size_t end) {
    items.push_back(make_string(text.substr(begin, end - begin)));
  });
  return make_array(std::move(items));
}

// (re/replace s p r): every match replaced; \1 .. \9 name groups, \0 the
// whole match, \\ a backslash.
Value replace(NativeCall& call) {
  std::string_view text = string_arg(call, 0, "re/replace", "to search");
  auto re = pattern_arg(call, 1, "re/replace");
  std::string_view rewrite = string_arg(call, 2, "re/replace", "replacement");
  std::string error;
  if (!re->CheckRewriteString(piece(rewrite), &error)) {
    throw_error(ExcClass::ArgumentException,
                "invalid replacement '" + std::string(rewrite) + "': " + error);
  }
  std::string out(text);
  re2::RE2::GlobalReplace(&out, *re, piece(rewrite));
  return make_string(std::move(out));
}

// (re/split s p): the pieces between matches; empty matches do not split.
Value split(NativeCall& call) {
  std::string_view text = string_arg(call, 0, "re/split", "to split");
  auto re = pattern_arg(call, 1, "re/split");
  std::vector<Value> pieces;
  size_t last = 0;
  for_each_match(*re, text, [&](size_t begin, size_t end) {
    if (end == begin) return;
    pieces.push_back(make_string(text.substr(last, begin - last)));
    last = end;
  });
  pieces.push_back(make_string(text.substr(last)));
  return make_array(std::move(pieces));
}

}  // namespace

void register_regex_builtins(Runtime& runtime) {
  runtime.register_native("re/match", match, 2, 2);
  runtime.register_native("re/find_all", find_all, 2, 2);
  runtime.register_native("re/replace", replace, 3, 3);
  runtime.register_native("re/split", split, 2, 2);
}

}  // namespace weft
