// A script future: a PromiseCore (scheduler/promise.h) plus the value it
// settles with, the callbacks registered on it, and what is needed to
// report a failure nobody looked at.
//
// Protocol:
//   1. The value (`result_`) is written only by the winner of the core's
//      claim, between try_claim and publish (PromiseCore rule 2); it is read
//      only after outcome() returned a settled outcome (acquire), and never
//      written again. So result() needs no lock.
//   2. Callbacks (`callbacks_`, `callbacks_dispatched_`) are guarded by
//      `lock_`. The settler, after publishing, takes the list and marks it
//      dispatched under the lock; a registration that finds it dispatched
//      is refused and the caller runs the callback at once itself. So each
//      callback runs exactly once, and those queued before the settle run
//      in registration order in one task.
//   3. `handled_` is set (relaxed: a hint read only at destruction, after
//      the last reference's acq_rel release) by await, on_failure and the
//      combinators. A failed future destroyed unhandled is reported to the
//      runtime.
//   4. `task_` (the task whose result this is, for cancellation) is set
//      once by the spawner before the future is shared, and never changes.
//   5. `operation_` (the I/O operation whose result this is: a timer...)
//      is set likewise by the function that starts the operation. cancel()
//      stops the operation too (its winner calls it once). An operation
//      that holds one reference to its future is cancelled when the only
//      task that can still see the future stops awaiting it
//      (cancel_if_abandoned): nobody could observe its result any more.
//   6. A task's future is settled by its task alone: cancel() only asks the
//      task to stop (once: `cancelling_` is exchanged; the ending task
//      exchanges it too, so a cancel() that loses that race gives false
//      and the future keeps the task's result), and the task,
//      having thrown CancellationException and run its finally blocks,
//      settles the future Cancelled when it ends, whatever it returned
//      (LANGUAGE.md, section 4). So a task that awaits a cancelled task
//      resumes after the cancelled task's cleanup, not before it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/object.h"
#include "engine/value.h"
#include "io/timer.h"
#include "scheduler/promise.h"
#include "scheduler/spin_lock.h"
#include "scheduler/task.h"

namespace weft {

class Runtime;
class Proto;

class Future final : public Obj {
 public:
  explicit Future(Runtime& runtime) : Obj(ObjType::Future), runtime_(runtime) {}
  ~Future() override;

  PromiseCore& core() { return core_; }
  Outcome outcome() const { return core_.outcome(); }
  // Valid once outcome() is settled (rule 1): the value, the exception,
  // or nil when cancelled.
  const Value& result() const { return result_; }

  // Each settles the future if it is still pending; false otherwise.
  [[nodiscard]] bool complete(Value value) { return settle(Outcome::Success, std::move(value)); }
  [[nodiscard]] bool fail(Value exception) {
    return settle(Outcome::Failure, std::move(exception));
  }
  // A task's future: asks the task to stop, and it settles the future
  // Cancelled when it ends (rule 6); false when it is settled already or
  // cancelled before. Any other future: settles it Cancelled and stops its
  // operation (rule 5).
  [[nodiscard]] bool cancel();
  // Rule 6: the task, as it ends, closes the future to cancel(): true when
  // a cancel() came first (the task then calls settle_cancelled()); after
  // it, cancel() gives false. One exchange decides a race between them.
  [[nodiscard]] bool close_for_cancel() {
    // acq_rel: pairs with cancel()'s exchange.
    return cancelling_.exchange(true, std::memory_order_acq_rel);
  }
  void settle_cancelled() { (void)settle(Outcome::Cancelled, Value()); }

  void mark_handled() { handled_.store(true, std::memory_order_relaxed); }

  // Queues (kind, callback) to run when the future settles; false when it
  // has settled already and the caller must run it at once (rule 2).
  [[nodiscard]] bool add_callback(Value entry);

  void set_task(TaskRef task) { task_ = std::move(task); }
  // Rule 5. `cancel_operation` runs at most once, on the thread that wins
  // cancel(); the operation itself holds one reference to this future.
  void set_operation(std::function<void()> cancel_operation) {
    operation_ = std::make_unique<std::function<void()>>(std::move(cancel_operation));
  }
  // Rule 5 for the commonest operation, a timer, without the allocations
  // of a std::function.
  void set_timer(TimerHandle timer) { timer_ = std::move(timer); }
  // Called by a task that held the last other reference in the register
  // it awaited from, and stops awaiting (it was cancelled): cancels the
  // future and its operation when nobody else can see them (rule 5).
  void cancel_if_abandoned();
  void set_origin(const Proto* proto, uint32_t pc) {
    origin_proto_ = proto;
    origin_pc_ = pc;
  }
  // For a task the runtime started to run a script function (an actor
  // monitor, a connection's handler): its origin is where that function
  // is defined.
  void set_origin_definition(const Proto* proto) {
    origin_proto_ = proto;
    origin_pc_ = 0;
    origin_kind_ = OriginKind::Definition;
  }
  // For a task the runtime started to run a built-in (a connection handler
  // that is `json/parse`, say): its origin names it, by its index among
  // the runtime's builtins.
  void set_origin_builtin(uint32_t index) {
    origin_proto_ = nullptr;
    origin_pc_ = index;
    origin_kind_ = OriginKind::Builtin;
  }
  // "file:line" where the task was started (or its function defined), or
  // "" when unknown or a built-in.
  std::string origin() const;
  // For reports: "task started at FILE:LINE", "task running the function
  // at FILE:LINE", "task running the built-in NAME", or "" when unknown.
  std::string origin_description() const;
  // A scope's join (task_scope.h): settled when the scope's tasks end.
  // Set before the future is shared.
  void mark_scope_join() { scope_join_ = true; }
  [[nodiscard]] bool is_scope_join() const { return scope_join_; }
  // Where the task was started; null for a future no task computes.
  const Proto* origin_proto() const { return origin_proto_; }
  uint32_t origin_pc() const { return origin_pc_; }

  void release_children(DestroyWorklist& worklist) override;

 private:
  [[nodiscard]] bool settle(Outcome outcome, Value value);
  bool has_operation() const { return operation_ || timer_.valid(); }
  void report_if_unhandled();
  void dispatch_callbacks();

  // The small fields sit together and the callbacks (rare) are a pointer:
  // a program may hold a million futures, and this keeps one at 104 bytes.
  Runtime& runtime_;
  PromiseCore core_;
  Value result_;
  std::atomic<bool> handled_{false};
  std::atomic<bool> cancelling_{false};  // rule 6
  SpinLock lock_;
  bool callbacks_dispatched_ = false;
  enum class OriginKind : uint8_t { Start, Definition, Builtin };
  OriginKind origin_kind_ = OriginKind::Start;
  bool scope_join_ = false;
  uint32_t origin_pc_ = 0;
  std::unique_ptr<std::vector<Value>> callbacks_;  // null until the first
  TaskRef task_;
  std::unique_ptr<std::function<void()>> operation_;
  TimerHandle timer_;
  const Proto* origin_proto_ = nullptr;
};

Value make_future(Runtime& runtime);

}  // namespace weft
