// BlockingPool: a few ordinary threads that run blocking file work for an
// IoService. Regular files cannot be polled (epoll reports them always
// ready, and a read may still wait for the disk), so, as libuv and Tokio
// do, file work runs on threads of its own and its callback completes a
// promise from there. Owned by IoService::Impl; the file modules
// (io/file_service.h, io/file_writer.h, io/line_reader.h) submit to it.
//
// Implementation overview
// =======================
// One queue of jobs, one mutex, one condition variable. Threads start on
// demand: a job that finds more queued jobs than idle threads starts one
// more thread, up to max_threads, so a service that never touches a file
// starts none. Everything below is guarded by mutex_: the queue, the idle
// count, the thread list and the closed flag. There are no atomics here;
// the mutex is the hand-off. A thread that becomes idle with every other
// thread idle and the queue empty tells wait_until_idle() (all_idle_).
//
// Rules
// -----
//   1. Counting. submit() counts the job as one IoService operation
//      (try_begin_operation) before queuing it; the pool thread calls
//      end_operation() after job(true) has returned and the job, captures
//      included, is destroyed. So IoService::shutdown waits for every
//      accepted job, and pending_operations() includes queued and running
//      ones.
//   2. Rejection. After shutdown began, submit() calls job(false) at once on
//      the calling thread, without queuing it. The job reports an error to
//      its caller: nothing is silently dropped.
//   3. Uncounted jobs. post() queues a job that is not an operation of its
//      own. It is allowed only while the caller holds a counted operation
//      that stays open until the posted job has run (a strand's drain:
//      io/blocking_strand.h). That operation keeps shutdown from reaching
//      join(), so the pool is there to run the job.
//   4. Thread start failure. If std::thread cannot start a thread (the
//      system is out of them) and the pool has none, the job runs on the
//      calling thread instead, after the mutex is released: slower, never
//      lost. If the pool has a thread, the job waits for it.
//   5. Jobs run on a pool thread in a noexcept frame: an exception escaping
//      one terminates the process. A job may submit or post more jobs. It
//      must not call IoService::shutdown, which would join its own thread
//      (shutdown throws std::logic_error on a pool thread).
//
// Shutdown (IoService shutdown step 4, after the I/O thread has joined)
// ----------------------------------------------------------------------
// join() sets closed_ and wakes every thread; a thread leaves when it finds
// the queue empty and closed_ set. The queue is empty by then: the
// operation count reached zero (rule 1), and uncounted jobs exist only
// while a counted one is open (rule 3). join() joins them all. Idempotent;
// the destructor calls it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weft {

class IoService;

class BlockingPool {
 public:
  BlockingPool(IoService& service, std::size_t max_threads);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Calls job(true) on a pool thread, as one IoService operation (rule 1),
  // or job(false) at once on the calling thread if the service has shut
  // down (rule 2). Exactly one call either way. Any thread.
  void submit(std::function<void(bool accepted)> job);

  // Runs job on a pool thread without counting it (rule 3). Any thread.
  void post(std::function<void()> job);

  // Shutdown: see above. Not on a pool thread.
  void join();

  // Waits until no job is queued or running (every thread idle), or until
  // `limit` has passed, or the pool has closed; true unless the limit
  // passed first. Not on a pool thread. For the end of a program: file
  // work nobody awaited (a write, a read that fails) finishes, and so is
  // written or reported, instead of being cut off at shutdown.
  [[nodiscard]] bool wait_until_idle(std::chrono::nanoseconds limit);

  [[nodiscard]] bool on_pool_thread() const;
  // Threads started and not yet joined (never more than max_threads).
  [[nodiscard]] std::size_t thread_count() const;

  [[nodiscard]] IoService& service() noexcept { return service_; }

 private:
  struct Job {
    std::function<void(bool)> run;
    bool counted;  // end_operation() after it (rule 1)
  };

  void enqueue(Job job);
  void run_thread() noexcept;
  void run_job(Job& job) noexcept;

  IoService& service_;
  const std::size_t max_threads_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable all_idle_;  // for wait_until_idle
  std::deque<Job> queue_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;  // threads waiting on wake_
  bool closed_ = false;
  bool joined_ = false;
};

}  // namespace weft
