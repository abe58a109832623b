// TimerHandle: the caller's side of a timer started by
// IoService::start_timer. The protocol it takes part in (who fires, who
// cancels, who calls the callback) is described at the top of
// io/timer_queue.h; this header stays free of Asio so that the engine can
// include io/io_service.h cheaply.
#pragma once

#include <chrono>
#include <utility>

namespace weft {

class TimerOp;
class TimerQueue;

// A counted reference to one timer. Copyable; copies refer to the same
// timer. A default-constructed handle refers to none (start_timer returns
// one when the service has shut down), and cancel() on it does nothing.
//
// Lifetime: a handle may outlive its timer's completion, but not its
// IoService. Every cancel() must happen before the IoService's destructor
// starts; dropping (destroying) a handle is allowed at any time.
class TimerHandle {
 public:
  TimerHandle() noexcept = default;
  TimerHandle(const TimerHandle& other) noexcept;
  TimerHandle(TimerHandle&& other) noexcept : op_(std::exchange(other.op_, nullptr)) {}
  TimerHandle& operator=(TimerHandle other) noexcept {
    std::swap(op_, other.op_);
    return *this;
  }
  ~TimerHandle();

  // Cancels the timer if it has neither fired nor been cancelled yet.
  // Returns true if this call won: the callback will then run exactly once,
  // with false, on the I/O thread (soon, not at the deadline). Returns false
  // if the timer already fired, was already cancelled, was swept by
  // shutdown, or the handle is empty; then it has no effect. Any thread, any
  // number of times (timer_queue.h, rule 4).
  //
  // Not [[nodiscard]], unlike the project's other transitions: a caller that
  // only wants the timer gone (a timeout whose operation finished first)
  // rightly ignores the result; the callback tells it what happened anyway.
  bool cancel() const;

  [[nodiscard]] bool valid() const noexcept { return op_ != nullptr; }

  // When the timer fires (or fired): the steady clock read in start_timer
  // plus the delay. Requires valid().
  [[nodiscard]] std::chrono::steady_clock::time_point deadline() const;

 private:
  friend class TimerQueue;
  // Adopts one reference the caller already holds.
  explicit TimerHandle(TimerOp* adopted) noexcept : op_(adopted) {}

  TimerOp* op_ = nullptr;
};

}  // namespace weft
