#include "engine/program.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/fiber.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/script_task.h"
#include "scheduler/scheduler.h"
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
  Value trace = e.trace();
  if (trace.is(ObjType::Array)) {
    for (const Value& line : trace.as<Array>()->snapshot()) {
      out += "  at ";
      out += display(line);
      out += '\n';
    }
  }
  return out;
}

}  // namespace

void collect_unhandled(Runtime& runtime, ProgramResult& result) {
  for (const std::string& report : runtime.take_unhandled_reports()) {
    result.error += report + "\n";
    if (result.exit_code == kExitOk) result.exit_code = kExitRuntimeError;
  }
}

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
  // A debugging aid: the listing goes to stderr before the program runs.
  if (runtime.options().dump_bytecode) std::fputs(disassemble(*main).c_str(), stderr);

  // The top level is a task like any other, so it may await; the program
  // ends when it and every task it started have ended.
  Value future = ScriptTask::spawn(runtime, Value::adopt(new Closure(main)), {}, false, nullptr, 0,
                                   {});
  runtime.scheduler().wait_for_all_tasks_ended();
  Future* f = future.as<Future>();
  f->mark_handled();
  switch (f->outcome()) {
    case Outcome::Success:
      result.value = f->result();
      break;
    case Outcome::Failure:
      result.exit_code = kExitRuntimeError;
      result.error += format_uncaught(f->result());
      break;
    default:
      result.exit_code = kExitRuntimeError;
      result.error += "the program was cancelled\n";
      break;
  }
  if (runtime.exit_requested()) result.exit_code = runtime.exit_code();
  collect_unhandled(runtime, result);
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
  auto module = std::make_unique<Module>(path);
  ProgramResult result = run_program(runtime, *module, source);
  // Futures kept in globals die with them; report those that failed
  // unhandled too. The module itself (its functions and constants) lives as
  // long as the runtime: a timer or a task may still hold a value that
  // refers to one of its constants, and the runtime shuts those down first.
  result.value = Value();
  module->clear_globals();
  collect_unhandled(runtime, result);
  runtime.keep_module(std::move(module));
  return result;
}

}  // namespace weft
