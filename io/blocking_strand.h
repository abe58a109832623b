// BlockingStrand: jobs that run one at a time, in submission order, on a
// BlockingPool. A FileWriter and a LineReader each own one, so that one
// file's writes never overlap or reorder and one reader's chunks are read
// in turn, while different files still use the whole pool.
//
// Implementation overview
// =======================
// The strand's State (shared by the handle and by a running drain) holds a
// queue of jobs and a `draining` flag, both guarded by its mutex. At most
// one drain exists at a time; it is an uncounted pool job (BlockingPool
// rule 3) that runs the queued jobs one after another.
//
// Rules
// -----
//   1. Counting. submit() counts each job as one IoService operation, as
//      BlockingPool::submit does. After shutdown began it calls job(false)
//      at once on the calling thread; such a job is never queued.
//   2. One drain. A submit that finds `draining` false sets it and posts a
//      drain to the pool. The job it just queued is counted and stays open
//      until the drain has run it, which is what BlockingPool rule 3 asks.
//      The drain pops and runs jobs until it finds the queue empty, and
//      clears `draining` under the same lock, so a queued job always has a
//      drain coming.
//   3. Order. Jobs run in the order their submit() calls took the mutex,
//      each after the previous one's job(true) returned, on whichever pool
//      thread runs the drain. The mutex orders each job's writes before the
//      next job's reads. end_operation() follows each job's destruction.
//   4. Lifetime. The drain holds a reference to State: dropping the strand
//      with jobs queued still runs them.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace weft {

class BlockingPool;

class BlockingStrand {
 public:
  explicit BlockingStrand(BlockingPool& pool);

  // Calls job(true) on a pool thread after every job submitted before it
  // (rule 3), or job(false) at once on the calling thread if the service
  // has shut down (rule 1). Any thread.
  void submit(std::function<void(bool accepted)> job);

 private:
  struct State {
    explicit State(BlockingPool& pool) : pool(pool) {}
    BlockingPool& pool;
    std::mutex mutex;
    std::deque<std::function<void(bool)>> queue;  // guarded by mutex
    bool draining = false;                        // guarded by mutex
  };

  static void drain(const std::shared_ptr<State>& state) noexcept;

  std::shared_ptr<State> state_;
};

}  // namespace weft
