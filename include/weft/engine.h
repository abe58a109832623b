// weft::embed::Engine: one Weft runtime hosted by a C++ program, in the
// manner of Lua's and Wren's embedding APIs. It owns its worker pool and
// I/O thread; there is no global state, so a process may hold several
// (they then share oneTBB's process-wide worker threads).
//
//   weft::embed::EngineOptions options;
//   options.threads = 4;
//   weft::embed::Engine engine(options);
//   engine.register_function("host/add", 2, 2, [](const auto& args) {
//     return weft::embed::Value(args[0].as_int() + args[1].as_int());
//   });
//   weft::embed::RunResult result = engine.run_source("(host/add 1 2)");
//   // result.value.as_int() == 3
//
// Threads: run_source and run_file block the calling thread until the
// program and every task it started have ended. Host functions run on the
// engine's worker threads, possibly several at once: they must be
// thread-safe, and should not block for long (an async function's work
// belongs on the host's own threads). Register functions before running,
// or between runs, not during one.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "weft/promise.h"
#include "weft/value.h"

namespace weft::embed {

struct EngineOptions {
  unsigned threads = 0;           // worker threads; 0: one per core
  std::vector<std::string> args;  // the scripts' $args
  bool capture_output = false;    // println goes to RunResult::output, not stdout
};

struct RunResult {
  int exit_code =
      0;  // 0, 65 (parse/compile error), 66 (no file), 70 (uncaught, deadlock), (exit n)
  std::string error;   // as the command line would print it: location, message, stack
  Value value;         // the program's last value, when it completed
  std::string output;  // with capture_output
  bool ok() const { return exit_code == 0; }
};

// A host function's failure: thrown from a Function (or any
// std::exception), it becomes a HostException in the script, with this
// message.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Function = std::function<Value(const std::vector<Value>& args)>;
using AsyncFunction = std::function<void(std::vector<Value> args, Promise promise)>;

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // `(name a b ...)` in a script calls fn with the arguments converted;
  // its result is converted back. max_args < 0: any number.
  void register_function(std::string name, int min_args, int max_args, Function fn);
  // `(name a b ...)` gives a future at once; fn gets the arguments and the
  // Promise that settles it, and returns without waiting (promise.h).
  void register_async_function(std::string name, int min_args, int max_args, AsyncFunction fn);

  RunResult run_source(std::string_view source, std::string name = "<host>");
  RunResult run_file(const std::string& path);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::embed
