// BlockingPool: the protocol (rules 1-5, shutdown) is at the top of
// io/blocking_pool.h.
#include "io/blocking_pool.h"

#include <pthread.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "io/io_service.h"

namespace weft {

BlockingPool::BlockingPool(IoService& service, std::size_t max_threads)
    : service_(service), max_threads_(std::max<std::size_t>(max_threads, 1)) {}

BlockingPool::~BlockingPool() {
  join();
}

void BlockingPool::submit(std::function<void(bool accepted)> job) {
  if (!service_.try_begin_operation()) {
    job(false);  // rule 2
    return;
  }
  enqueue(Job{std::move(job), true});
}

void BlockingPool::post(std::function<void()> job) {
  enqueue(Job{[job = std::move(job)](bool) { job(); }, false});
}

void BlockingPool::enqueue(Job job) {
  std::unique_lock lock(mutex_);
  if (closed_) {
    // Rules 1 and 3 rule this out; were it to happen anyway, running the
    // job here beats starting a thread that nobody would join.
    lock.unlock();
    run_job(job);
    return;
  }
  queue_.push_back(std::move(job));
  if (queue_.size() > idle_ && threads_.size() < max_threads_) {
    try {
      threads_.emplace_back([this] { run_thread(); });
    } catch (const std::system_error&) {
      if (threads_.empty()) {
        // Rule 4: nobody else would ever run it.
        Job inline_job = std::move(queue_.back());
        queue_.pop_back();
        lock.unlock();
        run_job(inline_job);
        return;
      }
    }
  }
  lock.unlock();
  wake_.notify_one();
}

void BlockingPool::run_job(Job& job) noexcept {
  {
    // Moved out so that the captures are destroyed before the operation
    // counts as complete (rule 1).
    auto run = std::move(job.run);
    run(true);
  }
  if (job.counted) service_.end_operation();
}

void BlockingPool::run_thread() noexcept {
  // Best effort: a name only helps debuggers and `top -H`.
  pthread_setname_np(pthread_self(), "weft-blocking");
  std::unique_lock lock(mutex_);
  for (;;) {
    if (queue_.empty()) {
      if (closed_) return;
      ++idle_;
      if (idle_ == threads_.size()) all_idle_.notify_all();
      wake_.wait(lock, [this] { return !queue_.empty() || closed_; });
      --idle_;
      continue;
    }
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    run_job(job);
    lock.lock();
  }
}

void BlockingPool::join() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    if (joined_) return;
    joined_ = true;
    closed_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  all_idle_.notify_all();
  for (std::thread& thread : threads) thread.join();
}

bool BlockingPool::wait_until_idle(std::chrono::nanoseconds limit) {
  std::unique_lock lock(mutex_);
  return all_idle_.wait_for(
      lock, limit, [this] { return closed_ || (queue_.empty() && idle_ == threads_.size()); });
}

bool BlockingPool::on_pool_thread() const {
  const std::thread::id self = std::this_thread::get_id();
  std::lock_guard lock(mutex_);
  return std::any_of(threads_.begin(), threads_.end(),
                     [self](const std::thread& thread) { return thread.get_id() == self; });
}

std::size_t BlockingPool::thread_count() const {
  std::lock_guard lock(mutex_);
  return threads_.size();
}

}  // namespace weft
