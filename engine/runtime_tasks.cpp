// The runtime's concurrency services: the worker pool, exit requests and
// reports of failures nobody looked at.
#include <mutex>

#include "engine/runtime.h"
#include "io/io_service.h"
#include "scheduler/scheduler.h"

namespace weft {

Scheduler& Runtime::scheduler() {
  std::call_once(scheduler_once_, [this] {
    SchedulerOptions options;
    options.workers = options_.threads;
    scheduler_ = std::make_unique<Scheduler>(options);
  });
  return *scheduler_;
}

IoService& Runtime::io() {
  std::call_once(io_once_, [this] { io_ = std::make_unique<IoService>(); });
  return *io_;
}

void Runtime::request_exit(int code) {
  int expected = -1;
  // Release pairs with the acquire in exit_code(): the first exit wins.
  exit_code_.compare_exchange_strong(expected, code, std::memory_order_acq_rel);
  flush_out();
  if (options_.on_exit) options_.on_exit(code);
}

void Runtime::report_unhandled(std::string message) {
  std::lock_guard guard(unhandled_lock_);
  unhandled_.push_back(std::move(message));
  // Release pairs with the acquire in had_unhandled().
  had_unhandled_.store(true, std::memory_order_release);
}

std::vector<std::string> Runtime::take_unhandled_reports() {
  std::lock_guard guard(unhandled_lock_);
  std::vector<std::string> out;
  out.swap(unhandled_);
  return out;
}

}  // namespace weft
