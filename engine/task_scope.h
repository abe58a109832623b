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
//      CancellationExceptions) are ignored.
//   4. The join future settles once the scope is closed and every child
//      has ended: with the first failure, or nil. An aborted scope's join
//      never fails (the body's own exception is what propagates).
#pragma once

#include <cstddef>
#include <vector>

#include "engine/runtime.h"
#include "engine/value.h"
#include "scheduler/spin_lock.h"

namespace weft {

class TaskScope {
 public:
  explicit TaskScope(Runtime& runtime) : runtime_(runtime) {}

  void add_child(const Value& future);
  void child_ended(bool failed, const Value& exception);
  // Ends the scope's extent; gives the join future (rule 4).
  Value close();
  // Cancels every child, then closes; the join never fails.
  Value abort();

 private:
  Value close_locked_then_settle(bool aborting);

  Runtime& runtime_;
  SpinLock lock_;
  std::vector<Value> children_;
  size_t live_ = 0;
  bool closed_ = false;
  bool aborted_ = false;
  Value first_failure_;
  Value join_;
};

}  // namespace weft
