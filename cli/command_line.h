// What the user asked for on the command line, parsed by CLI11 into a plain
// struct so that main() only dispatches and the parsing can be read (and
// tested) apart from running anything.
//
//   weft [OPTIONS] run FILE [ARGS...]    weft [OPTIONS] FILE [ARGS...]
//   weft [OPTIONS] repl                  weft [OPTIONS] test [--verbose] [PATH...]
//   weft --version
//
// OPTIONS (before or after the subcommand, but before FILE):
//   --threads N  --stats  --trace FILE  --dump-tasks-after SECONDS
//   --dump-bytecode
// Everything after FILE belongs to the script ($args), even "--foo".
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace weft::cli {

enum class Command {
  Run,   // run `file` with `script_args`
  Repl,  // also what a bare `weft` does
  Test,  // run the script tests under `test_paths`
};

struct CommandLine {
  Command command = Command::Repl;

  std::string file;
  std::vector<std::string> script_args;

  std::vector<std::string> test_paths;  // default: tests/lang
  bool test_verbose = false;

  // Scheduler and diagnostics options. threads == 0 means one worker per
  // core.
  int threads = 0;
  bool stats = false;
  std::string trace_file;
  // Print every live task once, this many seconds after the start (as
  // kill -QUIT does at any time); 0: never.
  double dump_tasks_after = 0;

  bool dump_bytecode = false;
};

struct ParseOutcome {
  // Empty when nothing is left to do: help or --version was printed
  // (exit_code 0) or the arguments were wrong (exit_code 64, the message
  // printed on stderr).
  std::optional<CommandLine> command_line;
  int exit_code = 0;
};

ParseOutcome parse_command_line(int argc, const char* const* argv);

}  // namespace weft::cli
