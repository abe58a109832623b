// A source text and positions in it, shared by the reader, the compiler's
// error messages and the runtime's stack traces.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace weft {

struct SourceFile {
  std::string name;  // the path as given, or "<repl>", "<eval>"
  std::string text;

  // The text of 1-based line `line`, without its newline.
  std::string_view line_text(uint32_t line) const;
};

using SourceRef = std::shared_ptr<const SourceFile>;

struct SourceLoc {
  uint32_t line = 0;    // 1-based; 0 when unknown
  uint32_t column = 0;  // 1-based, counted in code points
};

// "file:line:col: message", then the line and a caret under the column.
std::string format_diagnostic(const SourceFile& source, SourceLoc loc, std::string_view message);

}  // namespace weft
