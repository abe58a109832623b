// IoService: the one dedicated thread ("weft-io") that runs Weft's Boost.Asio
// io_context. Script tasks never touch the io_context: they hand requests
// to this service, and its callbacks only complete promises. Nothing here
// knows what a script value is.
//
// Implementation overview
// =======================
// The constructor starts the thread, which runs the io_context while a work
// guard keeps it from returning when idle. Each kind of I/O is a module in
// its own file pair, owned by IoService::Impl: timers are io/timer_queue.*;
// processes are io/process_service.*; TCP and HTTP follow the same pattern
// (a module object that queues requests to the I/O thread and calls back
// from it). Files cannot be polled: io/file_service.* (with the streaming
// io/file_writer.* and io/line_reader.*) runs them on io/blocking_pool.*,
// a few threads of their own that count each job as an operation here and
// call back from the pool thread.
//
// pending_, the one word every submitting thread writes:
//
//    63   62                                                            0
//   +---+-----------------------------------------------------------------+
//   |CLS|  operations accepted and not yet completed (63 bits)            |
//   +---+-----------------------------------------------------------------+
//
//   CLS (kClosed)  set once by shutdown(); no operation is accepted after.
//
// Rules
// -----
//   1. Accepting. try_begin_operation() increments the count with a
//      compare-and-swap that fails if CLS is set, so no operation is counted
//      after shutdown began, not even for a moment. The count's modification
//      order alone decides "accepted before the close" or "rejected"; the
//      operation's data reaches the I/O thread through its own channel
//      (an asio::post, or the timer inbox's release/acquire pair).
//   2. Completing. end_operation() decrements the count after the
//      operation's callback has returned (release), so a thread that reads
//      pending_operations() == 0 (acquire) also sees everything those
//      callbacks wrote. That is what lets the runtime conclude "no timer or
//      I/O pending". Blocking-pool threads call it too, for file jobs.
//   3. Rejection. After shutdown began, start_timer calls done(false) at
//      once on the calling thread and returns an empty handle; post returns
//      false and drops the function; file and process requests call their
//      callback at once on the calling thread with an ESHUTDOWN error.
//   4. Callbacks (timer callbacks, posted functions, process results) run
//      on the I/O thread in a noexcept frame: an exception escaping one
//      terminates the process. They must not block for long: every other
//      timer waits. File callbacks run on a blocking-pool thread, likewise
//      noexcept (blocking_pool.h, rule 5).
//   5. Busy periods. The operation that moves the count from 0 to 1 calls
//      IoActivity::busy() before it is handed on; the one that moves it
//      from 1 to 0 calls IoActivity::idle() after its callback returned.
//      So busy() happens before the idle() that ends its period (the
//      period's first operation must end for the count to reach 0), and
//      whoever pairs them (the runtime, as a scheduler hold: "Holds" in
//      scheduler.h) knows that while no period is open no callback can
//      wake a task. Periods may overlap by a moment (an idle() still
//      running while the next busy() runs); each call is one unit.
//   6. Background watches (io/background_watches.h: a signal, a one-off
//      delay for the runtime's diagnostics) are not operations: they never
//      settle a promise and are not counted. Shutdown step 2 cancels them.
//   7. Handler boundaries. The I/O thread calls IoActivity::thread_started()
//      before its first handler, handler_done() after every handler it
//      runs, and thread_ending() after its last. The runtime keeps the
//      tasks one handler wakes and queues them together in handler_done()
//      (scheduler.h, "Batches"); nothing the I/O thread does between two
//      handlers may wait for such a task.
//
// Shutdown steps (shutdown(), any thread but the I/O thread and the
// blocking-pool threads; idempotent; the destructor calls it)
// ------------------------------------------------------------------------
//   1. Close: set CLS (rule 1). New requests fail fast (rule 3); work
//      accepted before still completes, posted functions and file jobs
//      included.
//   2. Sweep: post TimerQueue::close(), which calls every pending timer's
//      callback with false, exactly once (timer_queue.h, rule 7), and
//      ProcessService::close(), which kills every running child and
//      completes its run with ECANCELED once it is reaped
//      (process_service.h, rule 7), and NetRegistry::close_all(), which
//      closes every listener, HTTP server and connection, so that their
//      pending operations complete with ShutDown (net_registry.h, rule 5).
//   3. Let go: when the count reaches zero with CLS set (at once in step 1,
//      or at the last end_operation, on whichever thread), post
//      finish_shutdown() to the I/O thread, which stops the master timer and
//      resets the work guard. It is posted exactly once: exactly one
//      operation moves the word to "CLS, count 0".
//   4. Join: io_context::run() returns when no handler is left; shutdown()
//      joins the thread, then the blocking pool's threads (blocking_pool.h),
//      which have no job left, then detaches the NetRegistry from the
//      service (net_registry.h, rule 4). When shutdown() returns, every accepted
//      operation's callback has run and every thread has ended.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "io/io_config.h"
#include "io/timer.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace weft {

class FileService;
class NetRegistry;
class ProcessService;

// Timer counts since the service started. Each is written only by the I/O
// thread and is exact whenever pending_operations() is 0 (then
// timers_started == timers_fired + timers_cancelled). Timers rejected after
// shutdown are not counted.
struct IoStats {
  std::uint64_t timers_started = 0;    // accepted and seen by the I/O thread
  std::uint64_t timers_fired = 0;      // done(true) called
  std::uint64_t timers_cancelled = 0;  // done(false) called: cancel() or shutdown
};

// Told when the service goes from no operation pending to some, and back
// (rule 5). Either may be empty. Called on the thread that begins or ends
// the operation; they must not block or call back into the service.
struct IoActivity {
  std::function<void()> busy;
  std::function<void()> idle;
  // Rule 7; any may be empty. Called on the I/O thread.
  std::function<void()> thread_started;
  std::function<void()> handler_done;
  std::function<void()> thread_ending;
};

class IoService {
 public:
  // Starts the I/O thread. The blocking pool's threads start on demand.
  explicit IoService(IoConfig config = {}, IoActivity activity = {});
  // Calls shutdown(). Must not run on the I/O thread or a blocking-pool
  // thread; all cancel() calls on this service's TimerHandles and
  // ProcessHandles must have returned.
  ~IoService();
  IoService(const IoService&) = delete;
  IoService& operator=(const IoService&) = delete;

  // Runs fn on the I/O thread. Any thread. False if the service has shut
  // down; fn is then dropped without running (rule 3).
  [[nodiscard]] bool post(std::function<void()> fn);

  // Calls done(true) on the I/O thread once `delay` has elapsed (never
  // before), or done(false) on the I/O thread if the timer is cancelled
  // first (TimerHandle::cancel or shutdown): exactly one call either way.
  // Any thread. One allocation (plus whatever std::function needs for a
  // large callable). After shutdown, calls done(false) at once on the
  // calling thread and returns an empty handle.
  [[nodiscard]] TimerHandle start_timer(std::chrono::nanoseconds delay,
                                        std::function<void(bool fired)> done);

  // Files (io/file_service.h) and processes (io/process_service.h). Any
  // thread; their requests follow rules 1-3 like the calls above.
  [[nodiscard]] FileService& files() noexcept;
  [[nodiscard]] ProcessService& processes() noexcept;
  // Waits until no file job is queued or running, at most `limit`
  // (BlockingPool::wait_until_idle); true unless the limit passed first.
  // Not on the I/O thread or a pool thread.
  [[nodiscard]] bool wait_for_file_work(std::chrono::nanoseconds limit);

  // Rule 6. Calls fn on the I/O thread each time `signal_number` arrives,
  // or once after `delay`, until shutdown. fn must not block for long.
  // Any thread.
  void watch_signal(int signal_number, std::function<void()> fn);
  void watch_delay(std::chrono::nanoseconds delay, std::function<void()> fn);

  // Timers, posted functions, file jobs and process runs accepted and not
  // yet completed (a callback still running counts). Any thread; see rule 2.
  [[nodiscard]] std::uint64_t pending_operations() const noexcept;

  [[nodiscard]] IoStats stats() const noexcept;

  // The I/O thread's id; stays valid after shutdown.
  [[nodiscard]] std::thread::id thread_id() const noexcept { return thread_id_; }
  [[nodiscard]] bool on_io_thread() const noexcept {
    return std::this_thread::get_id() == thread_id_;
  }

  // The shutdown steps above. Throws std::logic_error on the I/O thread or
  // a blocking-pool thread (it would join itself).
  void shutdown();

  // For io/ modules only; the engine uses the calls above.
  //
  // The io_context the I/O thread runs. Handlers run only on that thread.
  [[nodiscard]] boost::asio::io_context& context() noexcept;
  // Rule 1: counts one operation, or returns false after shutdown began.
  // Every true result must be matched by exactly one end_operation().
  [[nodiscard]] bool try_begin_operation() noexcept;
  // Rule 2: any thread, after the operation's callback has returned.
  void end_operation() noexcept;
  // The open network objects of io/tcp_* and io/http_* (io/net_registry.h).
  // Network handles share it, so it outlives the service if they do.
  [[nodiscard]] const std::shared_ptr<NetRegistry>& net_registry() const noexcept;

 private:
  struct Impl;

  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 63;
  static constexpr std::uint64_t kCountMask = kClosed - 1;

  void run_io_thread() noexcept;
  void finish_shutdown() noexcept;  // I/O thread: shutdown step 3

  // Written by the constructor before the thread starts; then read-only.
  std::unique_ptr<Impl> impl_;
  std::thread::id thread_id_;
  const IoActivity activity_;  // rule 5; set before the thread starts

  // Written by every submitting and completing thread.
  alignas(64) std::atomic<std::uint64_t> pending_{0};

  // Makes concurrent or repeated shutdown() calls wait for one join.
  alignas(64) std::mutex shutdown_mutex_;
  std::thread thread_;  // guarded by shutdown_mutex_ after construction
};

}  // namespace weft
