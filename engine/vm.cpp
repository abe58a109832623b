// The interpreter loop.
//
// One body serves both dispatch builds: with WEFT_COMPUTED_GOTO each
// handler jumps straight to the next one through a label table (GCC's
// labels as values); without it, the same handlers are cases of a switch.
//
// Script calls never recurse here: CALL pushes a Frame on the fiber and
// continues the loop in the callee; RETURN pops it. Errors raised by
// helpers and natives are C++ exceptions (ScriptError, ScriptThrow) caught
// around the loop, turned into script exceptions and delivered to the
// innermost handler of the fiber, or they end the fiber.
#include "engine/vm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <string>

#include "engine/access.h"
#include "engine/arithmetic.h"
#include "engine/array.h"
#include "engine/array_cursor.h"
#include "engine/channel.h"
#include "engine/debug.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/map.h"
#include "engine/range.h"
#include "engine/script_task.h"
#include "engine/string.h"
#include "engine/task_scope.h"

namespace weft {

namespace {

std::string plural(int64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

[[noreturn]] void arity_error(const std::string& name, int64_t min, int64_t max, int64_t got) {
  std::string expected;
  if (max < 0) {
    expected = "at least " + plural(min, "argument");
  } else if (min == max) {
    expected = plural(min, "argument");
  } else if (got < min) {
    expected = "at least " + plural(min, "argument");
  } else {
    expected = "at most " + plural(max, "argument");
  }
  throw_error(ExcClass::ArgumentException,
              name + " expects " + expected + ", got " + std::to_string(got));
}

// Int against Float compares exactly (not through a double, which would
// round large Ints); NaN is unordered: every comparison with it is false.
bool mixed_unordered(const Value& a, const Value& b) {
  return (a.is_float() && std::isnan(a.as_float())) || (b.is_float() && std::isnan(b.as_float()));
}

bool less_than(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) return a.as_int() < b.as_int();
  if (a.is_float() && b.is_float()) return a.as_float() < b.as_float();
  if (a.is_number() && b.is_number() && mixed_unordered(a, b)) return false;
  return compare_values(a, b) < 0;
}

bool less_equal(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) return a.as_int() <= b.as_int();
  if (a.is_float() && b.is_float()) return a.as_float() <= b.as_float();
  if (a.is_number() && b.is_number() && mixed_unordered(a, b)) return false;
  return compare_values(a, b) <= 0;
}

// For `a > b` compiled as `b < a`: compares in the script's order; -2 when
// unordered (NaN), which every caller treats as false.
int compare_swapped(const Value& a, const Value& b) {
  if (a.is_float() && b.is_float()) {
    double x = a.as_float();
    double y = b.as_float();
    return x < y ? -1 : (x > y ? 1 : (x == y ? 0 : -2));
  }
  if (a.is_number() && b.is_number() && mixed_unordered(a, b)) return -2;
  return compare_values(a, b);
}

bool equal(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
  // Strings are what `case` and `==` compare most after Ints.
  if (a.is(ObjType::String) && b.is(ObjType::String)) {
    return a.as<String>()->view() == b.as<String>()->view();
  }
  return values_equal(a, b);
}

// Counted loops: the number of steps of from..to (inclusive) or of
// range(from, to, step) (exclusive), and the step.
void counted_loop_bounds(const Value& from, const Value& to, const Value& step_value,
                         bool step_range, int64_t& count, int64_t& step) {
  if (!from.is_int() || !to.is_int() || (step_range && !step_value.is_int())) {
    throw_error(ExcClass::TypeException,
                "range bounds must be Int, got " + type_name(!from.is_int() ? from
                                                             : !to.is_int() ? to
                                                                            : step_value));
  }
  __int128 a = from.as_int();
  __int128 b = to.as_int();
  __int128 n = 0;
  if (step_range) {
    __int128 s = step_value.as_int();
    if (s == 0) throw_error(ExcClass::ArgumentException, "range step must not be 0");
    if (s > 0 && b > a) n = (b - a + s - 1) / s;
    if (s < 0 && b < a) n = (a - b - s - 1) / -s;
    step = static_cast<int64_t>(s);
  } else {
    step = b >= a ? 1 : -1;
    n = (b >= a ? b - a : a - b) + 1;
  }
  if (n > INT64_MAX) throw_error(ExcClass::ArgumentException, "range too large");
  count = static_cast<int64_t>(n);
}

void trace(const Proto* proto, const Instr* at) {
  std::fprintf(stderr, "[trace] %s:%zu %s\n", proto->name.c_str(),
               static_cast<size_t>(at - proto->code.data()), opcode_name(at->op));
}

}  // namespace

// ---- frames and errors --------------------------------------------------------

std::vector<std::string> stack_lines(const Fiber& f) {
  std::vector<std::string> lines;
  for (size_t i = f.frames.size(); i-- > 0;) {
    const Frame& frame = f.frames[i];
    const Proto* p = frame.closure->proto();
    size_t pc = static_cast<size_t>(frame.pc - p->code.data());
    SourceLoc loc = p->location_at(pc == 0 ? 0 : pc - 1);
    lines.push_back(p->name + " (" + (p->source ? p->source->name : "?") + ":" +
                    std::to_string(loc.line) + ":" + std::to_string(loc.column) + ")");
    if (lines.size() >= 64 && i > 16) {
      lines.push_back("... " + std::to_string(i - 16) + " more frames");
      i = 16;
    }
  }
  return lines;
}

namespace {

void grow_stack(Fiber& f, size_t needed) {
  if (needed > Fiber::kMaxStackSlots) throw_error(ExcClass::RuntimeException, "stack overflow");
  size_t size = f.stack.size() * 2;
  if (size < needed) size = needed;
  if (size > Fiber::kMaxStackSlots) size = Fiber::kMaxStackSlots;
  f.stack.resize(size);
}

// Drops the registers of the frame at `base` (and the callee slot below it)
// so that nothing is kept alive by a finished call.
void clear_frame(Fiber& f, uint32_t base, uint16_t num_registers) {
  size_t end = base + num_registers;
  if (end > f.stack.size()) end = f.stack.size();
  for (size_t i = base - 1; i < end; ++i) {
    if (f.stack[i].is_object() || f.stack[i].is_missing()) f.stack[i] = Value();
  }
}

Value build_trace(const Fiber& f) {
  std::vector<Value> lines;
  for (std::string& line : stack_lines(f)) lines.push_back(make_string(line));
  return make_array(std::move(lines));
}

Value as_exception(Value thrown) {
  if (thrown.is(ObjType::Exception)) return thrown;
  std::string message = thrown.is(ObjType::String) ? thrown.as<String>()->str() : display(thrown);
  return make_exception(ExcClass::Exception, message,
                        thrown.is(ObjType::String) ? Value() : std::move(thrown));
}

// Delivers `exception` to the innermost handler: unwinds the frames above
// it and points its frame at the handler. False when no handler is left.
// True when any frame of `f` is inside a range its code shields from
// cancellation (Proto::shielded_ranges). The top frame's saved pc is the
// next instruction to run; a caller's is the instruction after its call.
bool cancellation_shielded(const Fiber& f) {
  for (size_t i = f.frames.size(); i-- > 0;) {
    const Frame& frame = f.frames[i];
    const Proto& proto = *frame.closure->proto();
    if (proto.shielded_ranges.empty()) continue;
    size_t index = static_cast<size_t>(frame.pc - proto.code.data());
    if (i + 1 < f.frames.size()) --index;
    for (const auto& [begin, end] : proto.shielded_ranges) {
      if (index >= begin && index < end) return true;
    }
  }
  return false;
}

// A fiber suspended in an await that it now leaves (an interrupt): the
// awaited future's operation is cancelled if nobody else can see it
// (Future rule 5), so a cancelled sleep frees its timer at once.
void cancel_abandoned_operation(const Fiber& f) {
  if (f.frames.empty()) return;
  const Frame& top = f.frames.back();
  if (top.pc->op != Opcode::AWAIT) return;
  const Value& awaited = f.stack[top.base + top.pc->b];
  if (awaited.is(ObjType::Future)) awaited.as<Future>()->cancel_if_abandoned();
}

// Whether take_interrupt can find anything; most runs of most tasks have no
// cancellation pending and no scope open, and need not call it.
bool interrupt_possible(ScriptTask& task) {
  return task.cancellation_pending() || !task.open_scopes().empty();
}

// The CancellationException to raise in the task now, or nil: its own
// cancellation, else the first failure in one of its open scopes
// (TaskScope rule 6); nothing while the fiber is in a shielded range.
Value take_interrupt(const Fiber& f, ScriptTask& task) {
  if (!interrupt_possible(task)) return Value();
  if (cancellation_shielded(f)) return Value();
  if (task.cancellation_pending()) {
    task.mark_cancellation_delivered();
    task.abandon_wait();
    cancel_abandoned_operation(f);
    return make_exception(ExcClass::CancellationException, "task was cancelled");
  }
  for (auto& scope : task.open_scopes()) {
    if (scope->take_interrupt()) {
      task.abandon_wait();
      cancel_abandoned_operation(f);
      return make_exception(ExcClass::CancellationException,
                            "cancelled: another task in its scope failed");
    }
  }
  return Value();
}

// One receive for `for x in channel`: true with the item in `out`, or with
// `out` missing once the channel is closed and drained; false when the
// task parked.
bool receive_for_loop(const Value& channel, Value& out, ScriptTask* task) {
  switch (receive_or_park(channel, out, task)) {
    case ChannelOp::Done:
      return true;
    case ChannelOp::Closed:
      out = Value::missing();
      return true;
    case ChannelOp::Failed:
      throw ScriptThrow{std::move(out)};
    case ChannelOp::Parked:
      return false;
    case ChannelOp::WouldBlock:
      break;
  }
  throw_error(ExcClass::ConcurrencyException, "receive on an empty channel outside a task");
}

// ITERNEXT over an array; `loop` are the loop's hidden registers: the
// array, where the loop stands, the position and the item. Where it
// stands is a position until the loop has at least kCursorRemaining items
// left of an array that other tasks can reach and that is not frozen; then
// an ArrayCursor, which takes the array's lock once per chunk of items
// instead of once per item, and, if `may_lend`, puts items in the loop
// variable without counting references (engine/array_cursor.h).
bool next_array_item(const Array& array, Value* loop, bool may_lend) {
  constexpr size_t kCursorRemaining = 8;
  Value& place = loop[1];
  if (place.is_int()) {
    const auto position = static_cast<size_t>(place.as_int());
    const Reach reach = reach_of_register(loop[0]);
    size_t size = 0;
    Value item;
    if (!array.try_get(position, item, size, reach)) return false;
    loop[2] = Value::integer(static_cast<int64_t>(position));
    loop[3] = std::move(item);
    if (reach == Reach::Shared && size - position > kCursorRemaining && !array.is_frozen()) {
      place = ArrayCursor::start(loop[0], position + 1, may_lend);
    } else {
      place = Value::integer(static_cast<int64_t>(position + 1));
    }
    return true;
  }
  size_t position = 0;
  if (!place.as<ArrayCursor>()->next(array, loop[3], position)) return false;
  loop[2] = Value::integer(static_cast<int64_t>(position));
  return true;
}

// The reach of the value in register `reg` of the running frame (object.h
// rule 6). A loop variable that holds a lent item (array_cursor.h rule 3)
// counts no reference, so a count of one says nothing of who else can
// reach the item: the array and its other readers can. A loop's variable
// is two registers above its cursor.
Reach reach_of(const Value* R, uint32_t reg) {
  const Reach reach = reach_of_register(R[reg]);
  if (reach == Reach::Sole && reg >= 2 && R[reg - 2].is(ObjType::ArrayCursor) &&
      R[reg - 2].as<ArrayCursor>()->lends_variable()) {
    return Reach::Shared;
  }
  return reach;
}

// A task about to suspend in a park: a cancellation that waited for it to
// leave a shielded range is raised now instead (as AWAIT does), and the
// park is given up.
void park_interrupt_check(const Fiber& f, ScriptTask& task) {
  Value interrupt = take_interrupt(f, task);
  if (interrupt.is_nil()) return;
  task.end_park(true);
  throw ScriptThrow{std::move(interrupt)};
}

bool deliver(Fiber& f, Value exception) {
  Exception* e = exception.as<Exception>();
  if (!e->has_trace()) e->set_trace(build_trace(f));
  if (f.handlers.empty()) {
    while (!f.frames.empty()) {
      const Frame& top = f.frames.back();
      f.settle_lent_items(top);
      clear_frame(f, top.base, top.closure->proto()->num_registers);
      f.frames.pop_back();
    }
    f.exception = std::move(exception);
    return false;
  }
  Handler h = f.handlers.back();
  f.handlers.pop_back();
  while (f.frames.size() > h.frame + 1) {
    const Frame& top = f.frames.back();
    f.settle_lent_items(top);
    clear_frame(f, top.base, top.closure->proto()->num_registers);
    f.frames.pop_back();
  }
  Frame& frame = f.frames.back();
  // The handler may be outside a loop that lends, whose registers other
  // code then reuses.
  f.settle_lent_items(frame);
  frame.pc = frame.closure->proto()->code.data() + h.target;
  f.stack[frame.base + h.exception_register] = std::move(exception);
  return true;
}

// Fits `count` arguments at `base` to the parameters of `proto`: packs the
// rest array, marks missing ones, applies keyword arguments, checks arity.
// A method call passes its receiver as a hidden first argument; its arity
// errors name the method and count only what the script wrote.
struct CallSite {
  const String* method = nullptr;
};

// The name a script knows the callee by: the method's (`map`, not the
// prelude's `array_map`) when the call was a method call.
std::string callee_name(const CallSite& site, const std::string& name) {
  return site.method == nullptr ? name : site.method->str();
}

[[noreturn]] void arity_error_at(const CallSite& site, const std::string& name, int64_t min,
                                 int64_t max, int64_t got) {
  if (site.method == nullptr) arity_error(name, min, max, got);
  arity_error(site.method->str(), min - 1, max < 0 ? -1 : max - 1, got - 1);
}

void bind_arguments(Fiber& f, const Proto& proto, uint32_t base, uint32_t count, bool has_keywords,
                    const CallSite& site = {}) {
  // Registers never hold Missing once a prologue ran, so arguments in
  // place need no check.
  if (proto.arguments_in_place(count, has_keywords)) return;
  Value* args = f.stack.data() + base;
  Value keywords;
  if (has_keywords) {
    --count;
    keywords = std::move(args[count]);
  }
  uint32_t positional = proto.num_positional;
  if (count > positional) {
    if (!proto.has_rest) {
      arity_error_at(site, proto.name, proto.num_required, positional, count);
    }
    std::vector<Value> extra;
    extra.reserve(count - positional);
    for (uint32_t i = positional; i < count; ++i) extra.push_back(std::move(args[i]));
    args[positional] = make_array(std::move(extra));
  } else {
    for (uint32_t i = count; i < positional; ++i) args[i] = Value::missing();
    if (proto.has_rest) args[positional] = make_array();
  }
  for (const KeywordParam& kp : proto.keyword_params) args[kp.reg] = Value::missing();
  if (has_keywords) {
    for (auto& [key, value] : keywords.as<Map>()->entries()) {
      std::string_view name = key.as<String>()->view();
      bool bound = false;
      // A method's receiver is hidden (as in its arity errors): it cannot
      // be named, and its parameter's name is not the script's to know.
      for (uint32_t i = site.method == nullptr ? 0 : 1; i < positional && !bound; ++i) {
        if (proto.positional_names[i].as<String>()->view() == name) {
          if (i < count) {
            throw_error(
                ExcClass::ArgumentException,
                callee_name(site, proto.name) + " got two values for '" + std::string(name) + "'");
          }
          args[i] = value;
          bound = true;
        }
      }
      for (const KeywordParam& kp : proto.keyword_params) {
        if (!bound && kp.name.as<String>()->view() == name) {
          args[kp.reg] = value;
          bound = true;
        }
      }
      if (!bound) {
        throw_error(
            ExcClass::ArgumentException,
            callee_name(site, proto.name) + " has no parameter named '" + std::string(name) + "'");
      }
    }
  }
  for (uint32_t i = 0; i < proto.num_required; ++i) {
    if (args[i].is_missing())
      arity_error_at(site, proto.name, proto.num_required, proto.has_rest ? -1 : positional, count);
  }
}

// A task started inside nested scopes belongs to the innermost one; the
// outer scopes see that scope's outcome, not the task's.
std::vector<std::shared_ptr<TaskScope>> innermost_scope(ScriptTask* task) {
  if (task == nullptr || task->open_scopes().empty()) return {};
  return {task->open_scopes().back()};
}

// The failure of an awaited future, rethrown in the awaiting task: the same
// class, message and value, with a trace that continues from the failed
// task's frames into the awaiter's (the async stack trace).
Value awaited_exception(const Value& failure, const Fiber& f) {
  if (!failure.is(ObjType::Exception)) return as_exception(failure);
  const Exception& original = *failure.as<Exception>();
  std::vector<Value> lines;
  Value trace = original.trace();
  if (trace.is(ObjType::Array)) lines = trace.as<Array>()->snapshot();
  lines.push_back(make_string("(awaited)"));
  for (Value& line : build_trace(f).as<Array>()->snapshot()) lines.push_back(std::move(line));
  Value copy = Value::adopt(new Exception(original.cls(), original.message(), original.payload()));
  copy.as<Exception>()->set_trace(make_array(std::move(lines)));
  return copy;
}

}  // namespace

void Vm::start(Fiber& fiber, const Value& callable, std::vector<Value> args, bool has_keywords) {
  // Exactly the slots the entry frame needs: a million suspended tasks
  // each keep this stack, so it starts small and grows on deeper calls.
  fiber.stack.clear();
  fiber.stack.shrink_to_fit();
  enter(fiber, callable, args, has_keywords);
}

namespace {

// The registers a call of `callable` with `count` arguments starts with.
size_t entry_slots(const Value& callable, size_t count) {
  size_t needed = count + 2;
  if (callable.is(ObjType::Closure)) {
    needed = std::max(needed, size_t{2} + callable.as<Closure>()->proto()->num_registers);
  }
  return needed;
}

// The register that BORROW filled with an uncounted copy of a receiver
// (Value::borrowed), until the INVOKE after it gives the copy up: forgets
// it, or takes a reference for it when the method is not native (a script
// function may keep or overwrite its parameter). Only a native runs while a
// copy is borrowed, and natives never move their receiver out. An
// exception in between forgets it (the catch blocks; this destructor when
// one leaves Vm::run), so the holder's reference is never released twice.
class BorrowedReceiver {
 public:
  explicit BorrowedReceiver(Fiber& fiber) : fiber_(fiber) {}
  BorrowedReceiver(const BorrowedReceiver&) = delete;
  BorrowedReceiver& operator=(const BorrowedReceiver&) = delete;
  ~BorrowedReceiver() { forget(); }

  void hold(size_t slot) { slot_ = slot; }
  void forget() {
    if (slot_ != kNone) fiber_.stack[slot_].forget();
    slot_ = kNone;
  }
  void own() {
    if (slot_ != kNone) fiber_.stack[slot_].take_reference();
    slot_ = kNone;
  }

 private:
  static constexpr size_t kNone = SIZE_MAX;
  Fiber& fiber_;
  size_t slot_ = kNone;
};

bool same_value(const Value& a, const Value& b) {
  return a.tag() == b.tag() && a.raw_payload() == b.raw_payload();
}

}  // namespace

void Vm::start_again(Fiber& fiber, const Value& callable, std::span<Value> args) {
  // The last call's registers are overwritten rather than destroyed and
  // made again; a callable or argument that is the very value its register
  // holds already is not counted once more (and stays in `args`).
  // Registers added by the resize are nil already; those the last call
  // left drop their references.
  const size_t needed = entry_slots(callable, args.size());
  const size_t kept = std::min(fiber.stack.size(), needed);
  fiber.stack.resize(needed);
  if (!same_value(fiber.stack[0], callable)) fiber.stack[0] = callable;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!same_value(fiber.stack[i + 1], args[i])) fiber.stack[i + 1] = std::move(args[i]);
  }
  fiber.drop_references(args.size() + 1, kept);
  enter(fiber, callable, static_cast<uint32_t>(args.size()), false);
}

void Vm::enter(Fiber& fiber, const Value& callable, std::span<Value> args, bool has_keywords) {
  fiber.stack.resize(entry_slots(callable, args.size()));
  fiber.stack[0] = callable;
  for (size_t i = 0; i < args.size(); ++i) fiber.stack[i + 1] = std::move(args[i]);
  enter(fiber, callable, static_cast<uint32_t>(args.size()), has_keywords);
}

void Vm::enter(Fiber& fiber, const Value& callable, uint32_t count, bool has_keywords) {
  fiber.frames.reset();
  fiber.handlers.clear();
  fiber.result = Value();
  fiber.exception = Value();
  try {
    if (callable.is(ObjType::Native)) {
      // A native runs to its end here; the fiber is complete at once.
      const Native& native = *callable.as<Native>();
      Map* keywords = nullptr;
      if (has_keywords) {
        keywords = fiber.stack[count--].as<Map>();
        native.check_keywords(*keywords);
      }
      if (static_cast<int>(count) < native.min_args() ||
          (native.max_args() >= 0 && static_cast<int>(count) > native.max_args())) {
        arity_error(native.name(), native.min_args(), native.max_args(), count);
      }
      NativeCall call{runtime_, fiber.stack.data() + 1, count, keywords};
      call.callee = &native;
      fiber.result = native.fn()(call);
      return;
    }
    if (!callable.is(ObjType::Closure)) {
      throw_error(ExcClass::TypeException, "cannot call " + type_name(callable));
    }
    Closure* closure = callable.as<Closure>();
    const Proto& proto = *closure->proto();
    if (!proto.arguments_in_place(count, has_keywords)) {
      bind_arguments(fiber, proto, 1, count, has_keywords);
    }
    fiber.frames.push_back(Frame{closure, proto.code.data(), 1, 0});
  } catch (const ScriptError& e) {
    fiber.exception = make_exception(e.cls, e.message);
  } catch (ScriptThrow& t) {
    fiber.exception = std::move(t.exception);
  }
}

RunStatus Vm::run_to_end(Fiber& fiber) {
  for (;;) {
    RunStatus status = run(fiber, 1 << 20);
    if (status != RunStatus::Yielded) return status;
  }
}

RunStatus Vm::run(Fiber& f, int64_t budget, ScriptTask* task) {
  budget_left_ = budget;
  if (f.frames.empty()) return f.exception.is_nil() ? RunStatus::Completed : RunStatus::Failed;
  // Entering again after a yield or a wake is a preemption or await point:
  // a cancellation requested meanwhile is raised here, once.
  if (task != nullptr) {
    Value interrupt = interrupt_possible(*task) ? take_interrupt(f, *task) : Value();
    task->end_park(!interrupt.is_nil());  // ScriptTask rule 4
    if (!interrupt.is_nil() && !deliver(f, std::move(interrupt))) return RunStatus::Failed;
  }

  Frame* frame = nullptr;
  Closure* closure = nullptr;
  const Proto* proto = nullptr;
  const Instr* pc = nullptr;
  Value* R = nullptr;
  const Value* K = nullptr;
  Instr ins{};

#define LOAD_FRAME()                  \
  do {                                \
    frame = &f.frames.back();         \
    closure = frame->closure;         \
    proto = closure->proto();         \
    pc = frame->pc;                   \
    R = f.stack.data() + frame->base; \
    K = proto->constants.data();      \
  } while (0)

#define RKB() ((ins.flags & kFlagKB) ? K[ins.b] : R[ins.b])
#define RKC() ((ins.flags & kFlagKC) ? K[ins.c] : R[ins.c])
#define SPEND_BUDGET()           \
  do {                           \
    if (--budget <= 0) {         \
      frame->pc = pc;            \
      return RunStatus::Yielded; \
    }                            \
  } while (0)

  BorrowedReceiver borrowed(f);
  for (;;) {
    try {
      LOAD_FRAME();
      // Set by CALL and INVOKE for the shared call sequence below.
      uint16_t call_base = 0;
      uint32_t call_count = 0;
      bool call_keywords = false;
      bool call_fresh_last = false;  // see NativeCall::last_arg_fresh
      bool call_rerunnable = true;   // see NativeCall::can_park
      bool call_borrowed = false;    // a native's receiver is borrowed
      CallSite call_site;

#ifdef WEFT_COMPUTED_GOTO
      static const void* const kDispatch[] = {
#define OP(name, shape, effect) &&op_##name,
#include "engine/opcodes.def"
#undef OP
      };
#define DISPATCH()                                              \
  do {                                                          \
    ins = *pc++;                                                \
    if constexpr (debug::kTraceExecution) trace(proto, pc - 1); \
    goto* kDispatch[static_cast<uint8_t>(ins.op)];              \
  } while (0)
#define CASE(name) op_##name:
#define NEXT DISPATCH()
      DISPATCH();
      {
#else
#define CASE(name) case Opcode::name:
#define NEXT continue
      for (;;) {
        ins = *pc++;
        if constexpr (debug::kTraceExecution) trace(proto, pc - 1);
        switch (ins.op) {
#endif
        CASE(MOVE) {
          R[ins.a] = R[ins.b];
          NEXT;
        }
        CASE(LOADK) {
          R[ins.a] = K[ins.bx()];
          NEXT;
        }
        CASE(LOADI) {
          R[ins.a] = Value::integer(ins.sbx());
          NEXT;
        }
        CASE(LOADNIL) {
          for (uint32_t i = 0; i <= ins.b; ++i) R[ins.a + i] = Value();
          NEXT;
        }
        CASE(LOADTRUE) {
          R[ins.a] = Value::boolean(true);
          NEXT;
        }
        CASE(LOADFALSE) {
          R[ins.a] = Value::boolean(false);
          NEXT;
        }
        CASE(GETGLOBAL) {
          Value g = proto->module->slot(ins.bx()).load();
          if (g.is_missing()) {
            throw_error(ExcClass::RuntimeException, "variable '" +
                                                        proto->module->global_name(ins.bx()) +
                                                        "' used before its definition");
          }
          R[ins.a] = std::move(g);
          NEXT;
        }
        CASE(SETGLOBAL) {
          proto->module->slot(ins.bx()).store(R[ins.a]);
          NEXT;
        }
        CASE(GETBUILTIN) {
          R[ins.a] = runtime_.builtin(ins.bx());
          NEXT;
        }
        CASE(NEWCELL) {
          Value cell = Value::adopt(new Cell(R[ins.b]));
          R[ins.a] = std::move(cell);
          NEXT;
        }
        CASE(GETCELL) {
          R[ins.a] = R[ins.b].as<Cell>()->get();
          NEXT;
        }
        CASE(SETCELL) {
          R[ins.a].as<Cell>()->set(R[ins.b]);
          NEXT;
        }
        CASE(GETUPVAL) {
          R[ins.a] = closure->cell(ins.b)->get();
          NEXT;
        }
        CASE(SETUPVAL) {
          closure->cell(ins.a)->set(R[ins.b]);
          NEXT;
        }
        CASE(GETCAPTURED) {
          R[ins.a] = closure->capture(ins.b);
          NEXT;
        }
        CASE(CLOSURE) {
          Proto* p = K[ins.bx()].as<Proto>();
          Closure* made = Closure::make(p);
          Value held = Value::adopt(made);
          for (size_t i = 0; i < p->upvalues.size(); ++i) {
            const UpvalueDesc& uv = p->upvalues[i];
            made->capture(i) = uv.from_parent_register ? R[uv.index] : closure->capture(uv.index);
          }
          if (ins.flags & kFlagImmortal) proto->module->adopt_immortal(made);
          R[ins.a] = std::move(held);
          NEXT;
        }
        CASE(SELF) {
          R[ins.a] = Value::share(closure);
          NEXT;
        }
        CASE(ADD) {
          const Value& b = RKB();
          const Value& c = RKC();
          int64_t r;
          if (b.is_int() && c.is_int()) {
            if (__builtin_add_overflow(b.as_int(), c.as_int(), &r)) throw_integer_overflow();
            R[ins.a] = Value::integer(r);
          } else if (b.is_float() && c.is_float()) {
            R[ins.a] = Value::floating(b.as_float() + c.as_float());
          } else {
            R[ins.a] = arithmetic(Opcode::ADD, b, c);
          }
          NEXT;
        }
        CASE(SUB) {
          const Value& b = RKB();
          const Value& c = RKC();
          int64_t r;
          if (b.is_int() && c.is_int()) {
            if (__builtin_sub_overflow(b.as_int(), c.as_int(), &r)) throw_integer_overflow();
            R[ins.a] = Value::integer(r);
          } else {
            R[ins.a] = arithmetic(Opcode::SUB, b, c);
          }
          NEXT;
        }
        CASE(MUL) {
          const Value& b = RKB();
          const Value& c = RKC();
          int64_t r;
          if (b.is_int() && c.is_int()) {
            if (__builtin_mul_overflow(b.as_int(), c.as_int(), &r)) throw_integer_overflow();
            R[ins.a] = Value::integer(r);
          } else {
            R[ins.a] = arithmetic(Opcode::MUL, b, c);
          }
          NEXT;
        }
        CASE(DIV) {
          R[ins.a] = arithmetic(Opcode::DIV, RKB(), RKC());
          NEXT;
        }
        CASE(MOD) {
          const Value& b = RKB();
          const Value& c = RKC();
          if (b.is_int() && c.is_int() && c.as_int() > 0) {
            R[ins.a] = Value::integer(floored_mod(b.as_int(), c.as_int()));
          } else {
            R[ins.a] = arithmetic(Opcode::MOD, b, c);
          }
          NEXT;
        }
        CASE(ADDI) {
          const Value& b = R[ins.b];
          int64_t r;
          if (b.is_int()) {
            if (__builtin_add_overflow(b.as_int(), static_cast<int64_t>(ins.sc()), &r))
              throw_integer_overflow();
            R[ins.a] = Value::integer(r);
          } else {
            R[ins.a] = (ins.flags & kFlagSubtracted)
                           ? arithmetic(Opcode::SUB, b, Value::integer(-ins.sc()))
                           : arithmetic(Opcode::ADD, b, Value::integer(ins.sc()));
          }
          NEXT;
        }
        CASE(NEG) {
          const Value& b = R[ins.b];
          if (b.is_int()) {
            if (b.as_int() == INT64_MIN) throw_integer_overflow();
            R[ins.a] = Value::integer(-b.as_int());
          } else if (b.is_float()) {
            R[ins.a] = Value::floating(-b.as_float());
          } else {
            throw_error(ExcClass::TypeException, "cannot negate " + type_name(b));
          }
          NEXT;
        }
        CASE(NOT) {
          R[ins.a] = Value::boolean(!R[ins.b].truthy());
          NEXT;
        }
        CASE(EQ) {
          const Value& b = RKB();
          const Value& c = RKC();
          const bool same = b.is_int() && c.is_int() ? b.as_int() == c.as_int() : equal(b, c);
          R[ins.a] = Value::boolean(same);
          NEXT;
        }
        CASE(NE) {
          const Value& b = RKB();
          const Value& c = RKC();
          const bool same = b.is_int() && c.is_int() ? b.as_int() == c.as_int() : equal(b, c);
          R[ins.a] = Value::boolean(!same);
          NEXT;
        }
        CASE(LT) {
          const Value& b = RKB();
          const Value& c = RKC();
          if (b.is_int() && c.is_int()) {
            R[ins.a] = Value::boolean(b.as_int() < c.as_int());
          } else if (ins.flags & kFlagSwapped) {
            R[ins.a] = Value::boolean(compare_swapped(c, b) > 0);
          } else {
            R[ins.a] = Value::boolean(less_than(b, c));
          }
          NEXT;
        }
        CASE(LE) {
          const Value& b = RKB();
          const Value& c = RKC();
          if (b.is_int() && c.is_int()) {
            R[ins.a] = Value::boolean(b.as_int() <= c.as_int());
          } else if (ins.flags & kFlagSwapped) {
            R[ins.a] = Value::boolean(compare_swapped(c, b) >= 0);
          } else {
            R[ins.a] = Value::boolean(less_equal(b, c));
          }
          NEXT;
        }
        CASE(JMP) {
          int32_t offset = ins.sbx();
          pc += offset;
          if (offset < 0) SPEND_BUDGET();
          NEXT;
        }
        CASE(JMPIF) {
          if (R[ins.a].truthy()) pc += ins.sbx();
          NEXT;
        }
        CASE(JMPIFNOT) {
          if (!R[ins.a].truthy()) pc += ins.sbx();
          NEXT;
        }
        CASE(JMPIFPRESENT) {
          if (!R[ins.a].is_missing()) pc += ins.sbx();
          NEXT;
        }
        CASE(CALL) {
          call_base = ins.a;
          call_count = ins.b;
          call_keywords = (ins.flags & kFlagKeywords) != 0;
          call_fresh_last = false;
          call_site.method = nullptr;
          call_rerunnable = true;
          call_borrowed = false;
          goto do_call;
        }
        CASE(BORROW) {
          const Value& source =
              (ins.flags & kFlagFromCapture) != 0 ? closure->capture(ins.b) : R[ins.b];
          R[ins.a] = Value::borrowed(source);
          borrowed.hold(frame->base + ins.a);
          NEXT;
        }
        CASE(INVOKE) {
          const String* name = K[ins.c].as<String>();
          Value& receiver = R[ins.a + 1];
          const Value* method = nullptr;
          if (receiver.is_object()) {
            const ObjType type = receiver.as_object()->type();
            method = proto->method_cache.find(ins.c, type);
            if (method == nullptr) {
              method = runtime_.find_method(type, name->view());
              if (method != nullptr) proto->method_cache.remember(ins.c, type, method);
            }
          }
          call_base = ins.a;
          call_keywords = (ins.flags & kFlagKeywords) != 0;
          call_fresh_last = (ins.flags & kFlagFreshLastArg) != 0;
          call_site.method = nullptr;
          call_rerunnable = true;
          call_borrowed = false;
          if ((ins.flags & kFlagBorrowedReceiver) != 0) {
            if (method != nullptr && method->is(ObjType::Native)) {
              call_borrowed = true;
            } else {
              borrowed.own();
            }
          }
          if (method != nullptr) {
            R[ins.a] = *method;
            call_count = ins.b + 1u;
            call_site.method = name;
            goto do_call;
          }
          if (receiver.is(ObjType::Map)) {
            // An object made of a map of functions: (obj .greet x).
            Value fn;
            if (!receiver.as<Map>()->find(name->view(), fn)) {
              throw_error(ExcClass::TypeException,
                          "Map has no method or key '" + name->str() + "'");
            }
            R[ins.a] = std::move(fn);
            for (uint32_t i = 0; i < ins.b; ++i) R[ins.a + 1 + i] = std::move(R[ins.a + 2 + i]);
            R[ins.a + 1 + ins.b] = Value();
            call_count = ins.b;
            call_rerunnable = false;  // the arguments have moved
            goto do_call;
          }
          throw_error(ExcClass::TypeException,
                      type_name(receiver) + " has no method '" + name->str() + "'");
        }
        CASE(RETURN) {
          // Array_cursor.h rule 4: the registers stay until reused.
          if (proto->lends_loop_items) {
            settle_lent_loop_variables(R, R + proto->num_registers);
          }
          Value result = std::move(R[ins.a]);
          uint32_t base = frame->base;
          f.handlers.resize(frame->handlers);
          // The callee's registers are not cleared: like Lua, dead slots
          // above the stack top are overwritten by the next call, and the
          // whole stack goes when the fiber ends.
          f.frames.pop_back();
          if (f.frames.empty()) {
            f.result = std::move(result);
            budget_left_ = budget;
            return RunStatus::Completed;
          }
          f.stack[base - 1] = std::move(result);
          LOAD_FRAME();
          NEXT;
        }
        CASE(NEWARRAY) {
          std::vector<Value> items(R + ins.b, R + ins.b + ins.c);
          R[ins.a] = make_array(std::move(items));
          NEXT;
        }
        CASE(NEWMAP) {
          Value map = make_map();
          Map* m = map.as<Map>();
          for (uint32_t i = 0; i < ins.c; ++i) m->set(R[ins.b + 2 * i], R[ins.b + 2 * i + 1]);
          R[ins.a] = std::move(map);
          NEXT;
        }
        CASE(GETFIELD) {
          const Value& container = R[ins.b];
          const Reach reach = reach_of(R, ins.b);
          if (reach == Reach::Sole && container.is(ObjType::Array) && K[ins.c].is_int()) {
            // `state/0` on an array only this register holds (array.h
            // rule 7): the item, without the general path.
            const Value* item = container.as<Array>()->sole_item(K[ins.c].as_int());
            R[ins.a] = item != nullptr ? *item : Value();
            NEXT;
          }
          R[ins.a] = get_path(container, K[ins.c], reach);
          NEXT;
        }
        CASE(GETINDEX) {
          R[ins.a] = get_path(R[ins.b], R[ins.c], reach_of(R, ins.b));
          NEXT;
        }
        CASE(SETFIELD) {
          set_path(R[ins.a], K[ins.b], R[ins.c], reach_of(R, ins.a));
          NEXT;
        }
        CASE(SETINDEX) {
          set_path(R[ins.a], R[ins.b], R[ins.c], reach_of(R, ins.a));
          NEXT;
        }
        CASE(UPDATEFIELD) {
          const Value& container = R[ins.b];
          const Reach reach = reach_of(R, ins.b);
          if (reach == Reach::Sole && static_cast<Opcode>(ins.flags) == Opcode::ADD &&
              container.is(ObjType::Array) && K[ins.c].is_int() && R[ins.a].is_int() &&
              !container.as_object()->is_frozen()) {
            // `(state/0 += 1)` on an array only this register holds (array.h
            // rule 7): an Int item added to in place.
            Value* item = container.as<Array>()->sole_item(K[ins.c].as_int());
            int64_t sum = 0;
            if (item != nullptr && item->is_int() &&
                !__builtin_add_overflow(item->as_int(), R[ins.a].as_int(), &sum)) {
              *item = Value::integer(sum);
              R[ins.a] = Value::integer(sum);
              NEXT;
            }
          }
          R[ins.a] =
              update_path(container, K[ins.c], static_cast<Opcode>(ins.flags), R[ins.a], reach);
          NEXT;
        }
        CASE(RANGE) {
          const Value& b = R[ins.b];
          const Value& c = R[ins.c];
          if (!b.is_int() || !c.is_int()) {
            throw_error(ExcClass::TypeException,
                        "range bounds must be Int, got " + type_name(b.is_int() ? c : b));
          }
          R[ins.a] = make_inclusive_range(b.as_int(), c.as_int());
          NEXT;
        }
        CASE(CONCAT) {
          std::string text;
          for (uint32_t i = 0; i < ins.c; ++i) append_display(text, R[ins.b + i]);
          R[ins.a] = make_string(std::move(text));
          NEXT;
        }
        CASE(ITERPREP) {
          const Value& coll = R[ins.a];
          bool iterable = coll.is(ObjType::Array) || coll.is(ObjType::Map) ||
                          coll.is(ObjType::String) || coll.is(ObjType::Range) ||
                          coll.is(ObjType::Channel);
          if (!iterable) throw_error(ExcClass::TypeException, "cannot iterate " + type_name(coll));
          R[ins.a + 1] = Value::integer(0);
          NEXT;
        }
        CASE(ITERNEXT) {
          const Value& coll = R[ins.a];
          const int64_t cursor = R[ins.a + 1].is_int() ? R[ins.a + 1].as_int() : 0;
          bool more = false;
          switch (coll.as_object()->type()) {
            case ObjType::Array: {
              more =
                  next_array_item(*coll.as<Array>(), R + ins.a, (ins.flags & kFlagLendItems) != 0);
              break;
            }
            case ObjType::Map: {
              size_t at = static_cast<size_t>(cursor);
              Value key;
              Value value;
              if (coll.as<Map>()->next_entry(at, key, value)) {
                if ((ins.flags & kFlagOneVariable) != 0) {
                  R[ins.a + 3] = std::move(key);
                } else {
                  R[ins.a + 2] = std::move(key);
                  R[ins.a + 3] = std::move(value);
                }
                R[ins.a + 1] = Value::integer(static_cast<int64_t>(at));
                more = true;
              }
              break;
            }
            case ObjType::String: {
              // The cursor packs the byte offset (high) and the index (low).
              const String& s = *coll.as<String>();
              size_t offset = static_cast<size_t>(cursor >> 32);
              int64_t index = cursor & 0xFFFFFFFF;
              if (offset < s.byte_size()) {
                size_t end = offset + 1;
                while (end < s.byte_size() &&
                       (static_cast<unsigned char>(s.str()[end]) & 0xC0) == 0x80) {
                  ++end;
                }
                R[ins.a + 2] = Value::integer(index);
                R[ins.a + 3] = make_string(s.view().substr(offset, end - offset));
                R[ins.a + 1] = Value::integer(static_cast<int64_t>(end) << 32 | (index + 1));
                more = true;
              }
              break;
            }
            case ObjType::Range: {
              const Range& r = *coll.as<Range>();
              if (cursor < r.count()) {
                R[ins.a + 2] = Value::integer(cursor);
                R[ins.a + 3] = Value::integer(r.at(cursor));
                R[ins.a + 1] = Value::integer(cursor + 1);
                more = true;
              }
              break;
            }
            case ObjType::Channel: {
              // Reads until the channel is closed and drained, parking the
              // task while it is empty (ScriptTask rule 4).
              Value item;
              if (!receive_for_loop(coll, item, task)) {
                frame->pc = pc - 1;
                park_interrupt_check(f, *task);
                return RunStatus::Suspended;
              }
              if (!item.is_missing()) {
                R[ins.a + 2] = Value::integer(cursor);
                R[ins.a + 3] = std::move(item);
                R[ins.a + 1] = Value::integer(cursor + 1);
                more = true;
              }
              break;
            }
            default:
              break;
          }
          if (!more) pc += ins.sbx();
          NEXT;
        }
        CASE(ITEREND) {
          // The collection, where the loop stood and its last item are let
          // go when the loop ends, not when the registers are next used; a
          // lent item first (array_cursor.h rule 4).
          Value* loop = R + ins.a;
          if (loop[1].is(ObjType::ArrayCursor)) loop[1].as<ArrayCursor>()->let_go_of(loop[3]);
          for (int i = 0; i < 4; ++i) loop[i] = Value();
          NEXT;
        }
        CASE(FORPREP) {
          int64_t count = 0;
          int64_t step = 0;
          counted_loop_bounds(R[ins.a], R[ins.a + 1], R[ins.a + 2], ins.flags & kFlagStepRange,
                              count, step);
          if (count <= 0) {
            pc += ins.sbx();
          } else {
            R[ins.a + 1] = Value::integer(count);
            R[ins.a + 2] = Value::integer(step);
            R[ins.a + 3] = R[ins.a];
          }
          NEXT;
        }
        CASE(FORLOOP) {
          int64_t remaining = R[ins.a + 1].as_int() - 1;
          if (remaining > 0) {
            int64_t next = R[ins.a].as_int() + R[ins.a + 2].as_int();
            R[ins.a] = Value::integer(next);
            R[ins.a + 1] = Value::integer(remaining);
            R[ins.a + 3] = Value::integer(next);
            pc += ins.sbx();
            SPEND_BUDGET();
          }
          NEXT;
        }
        CASE(TRY) {
          uint32_t target = static_cast<uint32_t>(pc - proto->code.data()) + ins.sbx();
          f.handlers.push_back(Handler{static_cast<uint32_t>(f.frames.size() - 1), target, ins.a});
          NEXT;
        }
        CASE(ENDTRY) {
          f.handlers.pop_back();
          NEXT;
        }
        CASE(THROW) {
          throw ScriptThrow{as_exception(R[ins.a])};
        }
        CASE(SPAWN) {
          R[ins.a] = ScriptTask::spawn(runtime_, R[ins.b], {}, false, proto,
                                       static_cast<uint32_t>(pc - 1 - proto->code.data()),
                                       innermost_scope(task));
          NEXT;
        }
        CASE(AWAIT) {
          if (!R[ins.b].is(ObjType::Future)) {
            R[ins.a] = R[ins.b];
            NEXT;
          }
          Future* future = R[ins.b].as<Future>();
          Outcome outcome = future->outcome();
          if (outcome == Outcome::Pending) {
            if (task == nullptr) {
              throw_error(ExcClass::ConcurrencyException,
                          "await on a pending future outside a task");
            }
            // ScriptTask rule 2: saved to run this AWAIT again on resume, before
            // the task is published as a waiter.
            frame->pc = pc - 1;
            // A cancellation that waited for the task to leave a shielded
            // range (a finally body) is raised at the task's next await.
            if (Value interrupt = take_interrupt(f, *task); !interrupt.is_nil()) {
              throw ScriptThrow{std::move(interrupt)};
            }
            if (task->wait_for(*future) == AddWaiterResult::Registered) return RunStatus::Suspended;
            --pc;
            NEXT;
          }
          future->mark_handled();
          if (outcome == Outcome::Success) {
            R[ins.a] = future->result();
            NEXT;
          }
          if (outcome == Outcome::Cancelled) {
            throw_error(ExcClass::CancellationException, "future was cancelled");
          }
          frame->pc = pc;
          throw ScriptThrow{awaited_exception(future->result(), f)};
        }
        CASE(EXCMATCH) {
          const Value& e = R[ins.b];
          R[ins.a] =
              Value::boolean(e.is(ObjType::Exception) &&
                             exc_is_a(e.as<Exception>()->cls(), static_cast<ExcClass>(ins.c)));
          NEXT;
        }
#ifndef WEFT_COMPUTED_GOTO
        case Opcode::Count:
          break;
      }
      continue;
#endif

    do_call : {
      Value& callee = R[call_base];
      if (callee.is(ObjType::Closure)) {
        Closure* target = callee.as<Closure>();
        const Proto& p = *target->proto();
        uint32_t base = frame->base + call_base + 1;
        if (f.frames.size() >= Fiber::kMaxFrames) {
          throw_error(ExcClass::RuntimeException, "stack overflow");
        }
        size_t needed = static_cast<size_t>(base) + p.num_registers + 1;
        if (needed > f.stack.size()) {
          grow_stack(f, needed);
          R = f.stack.data() + frame->base;
        }
        if (p.is_async) {
          // (fn ^^async ...): the call starts a task with the arguments as passed
          // and gives its future.
          std::vector<Value> args(std::make_move_iterator(R + call_base + 1),
                                  std::make_move_iterator(R + call_base + 1 + call_count));
          R[call_base] = ScriptTask::spawn(
              runtime_, R[call_base], std::move(args), call_keywords, proto,
              static_cast<uint32_t>(pc - 1 - proto->code.data()), innermost_scope(task));
          NEXT;
        }
        if (call_keywords || call_count != p.num_positional || p.has_rest ||
            !p.keyword_params.empty()) {
          bind_arguments(f, p, base, call_count, call_keywords, call_site);
        }
        frame->pc = pc;
        f.frames.push_back(
            Frame{target, p.code.data(), base, static_cast<uint32_t>(f.handlers.size())});
        LOAD_FRAME();
        SPEND_BUDGET();
        NEXT;
      }
      if (callee.is(ObjType::Native)) {
        const Native& native = *callee.as<Native>();
        uint32_t count = call_count;
        Map* keywords = nullptr;
        if (call_keywords) {
          --count;
          keywords = R[call_base + 1 + count].as<Map>();
          native.check_keywords(*keywords);
        }
        if (static_cast<int>(count) < native.min_args() ||
            (native.max_args() >= 0 && static_cast<int>(count) > native.max_args())) {
          arity_error_at(call_site, native.name(), native.min_args(), native.max_args(), count);
        }
        frame->pc = pc;
        NativeCall call{runtime_, R + call_base + 1, count, keywords, task};
        call.callee = &native;
        call.can_park = task != nullptr && call_rerunnable;
        call.last_arg_fresh = call_fresh_last;
        call.caller_proto = proto;
        call.caller_pc = static_cast<uint32_t>(pc - 1 - proto->code.data());
        Value result = native.fn()(call);
        if (call_borrowed) borrowed.forget();
        if (call.then == NativeCall::Then::Continue) {
          R[call_base] = std::move(result);
          NEXT;
        }
        // Park runs the call again (ScriptTask rule 4), which natives ask
        // for only when call.can_park; from its BORROW when it has one.
        frame->pc = pc - (call_borrowed ? 2 : 1);
        park_interrupt_check(f, *task);
        return RunStatus::Suspended;
      }
      throw_error(ExcClass::TypeException, "cannot call " + type_name(callee));
    }
#ifdef WEFT_COMPUTED_GOTO
    }
#else
        }
#endif
  }
  catch (ScriptError& e) {
    borrowed.forget();
    frame->pc = pc;
    budget_left_ = budget;
    if (!deliver(f, make_exception(e.cls, e.message))) return RunStatus::Failed;
    // A throw counts against the budget like a call: a program that only
    // throws and catches (a finally that recurses after a stack overflow)
    // still yields its worker.
    if (--budget <= 0) return RunStatus::Yielded;
  }
  catch (ScriptThrow& t) {
    borrowed.forget();
    frame->pc = pc;
    budget_left_ = budget;
    if (!deliver(f, std::move(t.exception))) return RunStatus::Failed;
    if (--budget <= 0) return RunStatus::Yielded;
  }
  catch (const std::bad_alloc&) {
    borrowed.forget();
    frame->pc = pc;
    budget_left_ = budget;
    if (!deliver(f, make_exception(ExcClass::RuntimeException, "out of memory"))) {
      return RunStatus::Failed;
    }
  }
  catch (const std::length_error&) {
    borrowed.forget();
    frame->pc = pc;
    budget_left_ = budget;
    if (!deliver(f, make_exception(ExcClass::RuntimeException, "allocation too large"))) {
      return RunStatus::Failed;
    }
  }
}
#undef LOAD_FRAME
#undef RKB
#undef RKC
#undef SPEND_BUDGET
#undef DISPATCH
#undef CASE
#undef NEXT
}

}  // namespace weft
