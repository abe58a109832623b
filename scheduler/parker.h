// How a task waits on a wait list (a channel's senders or receivers, a
// select over several channels) without a promise per wait: the task arms
// its Parker, leaves a ParkedTask ticket in each list, and suspends; the
// first waker to claim the ticket wakes it; every other ticket of that
// park is stale and is skipped.
//
// Protocol
// --------
//   1. The park word is (epoch << 1) | ARMED. Only the task's own run
//      writes the epoch: arm() starts park number epoch + 1 and sets ARMED;
//      disarm() clears ARMED if it is still set for that epoch.
//   2. A waker claims a ticket (task, epoch) with one compare-and-swap from
//      (epoch | ARMED) to (epoch); the winner, and only it, wakes the task.
//      So a park is claimed at most once, whichever lists hold its tickets,
//      and a ticket of an earlier park can never claim a later one.
//   3. The task must be able to run again after arm() for reasons other
//      than a claim (cancellation, a settled future in a select): its run
//      calls disarm() first. False means a waker claimed the park: that
//      waker meant to hand over an item or a free slot, so a task that
//      does not retry the operation (it leaves on an interrupt, or a select
//      takes another clause) must pass the wake on (channel.h rule 6).
//   4. A ticket holds a reference on its task (task.h rule 5) while it sits
//      in a list, so a claim never wakes a freed task.
//   5. Wait lists and the Parker are the whole protocol: the wake itself is
//      Task::wake(), which is never lost (task.h rule 2): a claim that lands
//      while the task is still inside the run that armed it marks it
//      NOTIFIED and the task runs again.
//
// Memory orderings: arm() publishes with release what the task wrote
// before parking (its saved frame) to the claimer's acquire CAS; a claim
// orders nothing the task reads (the task reads the channel under the
// channel's own lock), so its success ordering is acq_rel only to keep the
// claimer's view of the task pointer current. disarm() is acq_rel for the
// same pairing in the other direction.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include "scheduler/task.h"

namespace weft {

class Parker {
 public:
  // The task's run: starts a new park (rule 1) and gives its epoch.
  [[nodiscard]] std::uint64_t arm() noexcept {
    std::uint64_t epoch = (word_.load(std::memory_order_relaxed) >> 1) + 1;
    // Release: pairs with claim()'s acquire (rule 2); only this thread
    // writes the epoch, so a plain store is enough.
    word_.store((epoch << 1) | kArmed, std::memory_order_release);
    return epoch;
  }
  // The task's run: ends park `epoch`. False when a waker claimed it.
  [[nodiscard]] bool disarm(std::uint64_t epoch) noexcept {
    std::uint64_t armed = (epoch << 1) | kArmed;
    // acq_rel: the failure read (a claim) acquires the claimer's writes.
    return word_.compare_exchange_strong(armed, epoch << 1, std::memory_order_acq_rel,
                                         std::memory_order_acquire);
  }
  // Any thread: claims park `epoch` (rule 2). True for the one winner.
  [[nodiscard]] bool claim(std::uint64_t epoch) noexcept {
    std::uint64_t armed = (epoch << 1) | kArmed;
    // acq_rel on success: acquires the task's saved state before the wake
    // (rule 5 publishes it again through the task's state word as well).
    return word_.compare_exchange_strong(armed, epoch << 1, std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
  }
  // Any thread: the ticket of `epoch` can still be claimed (a hint: the
  // answer may be stale at once; used to drop dead tickets from lists).
  [[nodiscard]] bool armed_for(std::uint64_t epoch) const noexcept {
    // Relaxed: a hint only (see above).
    return word_.load(std::memory_order_relaxed) == ((epoch << 1) | kArmed);
  }

 private:
  static constexpr std::uint64_t kArmed = 1;
  std::atomic<std::uint64_t> word_{0};
};

// One ticket in a wait list: the task, its Parker and the park's epoch.
class ParkedTask {
 public:
  ParkedTask() noexcept = default;
  ParkedTask(Task& task, Parker& parker, std::uint64_t epoch) noexcept
      : task_(TaskRef::share(&task)), parker_(&parker), epoch_(epoch) {}

  // Claims the park and wakes the task (rules 2 and 5); false when the
  // ticket is stale (another list claimed it, or the task moved on).
  [[nodiscard]] bool wake() const noexcept {
    if (!parker_->claim(epoch_)) return false;
    task_->wake();
    return true;
  }
  [[nodiscard]] bool stale() const noexcept { return !parker_->armed_for(epoch_); }

 private:
  TaskRef task_;  // rule 4
  Parker* parker_ = nullptr;
  std::uint64_t epoch_ = 0;
};

}  // namespace weft
