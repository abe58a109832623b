// HostPool: the example host's own thread pool, a queue of jobs and a few
// threads, standing for whatever a real host settles promises from (a
// database driver's threads, an RPC library's callbacks). The embedding
// tests use it too.
//
// Protocol: jobs are queued and taken under lock_; the destructor sets
// stopping_ under the lock, wakes every thread, and joins them after they
// have run every job queued before.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace weft_example {

class HostPool {
 public:
  explicit HostPool(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~HostPool() {
    {
      std::lock_guard guard(lock_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard guard(lock_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock guard(lock_);
        ready_.wait(guard, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex lock_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace weft_example
