// The weft executable: parses the command line and hands each command to
// its runner. Everything the engine reports comes back as a ProgramResult;
// printing it, after the script's own output, is done here.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <utility>

#include "cli/command_line.h"
#include "cli/malloc_arena.h"
#include "cli/repl.h"
#include "cli/test_runner.h"
#include "engine/program.h"
#include "engine/run_stats.h"
#include "engine/runtime.h"
#include "engine/task_report.h"
#include "io/io_service.h"

namespace weft::cli {
namespace {

void print_error(const std::string& error) {
  if (error.empty()) return;
  std::fputs(error.c_str(), stderr);
  if (error.back() != '\n') std::fputc('\n', stderr);
  std::fflush(stderr);
}

// --trace records one program run; `repl` and `test` (whose scripts run in
// child processes) have none to record. Saying so beats silently ignoring
// a flag the user typed.
void note_ignored_options(const CommandLine& line) {
  if (!line.trace_file.empty() && line.command != Command::Run) {
    std::fputs("weft: note: --trace applies to `weft run` only; ignored\n", stderr);
  }
}

// Writes the --trace file once the program and all its tasks have ended.
// A file that cannot be written is an error of its own (status 73) when
// the program itself succeeded; its output is already out.
int write_trace(Runtime& runtime, const CommandLine& line, int status) {
  if (line.trace_file.empty()) return status;
  std::string error;
  if (runtime.write_trace(line.trace_file, error)) return status;
  print_error("weft: cannot write trace '" + line.trace_file + "': " + error);
  return status == kExitOk ? kExitCannotCreate : status;
}

// What is printed about a run besides its output: the --stats table at
// exit (also when the script calls (exit code), which ends the process from
// a worker), and task dumps on SIGQUIT and after --dump-tasks-after.
class RunDiagnostics {
 public:
  explicit RunDiagnostics(const CommandLine& line) : line_(line) {}

  void attach(Runtime& runtime) {
    runtime_.store(&runtime, std::memory_order_release);
    // The dumps run on the I/O thread; they only read the suspended tasks
    // (engine/suspended_tasks.h rule 3), never stop the program.
    runtime.io().watch_signal(SIGQUIT, [&runtime] { print_error(dump_tasks(runtime)); });
    // Interrupted or terminated, the program still writes what it printed
    // (stdout is buffered when it is a file or a pipe), then dies of the
    // signal as it would have, so the caller sees the same status.
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
      runtime.io().watch_signal(signal_number, [&runtime, signal_number] {
        runtime.flush_out();
        std::fflush(stderr);
        std::signal(signal_number, SIG_DFL);
        std::raise(signal_number);
      });
    }
    if (line_.dump_tasks_after > 0) {
      auto delay = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(line_.dump_tasks_after));
      runtime.io().watch_delay(delay, [&runtime] { print_error(dump_tasks(runtime)); });
    }
  }

  // At exit, once: after the program's output and errors.
  void print_stats() {
    Runtime* runtime = runtime_.load(std::memory_order_acquire);
    if (!line_.stats || runtime == nullptr || printed_.exchange(true)) return;
    print_error(format_run_stats(collect_run_stats(*runtime, started_)));
  }

 private:
  const CommandLine& line_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  // Acquire/release: on_exit may run on a worker while main attaches.
  std::atomic<Runtime*> runtime_{nullptr};
  std::atomic<bool> printed_{false};
};

// `worker_entry`: prepare_malloc()'s hook (cli/malloc_arena.h), maybe empty.
RuntimeOptions runtime_options(const CommandLine& line, RunDiagnostics* diagnostics,
                               std::function<void()> worker_entry) {
  RuntimeOptions options;
  options.script_args = line.script_args;
  options.dump_bytecode = line.dump_bytecode;
  options.threads = static_cast<unsigned>(line.threads);
  options.trace = line.command == Command::Run && !line.trace_file.empty();
  options.on_worker_entry = std::move(worker_entry);
  // (exit code) ends the process at once, even while other tasks still run
  // or wait; the runtime has flushed the script's output already.
  options.on_exit = [diagnostics](int code) {
    std::fflush(stdout);
    if (diagnostics != nullptr) diagnostics->print_stats();
    std::fflush(stderr);
    std::_Exit(code);
  };
  return options;
}

int run_script(const CommandLine& line, std::function<void()> worker_entry) {
  RunDiagnostics diagnostics(line);
  Runtime runtime(runtime_options(line, &diagnostics, std::move(worker_entry)));
  diagnostics.attach(runtime);
  ProgramResult result;
  try {
    result = run_file(runtime, line.file);
  } catch (const ExitRequest& request) {
    runtime.flush_out();
    diagnostics.print_stats();
    return request.code;
  }
  // Output the script printed before failing comes first.
  runtime.flush_out();
  print_error(result.error);
  diagnostics.print_stats();
  int status = write_trace(runtime, line, result.exit_code);
  // Output that could not be written (a full disk) is an error, not a
  // silent success.
  if (std::ferror(stdout) != 0 || std::fflush(stdout) != 0) {
    print_error(std::string("weft: cannot write standard output: ") + std::strerror(errno) + "\n");
    if (status == kExitOk) status = kExitIoError;
  }
  if (result.tasks_left) {
    // Tasks that stay deadlocked would keep the runtime's shutdown waiting
    // for ever: end the process now, as (exit N) does.
    std::fflush(stderr);
    std::_Exit(status);
  }
  return status;
}

int start_repl(const CommandLine& line, std::function<void()> worker_entry) {
  Runtime runtime(runtime_options(line, nullptr, std::move(worker_entry)));
  int status = run_repl(runtime);
  runtime.flush_out();
  return status;
}

int run(const CommandLine& line, std::function<void()> worker_entry) {
  note_ignored_options(line);
  switch (line.command) {
    case Command::Run:
      return run_script(line, std::move(worker_entry));
    case Command::Repl:
      return start_repl(line, std::move(worker_entry));
    case Command::Test:
      return run_tests(TestRunOptions{
          .paths = line.test_paths, .verbose = line.test_verbose, .threads = line.threads});
  }
  return kExitUsage;
}

}  // namespace
}  // namespace weft::cli

int main(int argc, char** argv) {
  std::function<void()> worker_entry = weft::cli::prepare_malloc();
  weft::cli::ParseOutcome outcome = weft::cli::parse_command_line(argc, argv);
  if (!outcome.command_line) return outcome.exit_code;
  try {
    int status = weft::cli::run(*outcome.command_line, std::move(worker_entry));
    std::fflush(stdout);
    return status;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "weft: internal error: %s\n", error.what());
    return weft::kExitRuntimeError;
  }
}
