// Methods written in Weft itself: the ones that call back into script code
// (.map, .filter, .reduce, .each, .sort_by). Being bytecode, they run as
// ordinary frames of the calling task, so a callback may do anything a
// script can (including, later, suspend) without the C++ stack in between.
#include <memory>
#include <stdexcept>

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
(fn future_then [f cb] (async (cb (await f))))
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
      (if (entry/0 == 1)
        (if (state == "success") (entry/1 (__future_value f)))
       else
        (if (state == "failure") (entry/1 (__future_value f))))
     catch * (__report_callback_failure $ex)))
  nil)
(fn __http_handle [handler request] (await (handler request)))
(fn __await_stop [stopped] (await stopped))
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
    {ObjType::Array, "map", "array_map"},         {ObjType::Array, "filter", "array_filter"},
    {ObjType::Array, "reduce", "array_reduce"},   {ObjType::Array, "each", "array_each"},
    {ObjType::Array, "sort_by", "array_sort_by"}, {ObjType::Range, "map", "array_map"},
    {ObjType::Range, "filter", "array_filter"},   {ObjType::Range, "reduce", "array_reduce"},
    {ObjType::Range, "each", "array_each"},       {ObjType::Map, "map", "map_map"},
    {ObjType::Map, "filter", "map_filter"},       {ObjType::Map, "reduce", "map_reduce"},
    {ObjType::Map, "each", "map_each"},
    {ObjType::Future, "then", "future_then"},
    {ObjType::Future, "on_success", "future_on_success"},
    {ObjType::Future, "on_failure", "future_on_failure"},
    {ObjType::Atom, "swap", "atom_swap"},
};

// Prelude functions that scripts (or the runtime) call by name.
constexpr const char* kExported[] = {"await_all", "await_any", "sleep", "__run_future_callbacks",
                                     "__http_handle", "__await_stop"};

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
  vm.start(fiber, Value::adopt(new Closure(main)), {});
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
  runtime.keep_module(std::move(module));
}

}  // namespace weft
