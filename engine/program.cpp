#include "engine/program.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/fiber.h"
#include "engine/format.h"
#include "engine/string.h"
#include "engine/vm.h"
#include "lang/compiler.h"
#include "lang/reader.h"

namespace weft {

namespace {

std::string format_uncaught(const Value& exception) {
  if (!exception.is(ObjType::Exception)) return "Exception: " + display(exception) + "\n";
  const Exception& e = *exception.as<Exception>();
  std::string out = exc_class_name(e.cls());
  out += ": ";
  out += display(e.message());
  out += '\n';
  if (e.trace().is(ObjType::Array)) {
    for (const Value& line : e.trace().as<Array>()->snapshot()) {
      out += "  at ";
      out += display(line);
      out += '\n';
    }
  }
  return out;
}

}  // namespace

ProgramResult run_program(Runtime& runtime, Module& module, const SourceRef& source) {
  ProgramResult result;
  std::vector<NodePtr> program;
  try {
    program = read_program(*source);
  } catch (const ParseError& e) {
    result.exit_code = kExitCompileError;
    result.error = format_diagnostic(*source, e.loc, e.message);
    return result;
  }
  if (module.find("$args") < 0) {
    std::vector<Value> args;
    for (const std::string& arg : runtime.options().script_args) args.push_back(make_string(arg));
    module.slot(module.declare("$args")).store(make_array(std::move(args)));
  }
  Proto* main = nullptr;
  try {
    main = compile_program(runtime, module, source, program);
  } catch (const CompileError& e) {
    result.exit_code = kExitCompileError;
    result.error = format_diagnostic(*source, e.loc, e.message);
    return result;
  }
  if (runtime.options().dump_bytecode) result.error = disassemble(*main);

  Fiber fiber;
  Vm vm(runtime);
  vm.start(fiber, Value::adopt(new Closure(main)), {});
  RunStatus status = vm.run_to_end(fiber);
  if (status == RunStatus::Completed) {
    result.value = std::move(fiber.result);
    return result;
  }
  result.exit_code = kExitRuntimeError;
  result.error += format_uncaught(fiber.exception);
  return result;
}

ProgramResult run_file(Runtime& runtime, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ProgramResult result;
    result.exit_code = kExitNoInput;
    result.error = "weft: cannot open '" + path + "': " + std::strerror(errno) + "\n";
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto source = std::make_shared<SourceFile>(SourceFile{path, text.str()});
  Module module(path);
  return run_program(runtime, module, source);
}

}  // namespace weft
