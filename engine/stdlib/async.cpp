// Built-ins of the concurrency core: futures, scopes, combinators, timers
// and atoms. Callback-taking pieces (.then, .on_success, .swap, await_all's
// await) are in the prelude (engine/prelude.cpp), written in Weft.
#include <chrono>
#include <cmath>
#include <memory>

#include "engine/array.h"
#include "engine/atom.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/runtime.h"
#include "engine/script_task.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"
#include "engine/task_scope.h"
#include "io/io_service.h"

namespace weft {

namespace {

Future& future_arg(NativeCall& call, const char* what) {
  const Value& v = call.arg(0);
  if (!v.is(ObjType::Future)) {
    throw_error(ExcClass::TypeException,
                std::string(what) + " expects a Future, got " + type_name(v));
  }
  return *v.as<Future>();
}

ScriptTask& current_task(NativeCall& call, const char* what) {
  if (call.task == nullptr) {
    throw_error(ExcClass::ConcurrencyException, std::string(what) + " needs a running task");
  }
  return *call.task;
}

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Pending:
      return "pending";
    case Outcome::Success:
      return "success";
    case Outcome::Failure:
      return "failure";
    case Outcome::Cancelled:
      return "cancelled";
  }
  return "pending";
}

Value exception_from(const Value& v) {
  if (v.is(ObjType::Exception)) return v;
  if (v.is(ObjType::String)) return make_exception(ExcClass::Exception, v.as<String>()->view());
  return make_exception(ExcClass::Exception, display(v), v);
}

// ---- futures -----------------------------------------------------------------

Value new_future(NativeCall& call) {
  return make_future(call.runtime);
}

Value future_complete(NativeCall& call) {
  if (!future_arg(call, "complete").complete(call.arg(1))) {
    throw_error(ExcClass::ConcurrencyException, "future already settled");
  }
  return Value::boolean(true);
}

Value future_fail(NativeCall& call) {
  if (!future_arg(call, "fail").fail(exception_from(call.arg(1)))) {
    throw_error(ExcClass::ConcurrencyException, "future already settled");
  }
  return Value::boolean(true);
}

Value future_cancel(NativeCall& call) {
  return Value::boolean(future_arg(call, "cancel").cancel());
}

Value future_state(NativeCall& call) {
  return make_string(outcome_name(future_arg(call, "state").outcome()));
}

// The value (or exception) of a settled future, without marking it handled.
Value future_value(NativeCall& call) {
  Future& f = future_arg(call, "__future_value");
  return f.outcome() == Outcome::Pending ? Value() : f.result();
}

Value future_add_callback(NativeCall& call) {
  return Value::boolean(future_arg(call, "__future_add_callback").add_callback(call.arg(1)));
}

Value future_mark_handled(NativeCall& call) {
  future_arg(call, "__future_mark_handled").mark_handled();
  return Value();
}

Value report_callback_failure(NativeCall& call) {
  call.runtime.report_unhandled("unhandled failure in callback: " + describe_failure(call.arg(0)));
  return Value();
}

// ---- combinators -----------------------------------------------------------------

// Settles `target` from the outcomes of many futures. One heap node per
// source future, freed by on_settled (PromiseCore rule 3).
struct Combination {
  Value target;
  std::vector<Value> results;
  std::atomic<size_t> remaining;
  bool any;  // await_any: first success wins; else await_all
  Combination(Value t, size_t n, bool first_success)
      : target(std::move(t)), results(n), remaining(n), any(first_success) {}
};

class CombinationWaiter final : public Waiter {
 public:
  // `source` is not owned: a waiter registered on a future must not keep
  // that future alive (it would be a cycle: the future's list holds the
  // waiter). The future is alive whenever on_settled runs with a value: the
  // settler holds a reference; a future dying pending reports Cancelled.
  CombinationWaiter(std::shared_ptr<Combination> combination, size_t index, Future* source)
      : combination_(std::move(combination)), index_(index), source_(source) {}

  void on_settled(Outcome outcome) noexcept override {
    settle(*combination_, index_, outcome,
           outcome == Outcome::Cancelled ? Value() : source_->result());
    delete this;
  }
  // The combination is decided: this source no longer matters (a pruner
  // may drop the node; PromiseCore rule 9).
  bool withdrawn() const noexcept override {
    return combination_->target.as<Future>()->outcome() != Outcome::Pending;
  }
  void on_withdrawn() noexcept override { delete this; }

  static void settle(Combination& c, size_t index, Outcome outcome, const Value& value) {
    Future* target = c.target.as<Future>();
    if (outcome == Outcome::Success) {
      if (c.any) {
        (void)target->complete(value);
        return;
      }
      c.results[index] = value;  // each index written once, by one thread
      // acq_rel: the last decrement sees every other index's write.
      if (c.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        (void)target->complete(make_array(std::move(c.results)));
      }
      return;
    }
    Value failure = outcome == Outcome::Failure
                        ? value
                        : make_exception(ExcClass::CancellationException, "future was cancelled");
    if (!c.any) {
      (void)target->fail(failure);
      return;
    }
    // acq_rel: orders the failures; the last one decides.
    if (c.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) (void)target->fail(failure);
  }

 private:
  std::shared_ptr<Combination> combination_;
  size_t index_;
  Future* source_;
};

Value combine(NativeCall& call, bool any, const char* name) {
  const Value& list = call.arg(0);
  if (!list.is(ObjType::Array)) {
    throw_error(ExcClass::TypeException, std::string(name) + " expects an Array of futures");
  }
  std::vector<Value> sources = list.as<Array>()->snapshot();
  Value target = make_future(call.runtime);
  if (sources.empty()) {
    if (any) throw_error(ExcClass::ArgumentException, "await_any needs at least one future");
    (void)target.as<Future>()->complete(make_array());
    return target;
  }
  auto combination = std::make_shared<Combination>(target, sources.size(), any);
  for (size_t i = 0; i < sources.size(); ++i) {
    Value& source = sources[i];
    if (!source.is(ObjType::Future)) {
      CombinationWaiter::settle(*combination, i, Outcome::Success, source);
      continue;
    }
    Future* f = source.as<Future>();
    f->mark_handled();
    auto* waiter = new CombinationWaiter(combination, i, f);
    if (f->core().add_waiter(*waiter) == AddWaiterResult::AlreadySettled) {
      Outcome outcome = f->outcome();
      delete waiter;
      CombinationWaiter::settle(*combination, i, outcome,
                                outcome == Outcome::Cancelled ? Value() : f->result());
    }
  }
  return target;
}

Value all_of(NativeCall& call) {
  return combine(call, false, "await_all");
}
Value any_of(NativeCall& call) {
  return combine(call, true, "await_any");
}

// ---- timers ------------------------------------------------------------------

std::chrono::nanoseconds duration_from(const Value& amount, double unit_seconds, const char* what) {
  if (!amount.is_number()) {
    throw_error(ExcClass::TypeException,
                std::string(what) + " expects a number, got " + type_name(amount));
  }
  double seconds = amount.as_number() * unit_seconds;
  if (!(seconds >= 0)) seconds = 0;
  if (seconds > 1e9) seconds = 1e9;
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(seconds * 1e9)));
}

Value sleep_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::TimerStarted);
  auto delay = duration_from(call.arg(0), 0.001, "sleep_async");
  Value future = make_future(call.runtime);
  Future* f = future.as<Future>();
  if (call.runtime.tracing()) {
    call.runtime.trace_io_begin(*f, "sleep " + display(call.arg(0)) + " ms");
  }
  // The timer's reference to the future, taken here and dropped by its
  // callback, which runs exactly once (timer_queue.h rule 5; at once if the
  // service has shut down). A raw pointer keeps the callback within
  // std::function's in-place buffer: a sleep allocates only the future and
  // the timer.
  f->retain();
  TimerHandle timer = call.runtime.io().start_timer(delay, [f](bool fired) {
    Value held = Value::adopt(f);
    if (fired) {
      (void)f->complete(Value());
    } else {
      (void)f->cancel();
    }
  });
  // Future rule 5: cancelling the future (or abandoning it) takes the
  // timer out of the queue now, not at its deadline.
  f->set_timer(std::move(timer));
  return future;
}

// (await ^timeout s f) compiles to (await (__with_timeout f s)).
class TimeoutWaiter final : public Waiter {
 public:
  // `source` is not owned, for the reason given at CombinationWaiter.
  TimeoutWaiter(Future* source, Value target, TimerHandle timer)
      : source_(source), target_(std::move(target)), timer_(std::move(timer)) {}
  void on_settled(Outcome outcome) noexcept override {
    timer_.cancel();
    Future* target = target_.as<Future>();
    Value result = outcome == Outcome::Cancelled ? Value() : source_->result();
    if (outcome == Outcome::Success) {
      (void)target->complete(result);
    } else if (outcome == Outcome::Failure) {
      (void)target->fail(result);
    } else {
      (void)target->fail(make_exception(ExcClass::CancellationException, "future was cancelled"));
    }
    delete this;
  }
  // Timed out (or otherwise settled): the source no longer matters.
  bool withdrawn() const noexcept override {
    return target_.as<Future>()->outcome() != Outcome::Pending;
  }
  void on_withdrawn() noexcept override {
    timer_.cancel();
    delete this;
  }

 private:
  Future* source_;
  Value target_;
  TimerHandle timer_;
};

Value with_timeout(NativeCall& call) {
  const Value& source = call.arg(0);
  if (!source.is(ObjType::Future)) return source;
  Future* f = source.as<Future>();
  f->mark_handled();
  if (f->outcome() != Outcome::Pending) return source;
  const Value& seconds = call.arg(1);
  auto delay = duration_from(seconds, 1.0, "await ^timeout");
  Value target = make_future(call.runtime);
  std::string message = "await timed out after " + display(seconds) + " s";
  Value held = target;
  call.runtime.count(RuntimeEvent::TimerStarted);
  TimerHandle timer = call.runtime.io().start_timer(delay, [held, message](bool fired) mutable {
    if (fired) {
      (void)held.as<Future>()->fail(make_exception(ExcClass::TimeoutException, message));
    }
    held = Value();
  });
  auto* waiter = new TimeoutWaiter(f, target, timer);
  if (f->core().add_waiter(*waiter) == AddWaiterResult::AlreadySettled) {
    waiter->on_settled(f->outcome());
  }
  return target;
}

// ---- scopes -------------------------------------------------------------------

Value scope_open(NativeCall& call) {
  ScriptTask& task = current_task(call, "scope");
  auto& scopes = task.open_scopes();
  scopes.push_back(std::make_shared<TaskScope>(call.runtime, task));
  return Value::integer(static_cast<int64_t>(scopes.size() - 1));
}

// The task's open scope at depth `index` (argument 0); scopes left open
// inside it (an exit skipped their end) are aborted and dropped first.
std::shared_ptr<TaskScope>* scope_at(NativeCall& call) {
  ScriptTask& task = current_task(call, "scope");
  auto& scopes = task.open_scopes();
  size_t index = static_cast<size_t>(call.arg(0).as_int());
  if (index >= scopes.size()) return nullptr;
  while (scopes.size() > index + 1) {
    (void)scopes.back()->abort();
    scopes.pop_back();
  }
  return &scopes.back();
}

// The body has ended: the join future. The scope stays open (and on the
// task's list) while the task waits for it, so that a cancellation there
// can still abort it.
Value scope_close(NativeCall& call) {
  std::shared_ptr<TaskScope>* scope = scope_at(call);
  return scope == nullptr ? Value() : (*scope)->close();
}

// The join succeeded: the scope leaves the task's list.
Value scope_end(NativeCall& call) {
  if (scope_at(call) != nullptr) call.task->open_scopes().pop_back();
  return Value();
}

// The body threw, was left by break/continue/return, or the task was
// cancelled while it waited for the join: the children are cancelled; the
// join future (the same one, if close came first).
Value scope_abort(NativeCall& call) {
  std::shared_ptr<TaskScope>* found = scope_at(call);
  if (found == nullptr) return Value();
  std::shared_ptr<TaskScope> scope = std::move(*found);
  call.task->open_scopes().pop_back();
  return scope->abort();
}

// ---- atoms -------------------------------------------------------------------

Atom& atom_arg(NativeCall& call) {
  const Value& v = call.arg(0);
  if (!v.is(ObjType::Atom)) throw_error(ExcClass::TypeException, "expected an Atom");
  return *v.as<Atom>();
}

Value make_atom(NativeCall& call) {
  return Value::adopt(new Atom(call.arg(0)));
}
Value atom_value(NativeCall& call) {
  return atom_arg(call).load();
}
Value atom_reset(NativeCall& call) {
  atom_arg(call).store(call.arg(1));
  return call.arg(1);
}
Value atom_compare_and_set(NativeCall& call) {
  return Value::boolean(atom_arg(call).compare_and_set(call.arg(1), call.arg(2)));
}

}  // namespace

bool Atom::compare_and_set(const Value& expected, Value desired) {
  return slot_.compare_and_store(
      [&](const Value& current) {
        if (current.is_object() && expected.is_object()) {
          if (current.as_object() == expected.as_object()) return true;
          return current.is(ObjType::String) && expected.is(ObjType::String) &&
                 current.as<String>()->view() == expected.as<String>()->view();
        }
        if (current.is_object() || expected.is_object()) return false;
        return values_equal(current, expected) && current.tag() == expected.tag();
      },
      std::move(desired));
}

void register_async_builtins(Runtime& runtime) {
  runtime.register_native("__new_Future", new_future, 0, 0);
  runtime.register_native_method(ObjType::Future, "complete", future_complete, 2, 2);
  runtime.register_native_method(ObjType::Future, "fail", future_fail, 2, 2);
  runtime.register_native_method(ObjType::Future, "cancel", future_cancel, 1, 1);
  runtime.register_native_method(ObjType::Future, "state", future_state, 1, 1);
  runtime.register_native("__future_value", future_value, 1, 1);
  runtime.register_native("__future_add_callback", future_add_callback, 2, 2);
  runtime.register_native("__future_mark_handled", future_mark_handled, 1, 1);
  runtime.register_native("__report_callback_failure", report_callback_failure, 1, 1);
  runtime.register_native("__all", all_of, 1, 1);
  runtime.register_native("__any", any_of, 1, 1);
  runtime.register_native("__with_timeout", with_timeout, 2, 2);
  runtime.register_native("__scope_open", scope_open, 0, 0);
  runtime.register_native("__scope_close", scope_close, 1, 1);
  runtime.register_native("__scope_abort", scope_abort, 1, 1);
  runtime.register_native("__scope_end", scope_end, 1, 1);
  runtime.register_native("sleep_async", sleep_async, 1, 1);
  runtime.register_native("atom", make_atom, 1, 1);
  runtime.register_native_method(ObjType::Atom, "value", atom_value, 1, 1);
  runtime.register_native_method(ObjType::Atom, "reset", atom_reset, 2, 2);
  runtime.register_native_method(ObjType::Atom, "compare_and_set", atom_compare_and_set, 3, 3);
}

}  // namespace weft
