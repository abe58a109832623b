// The runtime's concurrency services: the worker pool, exit requests and
// reports of failures nobody looked at.
#include <algorithm>
#include <mutex>
#include <thread>

#include "engine/runtime.h"
#include "io/io_service.h"
#include "scheduler/scheduler.h"
#include "scheduler/trace_recorder.h"

namespace weft {

Scheduler& Runtime::scheduler() {
  std::call_once(scheduler_once_, [this] {
    SchedulerOptions options;
    options.workers = options_.threads;
    options.on_worker_entry = options_.on_worker_entry;
    if (options_.trace) {
      unsigned workers = options_.threads != 0 ? options_.threads
                                               : std::max(std::thread::hardware_concurrency(), 1u);
      // One track per arena slot: oneTBB makes at least two.
      trace_ = std::make_unique<TraceRecorder>(std::max(workers, 2u));
      trace_->set_io_thread_test([this] {
        // Acquire: pairs with the release store in io().
        return std::this_thread::get_id() == io_thread_id_.load(std::memory_order_acquire);
      });
      options.trace = trace_.get();
    }
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
    // The tasks one handler wakes are queued together after it (io_service.h
    // rule 7, scheduler.h "Batches").
    IoActivity activity{.busy = [&workers] { workers.hold(); },
                        .idle = [&workers] { workers.release(); },
                        .thread_started = [&workers] { workers.start_batching_here(); },
                        .handler_done = [&workers] { workers.flush_batch(); },
                        .thread_ending = [&workers] { workers.stop_batching_here(); }};
    io_ = std::make_unique<IoService>(IoConfig{}, std::move(activity));
    // Release: pairs with the acquire in the trace's thread test.
    io_thread_id_.store(io_->thread_id(), std::memory_order_release);
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

void Runtime::trace_io_begin(const Future& future, std::string_view name) {
  if (!trace_) return;
  std::uint32_t id = trace_->intern(name);
  std::lock_guard guard(trace_io_lock_);
  trace_io_started_[&future] = {trace_->now(), id};
}

void Runtime::trace_io_settled(const Future& future) {
  if (!trace_) return;
  std::lock_guard guard(trace_io_lock_);
  auto it = trace_io_started_.find(&future);
  if (it == trace_io_started_.end()) return;
  trace_->io_slice(it->second.second, it->second.first, trace_->now());
  trace_io_started_.erase(it);
}

void Runtime::trace_io_forget(const Future& future) {
  if (!trace_) return;
  std::lock_guard guard(trace_io_lock_);
  trace_io_started_.erase(&future);
}

bool Runtime::write_trace(const std::string& path, std::string& error) {
  if (!trace_) {
    error = "tracing was not enabled";
    return false;
  }
  return trace_->write_json(path, error);
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
