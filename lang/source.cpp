#include "lang/source.h"

namespace weft {

std::string_view SourceFile::line_text(uint32_t line) const {
  std::string_view all = text;
  uint32_t current = 1;
  size_t start = 0;
  while (current < line) {
    size_t nl = all.find('\n', start);
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
    ++current;
  }
  size_t end = all.find('\n', start);
  if (end == std::string_view::npos) end = all.size();
  std::string_view result = all.substr(start, end - start);
  if (!result.empty() && result.back() == '\r') result.remove_suffix(1);
  return result;
}

std::string format_diagnostic(const SourceFile& source, SourceLoc loc, std::string_view message) {
  std::string out = source.name + ":" + std::to_string(loc.line) + ":" +
                    std::to_string(loc.column) + ": " + std::string(message) + "\n";
  std::string_view line = source.line_text(loc.line);
  if (loc.line == 0) return out;
  out += "  ";
  out += line;
  out += "\n  ";
  // The caret goes under the column-th code point; tabs are kept so that it
  // lines up in a terminal.
  uint32_t column = 1;
  for (size_t i = 0; i < line.size() && column < loc.column; ++i) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if ((c & 0xC0) == 0x80) continue;
    out += c == '\t' ? '\t' : ' ';
    ++column;
  }
  out += "^\n";
  return out;
}

}  // namespace weft
