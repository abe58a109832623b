#include "engine/string.h"

namespace weft {

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

String::String(std::string&& text)
    : Obj(ObjType::String), text_(std::move(text)), length_(utf8_length(text_)) {}

size_t String::byte_offset(size_t index) const {
  if (is_ascii()) return index;
  size_t seen = 0;
  for (size_t i = 0; i < text_.size(); ++i) {
    if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) {
      if (seen == index) return i;
      ++seen;
    }
  }
  return text_.size();
}

}  // namespace weft
