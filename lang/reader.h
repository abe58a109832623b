// Source text to syntax tree. The grammar:
//
//   program   := form*
//   form      := atom | '(' form* ')' | '[' form* ']' | '{' form* '}'
//   atom      := integer | float | string | interp | symbol | path | keyword
//                | 'true' | 'false' | 'nil'
//   keyword   := '^' name | '^^' name (name true) | '^!' name (name false)
//   path      := symbol ('/' segment)+    segment := integer | '.'? name
//   interp    := '#"' (text | '#{' form '}')* '"'
//   comment   := '#' to end of line | '#<' ... '>#' (nesting)
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "lang/source.h"
#include "lang/syntax.h"

namespace weft {

struct ParseError {
  SourceLoc loc;
  std::string message;
  // True when the input ended inside an unfinished form (the REPL then
  // asks for another line instead of reporting an error).
  bool incomplete = false;
};

// Nesting deeper than this is a ParseError, so no input can overflow the
// reader's or the compiler's stack.
inline constexpr int kMaxNesting = 1000;

// Throws ParseError.
std::vector<NodePtr> read_program(const SourceFile& source);

}  // namespace weft
