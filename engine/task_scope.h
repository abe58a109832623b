// Structured concurrency: the tasks a task starts inside `(scope ...)`.
//
// Protocol:
//   1. All fields are guarded by `lock_`. Children are added only by the
//      task that opened the scope (its worker); children end on any worker.
//   2. No future is settled or cancelled while `lock_` is held: each
//      operation decides under the lock and acts after unlocking (settling
//      runs waiters, which may wake tasks).
//   3. The first child to fail records its exception and every other child
//      is cancelled; later failures (often the siblings' own
//      CancellationExceptions) are ignored, and so is every failure after
//      an abort (the children's answers to it).
//   4. The join future is made by the first close() or abort(); a later
//      call gives the same one (abort after close: the task was cancelled
//      while it waited for the join). It settles once every child has
//      ended: failed with the first failure (rule 3), or with nil. So the
//      first child failure wins over the body's own exception, which is
//      often a consequence of it (a sibling's cancellation).
//   5. A child added after the first failure or an abort is cancelled at
//      once: the scope is already winding down.
//   6. The first failure also interrupts the body: interrupt_ is set
//      (release) and the owner task is woken. The owner, at its next await
//      or preemption point while the scope is open, takes the interrupt
//      (acquire; once) and raises CancellationException in the body, whose
//      abort then rethrows the first failure. A body awaiting something
//      unrelated therefore does not keep the scope waiting forever.
//   7. A child whose own future was cancelled (by the program, not by the
//      scope) has not failed: it ends without cancelling its siblings.
#pragma once

#include <atomic>
#include <cstddef>
#include <vector>

#include "engine/runtime.h"
#include "engine/value.h"
#include "scheduler/spin_lock.h"
#include "scheduler/task.h"

namespace weft {

class TaskScope {
 public:
  // `owner` is the task that opens the scope; it runs the body.
  TaskScope(Runtime& runtime, Task& owner) : runtime_(runtime), owner_(TaskRef::share(&owner)) {}

  // Gives true when the child must be cancelled at once (rule 5); the
  // caller cancels it once its task can take the cancellation.
  [[nodiscard]] bool add_child(const Value& future);
  void child_ended(bool failed, const Value& exception);
  // Ends the scope's extent; gives the join future (rule 4).
  Value close();
  // Cancels every child, then closes (rule 4).
  Value abort();
  // Owner only: true once after the first failure (rule 6).
  [[nodiscard]] bool take_interrupt() {
    // acquire: pairs with the release in child_ended (rule 6).
    if (interrupt_taken_ || !interrupt_.load(std::memory_order_acquire)) return false;
    interrupt_taken_ = true;
    return true;
  }

 private:
  Value close_or_abort(bool aborting);

  Runtime& runtime_;
  TaskRef owner_;  // set once; wake() only
  std::atomic<bool> interrupt_{false};
  bool interrupt_taken_ = false;  // the owner's
  SpinLock lock_;
  std::vector<Value> children_;
  size_t live_ = 0;
  bool closed_ = false;
  bool aborted_ = false;
  Value first_failure_;
  Value join_;
};

}  // namespace weft
