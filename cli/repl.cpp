#include "cli/repl.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "engine/format.h"
#include "engine/function.h"
#include "engine/program.h"
#include "engine/runtime.h"
#include "lang/reader.h"
#include "lang/source.h"

namespace weft::cli {
namespace {

constexpr const char* kPrompt = "weft> ";
constexpr const char* kContinuationPrompt = "....> ";
constexpr int kHistoryLength = 1000;

// Where lines come from: libedit on a terminal, plain reads otherwise.
class LineReader {
 public:
  virtual ~LineReader() = default;
  // The next line without its newline, or nothing at end of input.
  virtual std::optional<std::string> read_line(const char* prompt) = 0;
};

class TerminalReader final : public LineReader {
 public:
  TerminalReader() {
    rl_readline_name = const_cast<char*>("weft");
    using_history();
    stifle_history(kHistoryLength);
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
      history_path_ = std::string(home) + "/.weft_history";
      read_history(history_path_.c_str());  // a missing file is a first session
    }
  }
  ~TerminalReader() override {
    if (!history_path_.empty()) write_history(history_path_.c_str());
  }

  std::optional<std::string> read_line(const char* prompt) override {
    std::unique_ptr<char, decltype(&std::free)> line(readline(prompt), &std::free);
    if (!line) return std::nullopt;
    std::string text(line.get());
    if (text.find_first_not_of(" \t") != std::string::npos) {
      add_history(line.get());
      // Saved at once: `(exit)` ends the process without running destructors.
      if (!history_path_.empty()) write_history(history_path_.c_str());
    }
    return text;
  }

 private:
  std::string history_path_;
};

class StreamReader final : public LineReader {
 public:
  std::optional<std::string> read_line(const char* /*prompt*/) override {
    std::string text;
    if (!std::getline(std::cin, text)) return std::nullopt;
    return text;
  }
};

bool is_blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

// True when `text` ends inside an unfinished form, so the REPL should ask
// for another line. Any other parse error is left for run_program to
// report with its caret.
bool needs_more_input(const std::string& text) {
  SourceFile source{"<repl>", text};
  try {
    (void)read_program(source);
  } catch (const ParseError& error) {
    return error.incomplete;
  }
  return false;
}

void print_error(Runtime& runtime, const std::string& error) {
  runtime.flush_out();
  std::fputs(error.c_str(), stderr);
  if (!error.empty() && error.back() != '\n') std::fputc('\n', stderr);
  std::fflush(stderr);
}

// Runs one complete input in the session's module and shows its value.
// Gives an exit status when the input asked to end the session.
std::optional<int> evaluate(Runtime& runtime, Module& module, std::string text) {
  auto source = std::make_shared<const SourceFile>(SourceFile{"<repl>", std::move(text)});
  ProgramResult result;
  try {
    result = run_program(runtime, module, source);
  } catch (const ExitRequest& request) {
    runtime.flush_out();
    return request.code;
  }
  if (!result.error.empty()) {
    print_error(runtime, result.error);
    return std::nullopt;
  }
  if (result.exit_code != kExitOk) {  // (exit N) ends the session
    runtime.flush_out();
    return result.exit_code;
  }
  if (!result.value.is_nil() && !result.value.is_missing()) {
    try {
      runtime.write_out(display(result.value) + "\n");
    } catch (...) {
      print_error(runtime, "error: the value cannot be printed");
    }
  }
  runtime.flush_out();
  return std::nullopt;
}

}  // namespace

int run_repl(Runtime& runtime) {
  const bool interactive = isatty(STDIN_FILENO) != 0;
  std::unique_ptr<LineReader> reader;
  if (interactive) {
    reader = std::make_unique<TerminalReader>();
    std::printf("weft %s. Ctrl-D to leave.\n", WEFT_VERSION);
    std::fflush(stdout);
  } else {
    reader = std::make_unique<StreamReader>();
  }

  // The session's module lives as long as the runtime (see run_file): a
  // task or timer still running when the session ends may hold its values.
  auto owned = std::make_unique<Module>("<repl>");
  Module& module = *owned;
  struct KeepModule {
    Runtime& runtime;
    std::unique_ptr<Module>& module;
    ~KeepModule() {
      module->clear_globals();
      runtime.keep_module(std::move(module));
    }
  } keep{runtime, owned};
  std::string pending;
  while (true) {
    std::optional<std::string> line =
        reader->read_line(pending.empty() ? kPrompt : kContinuationPrompt);
    if (!line) {
      if (interactive) std::putchar('\n');
      // Input ended inside a form: evaluating it reports the parse error.
      if (!is_blank(pending)) {
        if (std::optional<int> status = evaluate(runtime, module, std::move(pending))) {
          return *status;
        }
      }
      break;
    }
    pending += *line;
    pending += '\n';
    if (is_blank(pending)) {
      pending.clear();
      continue;
    }
    if (needs_more_input(pending)) continue;
    std::string input = std::move(pending);
    pending.clear();
    if (std::optional<int> status = evaluate(runtime, module, std::move(input))) return *status;
  }
  runtime.flush_out();
  return kExitOk;
}

}  // namespace weft::cli
