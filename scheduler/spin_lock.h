// A test-and-test-and-set spin lock for critical sections of a few dozen
// instructions (one operation on one array, map or cell).
//
// Protocol:
//   1. lock() exchanges `locked_` to true with acquire ordering; it pairs
//      with the release store in unlock(), so the holder sees every write
//      made by the previous holder inside the section.
//   2. While the lock is taken, waiters spin on a relaxed load (no cache
//      line ping-pong from repeated exchanges) and yield the CPU after a
//      bounded number of spins, so a preempted holder is not starved.
//   3. Holders never take a second SpinLock and never run script code or
//      I/O inside the section; that makes deadlock impossible by
//      construction.
#pragma once

#include <atomic>
#include <thread>

namespace weft {

class SpinLock {
 public:
  void lock() {
    for (;;) {
      // Rule 1: acquire pairs with the release in unlock().
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      int spins = 0;
      // Rule 2: a relaxed read only watches for the holder to leave.
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 64) {
          std::this_thread::yield();
          spins = 0;
        }
      }
    }
  }
  bool try_lock() {
    // Rule 1 again; a failed exchange orders nothing.
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() {
    // Rule 1: publishes the section's writes to the next holder.
    locked_.store(false, std::memory_order_release);
  }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace weft
