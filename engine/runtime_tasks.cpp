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
  std::call_once(io_once_, [this] {
    // While operations are pending the I/O thread may wake tasks: it holds
    // the scheduler (io_service.h rule 5), so a program waiting on I/O is
    // never taken for a deadlocked one.
    Scheduler& workers = scheduler();
    IoActivity activity{.busy = [&workers] { workers.hold(); },
                        .idle = [&workers] { workers.release(); }};
    io_ = std::make_unique<IoService>(IoConfig{}, std::move(activity));
  });
  return *io_;
}

static_assert(static_cast<unsigned>(RuntimeEvent::Count) <= kClientCounters,
              "the scheduler keeps kClientCounters client counters per worker");

void Runtime::count(RuntimeEvent event) {
  // Not scheduler(): its call_once costs more than the count. Events
  // happen on tasks, the I/O thread or callbacks, all made after the
  // scheduler; without one (a bare Vm in a test) there is nothing to count.
  if (scheduler_) scheduler_->count_client_event(static_cast<unsigned>(event));
}

void Runtime::outside_work_started() {
  scheduler().hold();
}

void Runtime::outside_work_finished() {
  scheduler().release();
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
