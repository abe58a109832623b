// TimerHandle: a counted reference to a TimerOp (io/timer_queue.h, rule 6).
#include "io/timer.h"

#include "io/timer_queue.h"

namespace weft {

TimerHandle::TimerHandle(const TimerHandle& other) noexcept : op_(other.op_) {
  if (op_ != nullptr) op_->retain();
}

TimerHandle::~TimerHandle() {
  if (op_ != nullptr) op_->release();
}

bool TimerHandle::cancel() const {
  return op_ != nullptr && op_->queue->cancel(op_);
}

std::chrono::steady_clock::time_point TimerHandle::deadline() const {
  return op_->deadline;
}

}  // namespace weft
