// A FIFO of parked tasks (parker.h tickets) for one side of a channel.
// Not synchronised: its owner (channel.h) guards it with its lock.
//
// Tickets go stale when their task moves on without being claimed here (a
// select that took another clause, a cancelled wait). wake_one() skips
// them; push() sweeps them out (handing them to the owner to drop after its
// lock) whenever the list has doubled since the last sweep, so a list holds at most about twice its
// live tickets and the sweeps cost O(1) per push, amortised.
#pragma once

#include <cstddef>
#include <deque>
#include <utility>

#include "scheduler/parker.h"

namespace weft {

class WaitList {
 public:
  // Stale tickets swept out go to `dropped`, for the owner to destroy after
  // leaving its lock (dropping a ticket may delete its task).
  void push(ParkedTask ticket, std::deque<ParkedTask>& dropped) {
    if (tickets_.size() >= 2 * live_after_sweep_ + 16) sweep(dropped);
    tickets_.push_back(std::move(ticket));
  }
  // Takes the oldest ticket, to be woken after the owner's lock is left
  // (a wake may drop the last reference on a task); false when empty.
  bool pop(ParkedTask& out) noexcept {
    if (tickets_.empty()) return false;
    out = std::move(tickets_.front());
    tickets_.pop_front();
    return true;
  }
  // Moves every ticket out, for waking outside the owner's lock.
  std::deque<ParkedTask> take_all() noexcept {
    live_after_sweep_ = 0;
    return std::exchange(tickets_, {});
  }
  [[nodiscard]] bool empty() const noexcept { return tickets_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return tickets_.size(); }

 private:
  void sweep(std::deque<ParkedTask>& dropped) {
    std::deque<ParkedTask> live;
    for (ParkedTask& ticket : tickets_) {
      (ticket.stale() ? dropped : live).push_back(std::move(ticket));
    }
    tickets_ = std::move(live);
    live_after_sweep_ = tickets_.size();
  }

  std::deque<ParkedTask> tickets_;
  std::size_t live_after_sweep_ = 0;
};

}  // namespace weft
