// IoService: the I/O thread, its accounting and its shutdown. The protocol
// (the pending_ word, rules 1-4, shutdown steps 1-4) is at the top of
// io_service.h.
#include "io/io_service.h"

#include <pthread.h>

#include <optional>
#include <stdexcept>
#include <utility>

#include "io/asio.h"
#include "io/background_watches.h"
#include "io/blocking_pool.h"
#include "io/file_service.h"
#include "io/net_registry.h"
#include "io/process_service.h"
#include "io/timer_queue.h"

namespace weft {

namespace asio = boost::asio;

struct IoService::Impl {
  Impl(IoService& service, const IoConfig& config)
      : context(1),  // one thread runs it: Asio may skip some cross-thread work
        guard(asio::make_work_guard(context)),
        timers(service, context),
        pool(service, config.blocking_threads),
        files(pool, config),
        processes(service, context, config),
        net(std::make_shared<NetRegistry>(service)),
        watches(context) {}

  // Declared first so that it is destroyed last: the modules' Asio objects
  // refer to it, and it destroys any handler that never ran (timer_queue.h,
  // rule 7).
  asio::io_context context;
  // Reset by finish_shutdown(), on the I/O thread (shutdown step 3).
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  TimerQueue timers;
  // Joined by shutdown() (step 4), so before the context is destroyed: its
  // threads call end_operation(), which may post to the context.
  BlockingPool pool;
  FileService files;
  ProcessService processes;
  // Shared with every network handle, which may outlive the service.
  std::shared_ptr<NetRegistry> net;
  BackgroundWatches watches;
  bool finished = false;  // I/O thread only
  bool joined = false;    // guarded by shutdown_mutex_
};

IoService::IoService(IoConfig config, IoActivity activity)
    : impl_(std::make_unique<Impl>(*this, config)), activity_(std::move(activity)) {
  // impl_ is complete before the thread starts; std::thread's constructor
  // synchronizes with the start of the new thread.
  thread_ = std::thread([this] { run_io_thread(); });
  thread_id_ = thread_.get_id();
}

IoService::~IoService() {
  shutdown();
}

void IoService::run_io_thread() noexcept {
  // Best effort: a name only helps debuggers and `top -H`.
  pthread_setname_np(pthread_self(), "weft-io");
  // Returns after finish_shutdown() reset the guard and no handler is left
  // (shutdown step 4). Handlers do not throw (rule 4). One handler at a
  // time, for rule 7.
  if (activity_.thread_started) activity_.thread_started();
  while (impl_->context.run_one() != 0) {
    if (activity_.handler_done) activity_.handler_done();
  }
  if (activity_.thread_ending) activity_.thread_ending();
}

boost::asio::io_context& IoService::context() noexcept {
  return impl_->context;
}

FileService& IoService::files() noexcept {
  return impl_->files;
}

bool IoService::wait_for_file_work(std::chrono::nanoseconds limit) {
  return impl_->pool.wait_until_idle(limit);
}

ProcessService& IoService::processes() noexcept {
  return impl_->processes;
}

void IoService::watch_signal(int signal_number, std::function<void()> fn) {
  impl_->watches.on_signal(signal_number, std::move(fn));
}

void IoService::watch_delay(std::chrono::nanoseconds delay, std::function<void()> fn) {
  impl_->watches.after(delay, std::move(fn));
}

const std::shared_ptr<NetRegistry>& IoService::net_registry() const noexcept {
  return impl_->net;
}

bool IoService::try_begin_operation() noexcept {
  // Rule 1. Relaxed: the word's modification order alone decides whether
  // this operation is counted before the close; nothing is published
  // through it.
  std::uint64_t word = pending_.load(std::memory_order_relaxed);
  do {
    if (word & kClosed) return false;
  } while (!pending_.compare_exchange_weak(word, word + 1, std::memory_order_relaxed,
                                           std::memory_order_relaxed));
  // Rule 5: the first operation of a busy period. The operation has not
  // been handed to anyone yet, so it cannot end before this returns.
  if ((word & kCountMask) == 0 && activity_.busy) activity_.busy();
  return true;
}

void IoService::end_operation() noexcept {
  // Rule 2. Release: pairs with the acquire load in pending_operations(), so
  // a reader of 0 sees the writes of every callback that ran (later
  // read-modify-writes on the word continue this release sequence).
  // Acquire too, for rule 5: the thread that ends a busy period may not be
  // the one whose callback woke a task; acquiring the earlier decrements
  // orders those wakes (and the period's busy()) before its idle().
  const std::uint64_t before = pending_.fetch_sub(1, std::memory_order_acq_rel);
  // Rule 5: the last operation of a busy period, after its callback (and
  // the wakes it made) returned.
  if ((before & kCountMask) == 1 && activity_.idle) activity_.idle();
  // Shutdown step 3: this was the last operation after the close.
  if (before == (kClosed | 1)) asio::post(impl_->context, [this]() noexcept { finish_shutdown(); });
}

std::uint64_t IoService::pending_operations() const noexcept {
  // Acquire: pairs with the release decrement in end_operation() (rule 2).
  return pending_.load(std::memory_order_acquire) & kCountMask;
}

bool IoService::post(std::function<void()> fn) {
  if (!try_begin_operation()) return false;  // rule 3
  asio::post(impl_->context, [this, fn = std::move(fn)]() mutable noexcept {
    {
      // Moved out so that fn's captures are destroyed before the operation
      // counts as complete.
      auto run = std::move(fn);
      run();
    }
    end_operation();
  });
  return true;
}

TimerHandle IoService::start_timer(std::chrono::nanoseconds delay,
                                   std::function<void(bool fired)> done) {
  if (!try_begin_operation()) {
    done(false);  // rule 3
    return TimerHandle();
  }
  return impl_->timers.start(delay, std::move(done));
}

IoStats IoService::stats() const noexcept {
  IoStats stats;
  impl_->timers.read_stats(stats);
  return stats;
}

void IoService::shutdown() {
  if (on_io_thread()) throw std::logic_error("IoService::shutdown called on the I/O thread");
  if (impl_->pool.on_pool_thread()) {
    throw std::logic_error("IoService::shutdown called on a blocking-pool thread");
  }
  std::lock_guard lock(shutdown_mutex_);
  if (impl_->joined) return;

  // Step 1. Relaxed: like the accepting compare-and-swap (rule 1), only the
  // word's modification order matters; the sweep is ordered by the post.
  const std::uint64_t before = pending_.fetch_or(kClosed, std::memory_order_relaxed);
  // Step 2.
  asio::post(impl_->context, [this]() noexcept {
    impl_->timers.close();
    impl_->processes.close();
    impl_->net->close_all();
    impl_->watches.close();
  });
  // Step 3, when nothing was outstanding; otherwise the last
  // end_operation() posts it.
  if ((before & kCountMask) == 0) {
    asio::post(impl_->context, [this]() noexcept { finish_shutdown(); });
  }
  // Step 4.
  thread_.join();
  impl_->pool.join();
  impl_->net->detach();
  impl_->joined = true;
}

void IoService::finish_shutdown() noexcept {
  if (impl_->finished) return;
  impl_->finished = true;
  // No operation is outstanding, so the heap is empty, but the master timer
  // may still wait for a cancelled timer's deadline; without this, run()
  // would not return until then.
  impl_->timers.stop();
  impl_->guard.reset();
}

}  // namespace weft
