// Running a whole program: read, compile, run the top level on a fiber,
// report errors the way the command line promises.
#pragma once

#include <functional>
#include <string>

#include "engine/function.h"
#include "engine/runtime.h"
#include "lang/source.h"

namespace weft {

// Exit statuses of the command line.
inline constexpr int kExitOk = 0;
inline constexpr int kExitCompileError = 65;  // parse or compile error
inline constexpr int kExitRuntimeError = 70;  // uncaught exception
inline constexpr int kExitUsage = 64;
inline constexpr int kExitNoInput = 66;       // file not found or unreadable
inline constexpr int kExitCannotCreate = 73;  // an output file (--trace) cannot be written
inline constexpr int kExitIoError = 74;       // standard output could not be written

struct ProgramResult {
  int exit_code = kExitOk;
  std::string error;  // what was printed (or would be) on stderr
  Value value;        // the top level's value when it completed
  // Deadlocked tasks that did not end when cancelled are still there: the
  // caller must end the process without waiting for them (std::_Exit
  // after flushing), as (exit N) does.
  bool tasks_left = false;
};

// Compiles and runs `source` in `module`. Errors are formatted into
// `result.error` (file:line:column, source line and caret for compile
// errors; type, message and stack for runtime errors); nothing is printed.
ProgramResult run_program(Runtime& runtime, Module& module, const SourceRef& source);

// Moves the runtime's reports of unhandled failures into `result` (exit
// status 70 unless another error set it).
void collect_unhandled(Runtime& runtime, ProgramResult& result);

// Reads `path` and runs it in a fresh module (see run_source).
ProgramResult run_file(Runtime& runtime, const std::string& path,
                       const std::function<void(const Value&)>& take_value = {});

// Runs `source` in a fresh module, then drops its globals and the actors'
// script values (the module's code stays with the runtime). `take_value`
// sees the program's value before it is dropped (result.value is nil).
ProgramResult run_source(Runtime& runtime, const SourceRef& source,
                         const std::function<void(const Value&)>& take_value = {});

}  // namespace weft
