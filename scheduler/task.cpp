// The transitions of TaskState. The states, the rules they keep and who
// calls each are in task.h; this file gives each memory ordering its reason
// and names the operation it pairs with.
//
// Every CAS loop starts from a relaxed load: that value is only a guess,
// and a failed compare_exchange re-reads the word (failure ordering
// relaxed, since nothing is read through a failed attempt).
#include "scheduler/task.h"

#include <cassert>

#include "scheduler/scheduler.h"

namespace weft {

void TaskState::transition_to_spawned() noexcept {
  // Release: publishes the engine's initialisation of the task and
  // Task::scheduler_ (rule 6) to the first run (acquire in
  // transition_to_running) and to every waker (acquire in
  // transition_to_notified), both of which read this value or a later one
  // in its release sequence.
  const std::uint64_t prev =
      word_.fetch_add(kRefOne + kScheduled - kNew, std::memory_order_release);
  assert((prev & kNew) && !(prev & (kScheduled | kRunning | kComplete)) &&
         "a task is spawned once");
  (void)prev;
}

WakeAction TaskState::transition_to_notified(bool cancel) noexcept {
  std::uint64_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t next = cur | (cancel ? kCancelled : 0);
    WakeAction action = WakeAction::DoNothing;
    if (cur & (kNew | kScheduled | kComplete)) {
      // NEW: spawn will schedule it. SCHEDULED: the queued entry will run
      // it, and that run acquires this write (see below). COMPLETE: over.
    } else if (cur & kRunning) {
      next |= kNotified;  // rule 2: the worker reschedules it
    } else {
      // IDLE: the caller queues it; a dormant task is live again (rule 8).
      action = (cur & kDormant) ? WakeAction::Revive : WakeAction::Submit;
      next = ((next & ~kDormant) | kScheduled) + kRefOne;
    }
    // The write happens even when next == cur, so that this wake's release
    // still reaches the run that will follow.
    //
    // acq_rel. Release: what the waker wrote before waking (the cancel
    // request, its own data) reaches the task's next run; it pairs with
    // the acquire of transition_to_running, or of transition_to_idle when
    // this sets NOTIFIED. Acquire: on Submit the caller reads
    // Task::scheduler_, published by transition_to_spawned's release (rule
    // 6); it also orders the reference taken here after every earlier use.
    if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      return action;
    }
  }
}

void TaskState::transition_to_running() noexcept {
  // Acquire: pairs with the release of whichever operation made the task
  // SCHEDULED (transition_to_spawned, a wake's Submit, transition_to_idle's
  // Reschedule, transition_to_yielded), so run() sees the state the
  // previous run saved and what the waker wrote. oneTBB's hand-off orders
  // this too; the scheduler does not rely on it.
  const std::uint64_t prev = word_.fetch_xor(kScheduled | kRunning, std::memory_order_acquire);
  assert((prev & kScheduled) && !(prev & (kRunning | kComplete)) &&
         "only a scheduled task is started (rule 1)");
  (void)prev;
}

IdleAction TaskState::transition_to_idle(bool dormant) noexcept {
  std::uint64_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    assert((cur & kRunning) && "only the running worker suspends a task");
    std::uint64_t next;
    IdleAction action;
    if (cur & kNotified) {
      next = (cur & ~(kRunning | kNotified)) | kScheduled;
      action = IdleAction::Reschedule;
    } else {
      next = ((cur & ~kRunning) | (dormant ? kDormant : 0)) - kRefOne;
      action = (cur >> kRefShift) == 1 ? IdleAction::IdleLastRef : IdleAction::Idle;
    }
    // acq_rel. Release: publishes the frames the task saved before
    // suspending to the worker that resumes it (that worker acquires in
    // transition_to_running a value in this release sequence). Acquire: on
    // Reschedule it pairs with the release of the wake that set NOTIFIED;
    // on IdleLastRef it orders the delete after every other holder's use.
    if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      return action;
    }
  }
}

void TaskState::transition_to_yielded() noexcept {
  std::uint64_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    assert((cur & kRunning) && "only the running worker yields a task");
    const std::uint64_t next = (cur & ~(kRunning | kNotified)) | kScheduled;
    // Release: publishes the saved frames to the next run (acquire in
    // transition_to_running). A pending NOTIFIED is folded into the rerun.
    if (word_.compare_exchange_weak(cur, next, std::memory_order_release,
                                    std::memory_order_relaxed)) {
      return;
    }
  }
}

bool TaskState::transition_to_complete() noexcept {
  std::uint64_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    assert((cur & kRunning) && "only the running worker completes a task");
    const std::uint64_t next = ((cur & ~(kRunning | kNotified)) | kComplete) - kRefOne;
    // acq_rel. Release: what run() wrote (the task's result) is visible to
    // whoever sees COMPLETE (acquire in is_complete) and to the deleter.
    // Acquire: if this drops the last reference, the delete comes after
    // every other holder's use (their releases in ref_dec).
    if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      return (cur >> kRefShift) == 1;
    }
  }
}

void TaskState::ref_inc() noexcept {
  // Relaxed: the caller already holds a reference, so the task cannot be
  // deleted meanwhile, and taking a reference publishes nothing (the
  // shared_ptr argument).
  const std::uint64_t prev = word_.fetch_add(kRefOne, std::memory_order_relaxed);
  assert((prev >> kRefShift) != 0 && "ref() on a dead task");
  (void)prev;
}

TaskState::Snapshot TaskState::ref_dec() noexcept {
  // acq_rel, in place of a release decrement plus an acquire fence (TSan
  // does not model fences). Release: this holder's uses happen before the
  // delete, whoever performs it. Acquire: if this is the last reference,
  // this thread sees every other holder's uses before deleting.
  const std::uint64_t prev = word_.fetch_sub(kRefOne, std::memory_order_acq_rel);
  assert((prev >> kRefShift) != 0 && "unref() on a dead task");
  return Snapshot{prev};
}

TaskState::Snapshot TaskState::load() const noexcept {
  // Acquire: a caller that sees COMPLETE also sees the result (pairs with
  // transition_to_complete's release).
  return Snapshot{word_.load(std::memory_order_acquire)};
}

bool TaskState::cancel_requested() const noexcept {
  // Acquire: pairs with the release of cancel()'s transition_to_notified,
  // so the engine also sees what the canceller wrote before cancelling.
  return word_.load(std::memory_order_acquire) & kCancelled;
}

bool TaskState::is_complete() const noexcept {
  // Acquire: pairs with transition_to_complete's release (the result).
  return word_.load(std::memory_order_acquire) & kComplete;
}

void Task::wake() noexcept {
  const WakeAction action = state_.transition_to_notified(/*cancel=*/false);
  if (action != WakeAction::DoNothing) scheduler_->submit_woken(*this, action);
}

void Task::cancel() noexcept {
  const WakeAction action = state_.transition_to_notified(/*cancel=*/true);
  if (action != WakeAction::DoNothing) scheduler_->submit_woken(*this, action);
}

void Task::unref() noexcept {
  const TaskState::Snapshot prev = state_.ref_dec();
  if (prev.refs() != 1) return;
  assert(!prev.scheduled() && !prev.running() && "a queued or running task holds a reference");
  // Rule 5: a spawned task whose last reference goes before it completed
  // can never run again; its scheduler counts it as ended (unless it was
  // dormant: counted then, rule 8). Read the scheduler before the delete;
  // tell it after, so that "every task ended" also means every such
  // destructor has run.
  Scheduler* scheduler = prev.fresh() || prev.dormant() ? nullptr : scheduler_;
  const bool abandoned = scheduler != nullptr && !prev.complete();
  delete this;
  if (abandoned) scheduler->task_abandoned();
}

}  // namespace weft
