#include "engine/future.h"

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/function.h"
#include "engine/runtime.h"
#include "engine/script_task.h"

namespace weft {

Future::~Future() {
  // A traced I/O future freed before it settled leaves no stale entry.
  if (runtime_.tracing()) runtime_.trace_io_forget(*this);
}

void Future::report_if_unhandled() {
  if (core_.outcome() == Outcome::Failure && !handled_.load(std::memory_order_relaxed)) {
    std::string where = origin_description();
    const std::string what = describe_failure(result_);
    runtime_.report_unhandled("unhandled failure in " +
                              (where.empty() ? std::string("a future") : where) + ": " + what);
  }
}

bool Future::settle(Outcome outcome, Value value) {
  // Rule 1: the value is written between the claim and the publish.
  // --trace: an I/O operation's slice ends before its settle can wake
  // anyone; a woken task may end the program, and the trace is written
  // then. (A settle that loses finds no slice left to end.)
  if (runtime_.tracing()) runtime_.trace_io_settled(*this);
  if (!core_.try_settle(outcome, [&] { result_ = std::move(value); })) return false;
  runtime_.count(RuntimeEvent::PromiseSettled);
  dispatch_callbacks();
  return true;
}

bool Future::cancel() {
  if (task_) {
    // Rule 6. acq_rel: one caller wins; the task reads the flag (acquire)
    // after the wake that cancel() below sends it.
    if (outcome() != Outcome::Pending || cancelling_.exchange(true, std::memory_order_acq_rel)) {
      return false;
    }
    task_->cancel();
    return true;
  }
  if (!settle(Outcome::Cancelled, Value())) return false;
  // Rule 5: the winner, once.
  if (operation_) (*operation_)();
  if (timer_.valid()) timer_.cancel();
  return true;
}

void Future::cancel_if_abandoned() {
  if (!has_operation() || outcome() != Outcome::Pending) return;
  // Two references: the awaiting task's register and the operation's. A
  // third holder (a variable elsewhere, an array, another waiter's task)
  // could still observe the future. The count cannot grow meanwhile: only
  // the awaiting task, which is here, could copy its reference.
  if (refcount() > 2) return;
  {
    std::lock_guard guard(lock_);
    if (callbacks_ && !callbacks_->empty()) return;  // a callback still wants the result
  }
  (void)cancel();
}

bool Future::add_callback(Value entry) {
  std::lock_guard guard(lock_);
  if (callbacks_dispatched_) return false;
  if (!callbacks_) callbacks_ = std::make_unique<std::vector<Value>>();
  callbacks_->push_back(std::move(entry));
  return true;
}

void Future::dispatch_callbacks() {
  std::vector<Value> entries;
  {
    std::lock_guard guard(lock_);
    callbacks_dispatched_ = true;
    if (callbacks_) entries.swap(*callbacks_);
  }
  if (entries.empty()) return;
  for (std::size_t i = 0; i < entries.size(); ++i) runtime_.count(RuntimeEvent::CallbackRun);
  int64_t runner = runtime_.find_builtin("__run_future_callbacks");
  if (runner < 0) return;
  // Rule 2: the callbacks run in order, in one task, never on the settling
  // thread (which may be the I/O thread).
  (void)ScriptTask::spawn(runtime_, runtime_.builtin(static_cast<uint32_t>(runner)),
                          {Value::share(this), make_array(std::move(entries))}, false, nullptr, 0,
                          {});
}

std::string Future::origin() const {
  if (origin_proto_ == nullptr) return "";
  SourceLoc loc = origin_kind_ == OriginKind::Definition ? origin_proto_->location
                                                         : origin_proto_->location_at(origin_pc_);
  return (origin_proto_->source ? origin_proto_->source->name : std::string("?")) + ":" +
         std::to_string(loc.line);
}

std::string Future::origin_description() const {
  if (origin_kind_ == OriginKind::Builtin) {
    return "task running the built-in " + runtime_.builtin_name(origin_pc_);
  }
  if (origin_proto_ == nullptr) return "";
  return (origin_kind_ == OriginKind::Definition ? "task running the function at "
                                                 : "task started at ") +
         origin();
}

void Future::release_children(DestroyWorklist& worklist) {
  report_if_unhandled();  // before the exception is released below
  release_into(result_, worklist);
  if (callbacks_) {
    for (Value& entry : *callbacks_) release_into(entry, worklist);
    callbacks_.reset();
  }
}

Value make_future(Runtime& runtime) {
  return Value::adopt(new Future(runtime));
}

}  // namespace weft
