// The bridge from a promise to a task: waiters whose on_settled wakes one
// task. This is how `await` parks a task (task.h rule 3):
//
//   // inside Task::run, with the task's state saved:
//   switch (waker_.register_on(promise, *this)) {
//     case AddWaiterResult::AlreadySettled: break;  // continue at once
//     case AddWaiterResult::Registered: return RunResult::Suspended;
//   }
//
// Protocol
// --------
//   1. While registered, a waker holds one reference on its task (task.h
//      rule 5), so a promise never calls into a freed task, and a task
//      whose promise will still settle is never abandoned.
//   2. TaskWaker::on_settled reads its task pointer, then wakes the task,
//      then drops the reference through the local copy. It touches its own
//      node only before the wake: once woken, the task may already run on
//      another worker and register the same waker on its next promise.
//   3. A TaskWaker may be embedded in the engine's task (one await at a
//      time); rule 2 is what makes that safe. in_use() tells the task
//      whether the node still belongs to a promise: it turns false just
//      before the wake. A task run for another reason (cancel, a spurious
//      wake; task.h rule 3d) while in_use() must not register the node
//      again; it may still complete: the waker's reference keeps the task,
//      and so the node, alive until the promise calls it (or dies pending,
//      promise.h rule 4), and waking a completed task does nothing.
//   4. A task that stops waiting while its embedded waker is still
//      registered (it was cancelled in the await) calls withdraw(). A
//      pruner (promise.h rules 9 to 11) then takes the node out of the
//      list and drops its task reference without a wake (on_withdrawn), so
//      a long-lived promise does not keep abandoned tasks alive. Until the
//      node is released by one side or the other, in_use() stays true.
//   5. For an await that may give up (timeout, select), use
//      DetachableTaskWaker: a heap node (promise.h rules 7 to 9). The task
//      calls detach() once it stops caring or after it resumed; a fire()
//      that lost the race to detach() does nothing, and a fire() that won
//      is at worst a spurious wake (task.h rule 3d).
#pragma once

#include <atomic>

#include "scheduler/promise.h"
#include "scheduler/task.h"

namespace weft {

class TaskWaker final : public Waiter {
 public:
  TaskWaker() noexcept = default;
  // Registers on `promise` to wake `task`, referencing the task while
  // registered (rule 1). On AlreadySettled nothing is kept.
  [[nodiscard]] AddWaiterResult register_on(PromiseCore& promise, Task& task) noexcept;
  void on_settled(Outcome outcome) noexcept override;
  // True from register_on (Registered) until on_settled or on_withdrawn
  // releases the node.
  [[nodiscard]] bool in_use() const noexcept;
  // The task's: it no longer waits on the promise this node is in (rule 4).
  void withdraw() noexcept;
  [[nodiscard]] bool withdrawn() const noexcept override;
  void on_withdrawn() noexcept override;

 private:
  // The task to wake while registered, null otherwise. Set by register_on
  // (the task's worker) before add_waiter publishes the node; cleared by
  // on_settled (the settler) just before the wake.
  std::atomic<Task*> task_{nullptr};
  // Set by withdraw(), cleared by register_on before the node is published.
  std::atomic<bool> withdrawn_{false};
};

class DetachableTaskWaker final : public DetachableWaiter {
 public:
  // A heap node referencing `task` until both sides let go.
  [[nodiscard]] static DetachableTaskWaker* create(Task& task) {
    return new DetachableTaskWaker(task);
  }

 private:
  explicit DetachableTaskWaker(Task& task) noexcept : task_(TaskRef::share(&task)) {}
  ~DetachableTaskWaker() override = default;
  void fire(Outcome outcome) noexcept override;

  TaskRef task_;
};

}  // namespace weft
