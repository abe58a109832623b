// The runtime: builtins, method tables, the output stream and the options
// of one embedding of Weft. There is no global runtime; everything that
// needs one is handed it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/function.h"
#include "engine/object.h"
#include "engine/runtime_events.h"
#include "engine/suspended_tasks.h"
#include "engine/value.h"

namespace weft {

class Actor;

class RegexCache;
class TraceRecorder;
class Future;
class Scheduler;
class IoService;

// Thrown by `(exit code)`; the runner flushes output and ends with `code`.
struct ExitRequest {
  int code;
};

struct RuntimeOptions {
  std::vector<std::string> script_args;  // $args
  unsigned threads = 0;                  // worker threads; 0: all cores
  // Called by `(exit code)` after output is flushed; the command line ends
  // the process here. Without it the program's tasks are stopped and the
  // code is reported in ProgramResult.
  std::function<void(int)> on_exit;
  bool dump_bytecode = false;
  bool trace_instructions = false;
  // --trace FILE: record run segments, flows and I/O operations
  // (scheduler/trace_recorder.h); write_trace() writes them.
  bool trace = false;
  // SchedulerOptions::on_worker_entry: called on each worker thread as it
  // joins the pool (again when it comes back).
  std::function<void()> on_worker_entry;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime();

  const RuntimeOptions& options() const { return options_; }

  // Builtins are immortal and resolved by name at compile time.
  uint32_t register_builtin(std::string name, Value callable);
  // `keywords`: the keyword arguments it takes (Native::set_keywords).
  void register_native(std::string name, NativeFn fn, int min_args, int max_args,
                       std::vector<std::string> keywords = {});
  int64_t find_builtin(std::string_view name) const;
  const Value& builtin(uint32_t index) const { return builtins_[index]; }
  const std::string& builtin_name(uint32_t index) const { return builtin_names_[index]; }

  // Methods of built-in types: a Native or a Closure called with the
  // receiver as its first argument.
  void register_method(ObjType type, std::string name, Value callable);
  void register_native_method(ObjType type, std::string name, NativeFn fn, int min_args,
                              int max_args, std::vector<std::string> keywords = {});
  const Value* find_method(ObjType type, std::string_view name) const;

  // Makes `obj` immortal and owned by the runtime.
  void adopt_immortal(Obj* obj);

  // Script output. Safe from any thread (writes are serialized; one
  // println is never interleaved). On a terminal every write goes out at
  // once; otherwise it is buffered (64 KB) and flushed whenever a task
  // suspends or ends (flush_out_if_pending), so a program that prints and
  // then waits (a server printing its port) shows its output, while a loop
  // that prints without awaiting still writes in large blocks.
  void write_out(std::string_view text);
  void flush_out();
  // The last resort when the runtime itself cannot go on (memory ran out
  // while a task's failure was being recorded): writes what the program
  // printed, then `message` on stderr, and ends the process with status 70.
  [[noreturn]] void fail_fatally(const char* message) noexcept;
  void flush_out_if_pending();
  // Tests capture output instead of writing it.
  void capture_output(std::string* sink) { capture_ = sink; }

  RegexCache& regex_cache() { return *regex_cache_; }

  // 64 random bits for `rand`, from any thread without a lock.
  uint64_t next_random();

  // The worker pool, made on first use with options().threads workers.
  Scheduler& scheduler();

  // The I/O thread (timers now; files and sockets later), made on first use.
  IoService& io();
  // The I/O service if a task has made it, else null. Only once every
  // task has ended (the scheduler's wait orders io()'s write before it).
  [[nodiscard]] IoService* io_if_started() const { return io_.get(); }

  // Counts one event for --stats, in the calling worker's own counters.
  void count(RuntimeEvent event);

  // --trace (RuntimeOptions::trace). tracing() is one load; the rest only
  // matter while it is true. An I/O operation is a slice from
  // trace_io_begin (its future made, `name` saying what it is) to the
  // future's settle.
  [[nodiscard]] bool tracing() const { return options_.trace; }
  void trace_io_begin(const Future& future, std::string_view name);
  void trace_io_settled(const Future& future);
  void trace_io_forget(const Future& future);
  // After the program ended: writes the trace; false with `error` set.
  [[nodiscard]] bool write_trace(const std::string& path, std::string& error);

  // `(exit code)` from any task (see RuntimeOptions::on_exit).
  void request_exit(int code);
  bool exit_requested() const { return exit_code_.load(std::memory_order_acquire) >= 0; }
  int exit_code() const { return exit_code_.load(std::memory_order_acquire); }

  // Work outside the scheduler and the I/O thread that will wake a task
  // later: a promise an embedding host completes from its own threads
  // (include/weft/). While any is pending the program is not deadlocked,
  // however idle its workers are. Started before the work is handed out
  // (while the task that starts it runs); finished only after the settle
  // that wakes the task (a scheduler hold: "Holds" in scheduler.h).
  void outside_work_started();
  void outside_work_finished();

  // A failure nobody looked at (a future destroyed unhandled, a callback
  // that threw): kept for the program's report; the exit status becomes 70.
  void report_unhandled(std::string message);
  std::vector<std::string> take_unhandled_reports();
  bool had_unhandled() const { return had_unhandled_.load(std::memory_order_acquire); }

  // Every live actor, listed weakly (engine/actor.h rule 5), so that
  // release_actors() can drop the script values they hold at shutdown.
  void register_actor(Actor* actor);
  void unregister_actor(Actor* actor);
  void release_actors();

  // The suspended script tasks, for deadlock reports and task dumps.
  SuspendedTasks& suspended_tasks() { return suspended_tasks_; }

  // Keeps a module whose functions the runtime itself uses (the prelude of
  // methods written in Weft); it is freed after everything else.
  void keep_module(std::unique_ptr<Module> module) { kept_modules_.push_back(std::move(module)); }

 private:
  // Declared first so that it is destroyed last: builtins and method tables
  // refer to the kept modules' functions.
  std::vector<std::unique_ptr<Module>> kept_modules_;
  RuntimeOptions options_;
  // Early, so destroyed late: a task may be freed (and unlist itself) as
  // late as the values that refer to it.
  SuspendedTasks suspended_tasks_;
  std::vector<Value> builtins_;
  std::vector<std::string> builtin_names_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> builtin_index_;
  std::vector<std::unordered_map<std::string, Value, StringHash, std::equal_to<>>> methods_;
  std::vector<Obj*> immortals_;
  std::mutex out_lock_;
  std::string out_buffer_;
  std::atomic<bool> out_pending_{false};
  std::string* capture_ = nullptr;
  std::unique_ptr<RegexCache> regex_cache_;
  std::atomic<uint64_t> rng_state_;  // SplitMix64 counter, seeded from std::random_device
  const bool stdout_is_terminal_;
  // --trace: made with the scheduler, before any task; declared before it, so it outlives it.
  std::unique_ptr<TraceRecorder> trace_;
  std::atomic<std::thread::id> io_thread_id_{};
  std::mutex trace_io_lock_;
  std::unordered_map<const Future*, std::pair<std::uint64_t, std::uint32_t>> trace_io_started_;
  // Declared late so that it is destroyed early: tasks refer to everything
  // above. Made once, under scheduler_once_.
  std::once_flag scheduler_once_;
  std::unique_ptr<Scheduler> scheduler_;
  // Destroyed before the scheduler: its shutdown settles pending timers,
  // which may wake tasks.
  std::once_flag io_once_;
  std::unique_ptr<IoService> io_;
  // -1 until (exit code); acquire/release pair the code with its readers.
  std::atomic<int> exit_code_{-1};
  std::mutex actors_lock_;
  std::unordered_set<Actor*> actors_;
  std::mutex unhandled_lock_;
  std::vector<std::string> unhandled_;
  std::atomic<bool> had_unhandled_{false};
};

}  // namespace weft
