// Syntax tree to bytecode: one Proto for the program's top level, with the
// prototypes of its functions among its constants.
#pragma once

#include <string>
#include <vector>

#include "engine/function.h"
#include "engine/runtime.h"
#include "lang/source.h"
#include "lang/syntax.h"

namespace weft {

struct CompileError {
  SourceLoc loc;
  std::string message;
};

// Compiles `program` against `module`'s globals (declaring new ones) and
// the runtime's builtins. The result and everything it refers to is
// immortal and owned by `module`. Throws CompileError.
Proto* compile_program(Runtime& runtime, Module& module, const SourceRef& source,
                       const std::vector<NodePtr>& program);

// Human-readable listing of `proto` and its nested prototypes.
std::string disassemble(const Proto& proto);

}  // namespace weft
