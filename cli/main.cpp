// The weft executable: parses the command line and hands each command to
// its runner. Everything the engine reports comes back as a ProgramResult;
// printing it, after the script's own output, is done here.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>

#include "cli/command_line.h"
#include "cli/repl.h"
#include "cli/test_runner.h"
#include "engine/program.h"
#include "engine/runtime.h"

namespace weft::cli {
namespace {

void print_error(const std::string& error) {
  if (error.empty()) return;
  std::fputs(error.c_str(), stderr);
  if (error.back() != '\n') std::fputc('\n', stderr);
  std::fflush(stderr);
}

// --stats and --trace are accepted but the scheduler does not count or
// trace its events yet. Saying so beats silently ignoring a flag the user
// typed.
void note_scheduler_options(const CommandLine& line) {
  if (line.stats || !line.trace_file.empty()) {
    std::fputs("weft: note: --stats and --trace are not implemented yet; ignored\n", stderr);
  }
}

RuntimeOptions runtime_options(const CommandLine& line) {
  RuntimeOptions options;
  options.script_args = line.script_args;
  options.dump_bytecode = line.dump_bytecode;
  options.threads = static_cast<unsigned>(line.threads);
  // (exit code) ends the process at once, even while other tasks still run
  // or wait; the runtime has flushed the script's output already.
  options.on_exit = [](int code) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
  };
  return options;
}

int run_script(const CommandLine& line) {
  Runtime runtime(runtime_options(line));
  ProgramResult result;
  try {
    result = run_file(runtime, line.file);
  } catch (const ExitRequest& request) {
    runtime.flush_out();
    return request.code;
  }
  // Output the script printed before failing comes first.
  runtime.flush_out();
  print_error(result.error);
  return result.exit_code;
}

int start_repl(const CommandLine& line) {
  Runtime runtime(runtime_options(line));
  int status = run_repl(runtime);
  runtime.flush_out();
  return status;
}

int run(const CommandLine& line) {
  note_scheduler_options(line);
  switch (line.command) {
    case Command::Run:
      return run_script(line);
    case Command::Repl:
      return start_repl(line);
    case Command::Test:
      return run_tests(TestRunOptions{
          .paths = line.test_paths, .verbose = line.test_verbose, .threads = line.threads});
  }
  return kExitUsage;
}

}  // namespace
}  // namespace weft::cli

int main(int argc, char** argv) {
  weft::cli::ParseOutcome outcome = weft::cli::parse_command_line(argc, argv);
  if (!outcome.command_line) return outcome.exit_code;
  try {
    int status = weft::cli::run(*outcome.command_line);
    std::fflush(stdout);
    return status;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "weft: internal error: %s\n", error.what());
    return weft::kExitRuntimeError;
  }
}
