// BlockingStrand: the protocol (rules 1-4) is at the top of
// io/blocking_strand.h.
#include "io/blocking_strand.h"

#include <utility>

#include "io/blocking_pool.h"
#include "io/io_service.h"

namespace weft {

BlockingStrand::BlockingStrand(BlockingPool& pool) : state_(std::make_shared<State>(pool)) {}

void BlockingStrand::submit(std::function<void(bool accepted)> job) {
  if (!state_->pool.service().try_begin_operation()) {
    job(false);  // rule 1
    return;
  }
  bool start_drain = false;
  {
    std::lock_guard lock(state_->mutex);
    state_->queue.push_back(std::move(job));
    start_drain = !std::exchange(state_->draining, true);
  }
  // Rule 2: posted outside the lock, since the pool may run it inline
  // (BlockingPool rule 4).
  if (start_drain) state_->pool.post([state = state_] { drain(state); });
}

void BlockingStrand::drain(const std::shared_ptr<State>& state) noexcept {
  IoService& service = state->pool.service();
  for (;;) {
    std::function<void(bool)> job;
    {
      std::lock_guard lock(state->mutex);
      if (state->queue.empty()) {
        state->draining = false;  // rule 2
        return;
      }
      job = std::move(state->queue.front());
      state->queue.pop_front();
    }
    job(true);
    job = nullptr;  // the captures go before the operation ends (rule 3)
    service.end_operation();
  }
}

}  // namespace weft
