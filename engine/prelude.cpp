// Methods written in Weft itself: the ones that call back into script code
// (.map, .filter, .reduce, .each, .sort_by). Being bytecode, they run as
// ordinary frames of the calling task, so a callback may do anything a
// script can (including, later, suspend) without the C++ stack in between.
#include <memory>
#include <stdexcept>
#include <utility>

#include "engine/exception.h"
#include "engine/fiber.h"
#include "engine/format.h"
#include "engine/runtime.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"
#include "engine/vm.h"
#include "lang/compiler.h"
#include "lang/reader.h"

namespace weft {

namespace {

constexpr const char* kPrelude = R"weft(
(fn array_map [items f] (var out []) (for x in items (out .add (f x))) out)
(fn array_filter [items f] (var out []) (for x in items (if (f x) (out .add x))) out)
(fn array_reduce [items init f] (var acc init) (for x in items (acc = (f acc x))) acc)
(fn array_each [items f] (for x in items (f x)) nil)
(fn array_sort_by [items f]
  (var snapshot [])
  (var keys [])
  (for x in items (snapshot .add x) (keys .add (f x)))
  (__sort_by_keys snapshot keys))
(fn map_map [m f] (var out []) (for k v in m (out .add (f k v))) out)
(fn map_filter [m f] (var out {}) (for k v in m (if (f k v) (out .set k v))) out)
(fn map_reduce [m init f] (var acc init) (for k v in m (acc = (f acc k v))) acc)
(fn map_each [m f] (for k v in m (f k v)) nil)
(fn await_all [futures] (await (__all futures)))
(fn await_any [futures] (await (__any futures)))
(fn sleep [ms] (await (sleep_async ms)))
(fn future_then [f cb]
  # cb runs among f's callbacks, in registration order; its result (or
  # f's failure, which is handled by being passed on) settles `out`.
  (__future_mark_handled f)
  (var out (new Future))
  (if (! (__future_add_callback f [3 [cb out]])) (__then_run f cb out))
  out)
(fn __then_run [f cb out]
  (case f/.state
    when "success" (try (out .complete (cb (__future_value f))) catch * (out .fail $ex))
    when "failure" (out .fail (__future_value f))
    else (out .cancel)))
(fn future_on_success [f cb]
  (if (! (__future_add_callback f [1 cb]))
    (if (f/.state == "success")
      (try (cb (__future_value f)) catch * (__report_callback_failure $ex))))
  f)
(fn future_on_failure [f cb]
  (__future_mark_handled f)
  (if (! (__future_add_callback f [2 cb]))
    (if (f/.state == "failure")
      (try (cb (__future_value f)) catch * (__report_callback_failure $ex))))
  f)
(fn __run_future_callbacks [f entries]
  (var state f/.state)
  (for entry in entries
    (try
      (case entry/0
        when 1 (if (state == "success") (entry/1 (__future_value f)))
        when 2 (if (state == "failure") (entry/1 (__future_value f)))
        when 3 (__then_run f entry/1/0 entry/1/1))
     catch * (__report_callback_failure $ex)))
  nil)
(fn __http_handle [handler raw] (await (handler (__http_request raw))))
(fn __await_stop [stopped] (await stopped))
(fn select [clauses... ^timeout]
  (var timer (if (timeout != nil) (sleep_async (timeout * 1000))))
  (var picked (__select clauses timer))
  (if (timer != nil) (timer .cancel))
  (if (picked == nil)
    (throw (new TimeoutException #"select: nothing was ready within #{timeout} s")))
  (var index picked/0)
  (var clause (clauses .get index))
  ((clause .get 1) picked/1))
(fn pmap [f coll ^workers]
  (var items [])
  (for x in coll (items .add x))
  (var count (items .size))
  (var n (if (workers == nil) (__worker_count) else workers))
  (if (!(__positive_int n)) (throw (new ArgumentException "pmap: ^workers must be an integer of at least 1")))
  (if (n > count) (n = count))
  (var results [])
  (for i in (range count) (results .add nil))
  (var indexes (chan))
  (for i in (range count) (indexes .send i))
  (indexes .close)
  (scope
    (for w in (range n)
      (async (for i in indexes (__array_set results i (await (f (items .get i))))))))
  results)
(fn __pipeline_stage [stage from out workers counter]
  (var remaining (atom workers))
  (for w in (range workers)
    (async
      (try
        (for x in from
          (out .send (await (stage x)))
          (if counter (counter .swap __increment)))
       finally
        (if ((remaining .swap __decrement) == 0) (out .close))))))
(fn __increment [n] (n + 1))
(fn __decrement [n] (n - 1))
(fn __pipeline_progress [counters done started]
  (loop
    (if (done/.state != "pending") (break nil))
    (var parts [])
    (var seconds (((now_ms) - started) / 1000.0))
    (for c in counters
      (var n c/.value)
      (parts .add #"#{n} (#{(__round_rate n seconds)}/s)"))
    (__progress_line (str/join " -> " parts))
    (try (select ^timeout 0.25 [done (fn [v] nil)]) catch TimeoutException nil))
  (__progress_line nil))
(fn pipeline [source stages... ^buffer ^workers ^progress]
  (var size (if (buffer == nil) 64 else buffer))
  (var per_stage (if (workers == nil) 1 else workers))
  (if (!(__positive_int size)) (throw (new ArgumentException "pipeline: ^buffer must be an integer of at least 1")))
  (if (!(__positive_int per_stage)) (throw (new ArgumentException "pipeline: ^workers must be an integer of at least 1")))
  (var show (&& (progress != false) (__stderr_is_terminal)))
  (async
    (var counters (if show [] else nil))
    (var done (new Future))
    (var started (now_ms))
    (try
      (scope
        (var input (chan size))
        (async (try (for x in source (input .send x)) finally (input .close)))
        (var current input)
        (for stage in stages
          (var out (chan size))
          (var counter nil)
          (if show (do (counter = (atom 0)) (counters .add counter)))
          (__pipeline_stage stage current out per_stage counter)
          (current = out))
        (if show (async (__pipeline_progress counters done started)))
        (var count 0)
        (for x in current (count += 1))
        (done .complete count)
        count)
     finally
      (if (done/.state == "pending") (done .complete nil)))))
(fn io_lines [path ^buffer]
  (var size (if (buffer == nil) 1024 else buffer))
  (if (!(__positive_int size)) (throw (new ArgumentException "io/lines: ^buffer must be an integer of at least 1")))
  (var chunk (if (size < 2) 1 else (quot size 2)))
  (var lines (chan (if (size < 2) 1 else (size - chunk))))
  (var reader (__line_reader path))
  (async
    (try
      (loop
        (var batch (await (__next_lines reader chunk)))
        (if (batch == nil) (break))
        (for line in batch (lines .send line)))
      (lines .close)
     catch ChannelClosedException nil
     catch * (__chan_fail lines $ex)))
  lines)
(fn atom_swap [a f]
  (loop
    (var old a/.value)
    (var new (f old))
    (if (a .compare_and_set old new) (break new))))
)weft";

struct PreludeMethod {
  ObjType type;
  const char* method;
  const char* function;
};

constexpr PreludeMethod kMethods[] = {
    {ObjType::Array, "map", "array_map"},
    {ObjType::Array, "filter", "array_filter"},
    {ObjType::Array, "reduce", "array_reduce"},
    {ObjType::Array, "each", "array_each"},
    {ObjType::Array, "sort_by", "array_sort_by"},
    {ObjType::Range, "map", "array_map"},
    {ObjType::Range, "filter", "array_filter"},
    {ObjType::Range, "reduce", "array_reduce"},
    {ObjType::Range, "each", "array_each"},
    {ObjType::Map, "map", "map_map"},
    {ObjType::Map, "filter", "map_filter"},
    {ObjType::Map, "reduce", "map_reduce"},
    {ObjType::Map, "each", "map_each"},
    {ObjType::Future, "then", "future_then"},
    {ObjType::Future, "on_success", "future_on_success"},
    {ObjType::Future, "on_failure", "future_on_failure"},
    {ObjType::Atom, "swap", "atom_swap"},
};

// Prelude functions that scripts (or the runtime) call by name.
constexpr const char* kExported[] = {
    "await_all",     "await_any",    "sleep",  "__run_future_callbacks",
    "__http_handle", "__await_stop", "select", "pmap", "pipeline"};

// Prelude functions exported under a name a prelude function cannot have.
constexpr std::pair<const char*, const char*> kRenamed[] = {{"io/lines", "io_lines"}};

// (new SomeException "message") compiles to (__new_exception "SomeException" "message").
Value new_exception(NativeCall& call) {
  auto cls = exc_class_from_name(display(call.arg(0)));
  if (!cls) throw_error(ExcClass::ArgumentException, "unknown exception class");
  const Value& message = call.arg(1);
  return make_exception(*cls, message.is(ObjType::String) ? message.as<String>()->view()
                                                          : std::string_view(display(message)));
}

}  // namespace

void register_prelude(Runtime& runtime) {
  runtime.register_native("__new_exception", new_exception, 1, 2);

  auto source = std::make_shared<SourceFile>(SourceFile{"<prelude>", kPrelude});
  auto module = std::make_unique<Module>("<prelude>");
  Proto* main = nullptr;
  try {
    std::vector<NodePtr> program = read_program(*source);
    main = compile_program(runtime, *module, source, program);
  } catch (const ParseError& e) {
    throw std::logic_error(format_diagnostic(*source, e.loc, e.message));
  } catch (const CompileError& e) {
    throw std::logic_error(format_diagnostic(*source, e.loc, e.message));
  }
  Fiber fiber;
  Vm vm(runtime);
  vm.start(fiber, Value::adopt(Closure::make(main)), {});
  if (vm.run_to_end(fiber) != RunStatus::Completed) {
    throw std::logic_error("the prelude failed to run");
  }
  for (const PreludeMethod& m : kMethods) {
    int64_t slot = module->find(m.function);
    if (slot < 0) throw std::logic_error(std::string("prelude lacks ") + m.function);
    runtime.register_method(m.type, m.method, module->slot(static_cast<uint32_t>(slot)).load());
  }
  for (const char* name : kExported) {
    int64_t slot = module->find(name);
    if (slot < 0) throw std::logic_error(std::string("prelude lacks ") + name);
    runtime.register_builtin(name, module->slot(static_cast<uint32_t>(slot)).load());
  }
  for (const auto& [name, function] : kRenamed) {
    int64_t slot = module->find(function);
    if (slot < 0) throw std::logic_error(std::string("prelude lacks ") + function);
    Value exported = module->slot(static_cast<uint32_t>(slot)).load();
    // Its errors, stack frames and printed form use the name scripts call
    // it by (io/lines), not the prelude's (io_lines). No task runs yet,
    // so the prototype can still change.
    if (exported.is(ObjType::Closure)) exported.as<Closure>()->proto()->name = name;
    runtime.register_builtin(name, std::move(exported));
  }
  runtime.keep_module(std::move(module));
}

}  // namespace weft
