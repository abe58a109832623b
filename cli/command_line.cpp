#include "cli/command_line.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <iostream>

#include "engine/program.h"

namespace weft::cli {
namespace {

// Accepts a whole number from `low` to `high`; CLI11's Range would call
// a word that is not a number "not in range".
CLI::Validator whole_number_within(long low, long high) {
  return CLI::Validator(
      [low, high](const std::string& text) -> std::string {
        long value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size()) {
          return "'" + text + "' is not a whole number";
        }
        if (value < low || value > high) {
          return std::to_string(value) + " is not from " + std::to_string(low) + " to " +
                 std::to_string(high);
        }
        return "";
      },
      "");
}

// Accepts a finite number of seconds from 0 to `high`; CLI11's Range lets
// "nan" through (no comparison with it fails).
CLI::Validator seconds_up_to(double high) {
  return CLI::Validator(
      [high](const std::string& text) -> std::string {
        double value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
          return "'" + text + "' is not a number of seconds";
        }
        if (value < 0 || value > high) {
          return "'" + text + "' is not from 0 to " + std::to_string(static_cast<long>(high)) +
                 " seconds";
        }
        return "";
      },
      "");
}

// The options every command accepts. They live on the root app; the
// subcommands fall through to it, so they may come before or after the
// subcommand name (but not after FILE: that is the script's).
void add_global_options(CLI::App& app, CommandLine& line) {
  app.add_option("--threads", line.threads, "Worker threads, 1 to 1024 (default: one per core)")
      ->check(whole_number_within(1, 1024))
      ->type_name("N");
  app.add_flag("--stats", line.stats,
               "Print task, scheduler, I/O, memory and time statistics on stderr at exit");
  app.add_option("--dump-tasks-after", line.dump_tasks_after,
                 "Print every live task (state, what it awaits, stack) after SECONDS (0 to "
                 "1000000), as kill -QUIT does")
      ->check(seconds_up_to(1e6))
      ->type_name("SECONDS");
  app.add_option("--trace", line.trace_file, "Write a Chrome trace-event JSON of task lifetimes")
      ->type_name("FILE");
  app.add_flag("--dump-bytecode", line.dump_bytecode, "Print the compiled bytecode before running");
}

// FILE followed by the script's arguments. positionals_at_end() makes
// everything after the first positional a positional too, so
// `weft run x.weft --foo -v` hands "--foo" and "-v" to the script.
void add_file_and_script_args(CLI::App& app, std::string& file, std::vector<std::string>& args,
                              bool required) {
  auto* file_option = app.add_option("file", file, "The script to run")->type_name("FILE");
  if (required) file_option->required();
  app.add_option("args", args, "Arguments for the script ($args)")->type_name("ARGS...");
  app.positionals_at_end();
}

bool looks_like_a_script_path(const std::string& word) {
  return std::filesystem::exists(word) || word.ends_with(".weft") ||
         word.find('/') != std::string::npos;
}

}  // namespace

ParseOutcome parse_command_line(int argc, const char* const* argv) {
  CommandLine line;
  std::string root_file;
  std::vector<std::string> root_args;

  CLI::App app{"Weft: a small Lisp-shaped scripting language with real concurrency.", "weft"};
  app.set_version_flag("--version", std::string("weft ") + WEFT_VERSION);
  app.require_subcommand(0, 1);
  add_global_options(app, line);
  add_file_and_script_args(app, root_file, root_args, /*required=*/false);

  CLI::App* run = app.add_subcommand("run", "Run a script: weft run FILE [ARGS...]");
  run->fallthrough();
  add_file_and_script_args(*run, line.file, line.script_args, /*required=*/true);

  CLI::App* repl = app.add_subcommand("repl", "Read, evaluate and print, line by line");
  repl->fallthrough();

  CLI::App* test =
      app.add_subcommand("test", "Run the script tests (files with # expect comments)");
  test->fallthrough();
  test->add_option("paths", line.test_paths, "Folders or files (default: tests/lang)")
      ->type_name("PATH...");
  test->add_flag("--verbose,-v", line.test_verbose, "List every file with its result");

  try {
    app.parse(argc, argv);
    // A stray word after `repl` falls through to the root's FILE.
    if (repl->parsed() && !root_file.empty()) {
      throw CLI::ExtrasError("repl", std::vector<std::string>{root_file});
    }
    if (!run->parsed() && !test->parsed() && !repl->parsed() && !root_file.empty() &&
        !looks_like_a_script_path(root_file)) {
      throw CLI::ValidationError("weft", "'" + root_file + "' is neither a command nor a file");
    }
  } catch (const CLI::ParseError& error) {
    int status = app.exit(error, std::cout, std::cerr);
    return ParseOutcome{std::nullopt, status == 0 ? kExitOk : kExitUsage};
  }

  if (run->parsed()) {
    line.command = Command::Run;
  } else if (test->parsed()) {
    line.command = Command::Test;
    if (line.test_paths.empty()) line.test_paths.push_back("tests/lang");
  } else if (!root_file.empty()) {
    line.command = Command::Run;
    line.file = std::move(root_file);
    line.script_args = std::move(root_args);
  } else {
    line.command = Command::Repl;
  }
  return ParseOutcome{std::move(line), kExitOk};
}

}  // namespace weft::cli
