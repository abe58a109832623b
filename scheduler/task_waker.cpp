// TaskWaker and DetachableTaskWaker; the protocol is in task_waker.h.
#include "scheduler/task_waker.h"

#include <cassert>

namespace weft {

AddWaiterResult TaskWaker::register_on(PromiseCore& promise, Task& task) noexcept {
  assert(!in_use() && "a TaskWaker is in one promise at a time (rule 3)");
  task.ref();  // rule 1
  // Relaxed: add_waiter's release CAS publishes both to the settler.
  task_.store(&task, std::memory_order_relaxed);
  withdrawn_.store(false, std::memory_order_relaxed);
  const AddWaiterResult result = promise.add_waiter(*this);
  if (result == AddWaiterResult::AlreadySettled) {
    // Relaxed: never published; only this thread saw it.
    task_.store(nullptr, std::memory_order_relaxed);
    // Not the last reference: the caller is running the task.
    task.unref();
  }
  return result;
}

void TaskWaker::on_settled(Outcome) noexcept {
  // Rule 2: the last touch of this node is here, before the wake.
  // acq_rel. Acquire: reads the task_ that register_on published (it also
  // came through the settler's acquire of the list). Release: pairs with
  // the acquire in in_use(), so a task that sees the node free also sees
  // that the settler is done with it.
  Task* task = task_.exchange(nullptr, std::memory_order_acq_rel);
  task->wake();
  task->unref();
}

void TaskWaker::withdraw() noexcept {
  // Release: nothing of the task's is read by the pruner; release only so
  // the flag is not seen before the task's earlier writes to the node.
  withdrawn_.store(true, std::memory_order_release);
}

bool TaskWaker::withdrawn() const noexcept {
  // Acquire: pairs with withdraw().
  return withdrawn_.load(std::memory_order_acquire);
}

void TaskWaker::on_withdrawn() noexcept {
  // As on_settled, without the wake: the task no longer waits here. The
  // release pairs with in_use()'s acquire; the unref may free the task and
  // this node with it, so it comes last.
  Task* task = task_.exchange(nullptr, std::memory_order_acq_rel);
  task->unref();
}

bool TaskWaker::in_use() const noexcept {
  // Acquire: pairs with on_settled's release exchange (see there).
  return task_.load(std::memory_order_acquire) != nullptr;
}

void DetachableTaskWaker::fire(Outcome) noexcept {
  // The reference in task_ lives until the node is destroyed, after both
  // sides let go, so the task outlives this call.
  task_->wake();
}

}  // namespace weft
