// Immutable UTF-8 strings. The length (in code points) is computed once,
// when the string is made; an all-ASCII string indexes in O(1). No hash is
// kept: maps hash the text where they index it (engine/map.h), and most
// strings (a request's fields, a message, a line read) are never a key.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "engine/object.h"
#include "engine/value.h"

namespace weft {

class String final : public Obj {
 public:
  static String* make(std::string_view text) { return new String(std::string(text)); }
  static String* make(std::string&& text) { return new String(std::move(text)); }

  const std::string& str() const { return text_; }
  std::string_view view() const { return text_; }
  size_t byte_size() const { return text_.size(); }
  size_t length() const { return length_; }  // in code points
  bool is_ascii() const { return length_ == text_.size(); }

  // Byte offset of the code point at `index` (0 <= index <= length()).
  size_t byte_offset(size_t index) const;

 private:
  explicit String(std::string&& text);

  std::string text_;
  size_t length_;
};

inline Value make_string(std::string_view text) { return Value::adopt(String::make(text)); }
inline Value make_string(const char* text) { return make_string(std::string_view(text)); }
inline Value make_string(std::string&& text) { return Value::adopt(String::make(std::move(text))); }

// Number of code points in a UTF-8 byte sequence (continuation bytes are
// not counted; invalid sequences count one per lead byte).
size_t utf8_length(std::string_view text);

}  // namespace weft
