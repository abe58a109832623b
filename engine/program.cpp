#include "engine/program.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/fiber.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/script_task.h"
#include "engine/string.h"
#include "engine/task_report.h"
#include "engine/vm.h"
#include "io/io_service.h"
#include "lang/compiler.h"
#include "lang/reader.h"
#include "scheduler/scheduler.h"

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

// An uncaught exception at the top level while other tasks still run (a
// server, a wait that never ends) ends the program at once, as in Node and
// Go: the error goes to stderr after the output written so far, and the
// exit status is 70 (Runtime::request_exit; the CLI's on_exit ends the
// process). Without other tasks the program ends by itself and the normal
// report follows. Runs on the worker that settles the top level's future.
class TopLevelFailure final : public Waiter {
 public:
  TopLevelFailure(Runtime& runtime, Future& future) : runtime_(runtime), future_(future) {}
  void on_settled(Outcome outcome) noexcept override {
    // The top level is still counted as live while its future settles.
    if (outcome != Outcome::Failure || runtime_.scheduler().live_tasks() <= 1) return;
    try {
      std::string report = format_uncaught(future_.result());
      for (const std::string& unhandled : runtime_.take_unhandled_reports()) {
        report += unhandled + "\n";
      }
      runtime_.flush_out();
      std::fputs(report.c_str(), stderr);
      std::fflush(stderr);
      reported_.store(true, std::memory_order_release);
    } catch (...) {
      // Out of memory while formatting: the plain exit below still ends it.
    }
    runtime_.request_exit(kExitRuntimeError);
  }
  // Acquire: pairs with the release above, after the wait for all tasks.
  bool reported() const { return reported_.load(std::memory_order_acquire); }

 private:
  Runtime& runtime_;
  Future& future_;
  std::atomic<bool> reported_{false};
};

// How many times the tasks found waiting forever are cancelled before they
// are left as they are: a task may catch the cancellation and wait again.
constexpr int kDeadlockCancelRounds = 3;

// Waits until every task has ended. If instead the tasks stall (none can
// run, no timer, I/O or host promise is pending: scheduler.h, "Holds"),
// returns the deadlock report, after cancelling the stalled tasks so that
// the program can end and free them (their finally blocks run).
// How the program's tasks ended: the deadlock report ("" when they all
// ended), and whether deadlocked tasks are left after their cancellation.
struct ProgramEnd {
  std::string deadlock;
  bool tasks_left = false;
};

ProgramEnd wait_for_program_end(Runtime& runtime, Future& main) {
  Scheduler& scheduler = runtime.scheduler();
  if (scheduler.wait_until_ended_or_stalled() == EndOfWork::AllEnded) return {};
  SuspendedTaskReport stalled = report_suspended_tasks(runtime);
  std::string report = "deadlock: " + std::to_string(stalled.count) +
                       (stalled.count == 1 ? " task" : " tasks") + " waiting forever";
  // A program ends when every task it started has ended; these never will.
  if (main.outcome() != Outcome::Pending) report += " after the main program finished";
  report += "\n" + stalled.text;
  // The main program's future first: cancelled, it is not a failure, so
  // TopLevelFailure stays quiet; were another task cancelled first, the
  // main program could fail with that task's cancellation and end the
  // process before this report is printed.
  (void)main.cancel();
  for (int round = 0; round < kDeadlockCancelRounds; ++round) {
    cancel_suspended_tasks(runtime);
    if (scheduler.wait_until_ended_or_stalled() == EndOfWork::AllEnded) return {report, false};
  }
  return {report + "weft: the deadlocked tasks did not end when cancelled; they are left\n", true};
}

// How long the end of a program waits for file work still running.
constexpr std::chrono::seconds kFileWorkGrace(5);

// Once every task has ended: file work nobody awaited (a write, a read
// whose failure nobody looks at) finishes before the program does, so its
// data is written and its failure reported every time, not only when it
// happened to finish before the shutdown. Its callbacks may start tasks
// (an on_failure), which end too. A job stuck longer than the grace (a
// read of a FIFO nobody writes) is left to the shutdown.
void finish_file_work(Runtime& runtime) {
  IoService* io = runtime.io_if_started();
  if (io == nullptr) return;
  if (!io->wait_for_file_work(kFileWorkGrace)) return;
  (void)runtime.scheduler().wait_until_ended_or_stalled();
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
  Value future =
      ScriptTask::spawn(runtime, Value::adopt(Closure::make(main)), {}, false, nullptr, 0, {});
  Future* f = future.as<Future>();
  TopLevelFailure on_failure(runtime, *f);
  if (f->core().add_waiter(on_failure) == AddWaiterResult::AlreadySettled) {
    on_failure.on_settled(f->outcome());
  }
  const ProgramEnd end = wait_for_program_end(runtime, *f);
  const std::string& deadlock = end.deadlock;
  // Not after (exit N) or an uncaught failure: those end the program at once.
  if (deadlock.empty() && f->outcome() == Outcome::Success && !runtime.exit_requested()) {
    finish_file_work(runtime);
  }
  f->mark_handled();
  if (!deadlock.empty()) {
    result.exit_code = kExitRuntimeError;
    result.error = deadlock;
    result.tasks_left = end.tasks_left;
    collect_unhandled(runtime, result);
    return result;
  }
  switch (f->outcome()) {
    case Outcome::Success:
      result.value = f->result();
      break;
    case Outcome::Failure:
      result.exit_code = kExitRuntimeError;
      if (!on_failure.reported()) result.error += format_uncaught(f->result());
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

ProgramResult run_file(Runtime& runtime, const std::string& path,
                       const std::function<void(const Value&)>& take_value) {
  std::ifstream in(path, std::ios::binary);
  std::error_code ignored;
  if (in && std::filesystem::is_directory(path, ignored)) {
    ProgramResult result;
    result.exit_code = kExitNoInput;
    result.error = "weft: cannot run '" + path + "': " + std::strerror(EISDIR) + "\n";
    return result;
  }
  if (!in) {
    ProgramResult result;
    result.exit_code = kExitNoInput;
    result.error = "weft: cannot open '" + path + "': " + std::strerror(errno) + "\n";
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return run_source(runtime, std::make_shared<SourceFile>(SourceFile{path, text.str()}),
                    take_value);
}

ProgramResult run_source(Runtime& runtime, const SourceRef& source,
                         const std::function<void(const Value&)>& take_value) {
  auto module = std::make_unique<Module>(source->name);
  ProgramResult result = run_program(runtime, *module, source);
  if (take_value) take_value(result.value);
  // Futures kept in globals die with them; report those that failed
  // unhandled too. The module itself (its functions and constants) lives as
  // long as the runtime: a timer or a task may still hold a value that
  // refers to one of its constants, and the runtime shuts those down first.
  result.value = Value();
  module->clear_globals();
  runtime.release_actors();
  collect_unhandled(runtime, result);
  runtime.keep_module(std::move(module));
  return result;
}

}  // namespace weft
