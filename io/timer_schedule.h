// TimerSchedule: armed timers in deadline order, for TimerQueue. It has no
// shared state: only the I/O thread (or a destructor after the join) uses
// it, so it needs no protocol beyond TimerQueue's (io/timer_queue.h).
//
// Two containers, as in Go's runtime timers and Node.js's timer lists:
//   - an ordered run, a FIFO of entries in deadline order. Sleeps of one
//     duration arrive in deadline order (deadline = now + delay), so they
//     are appended and popped in O(1), whatever their number;
//   - a 4-ary min-heap (as Go's) for entries that arrive out of order.
//     Entries carry their deadline, so sifting reads only the heap's own
//     array, never the TimerOps.
// insert() appends to the run when the entry is not earlier than the run's
// last, and pushes it on the heap otherwise; the earliest entry is the
// earlier of the run's front and the heap's top.
//
// Why: with 100,000 timers of one duration, a profile of a binary heap
// that kept each op's index up to date (for O(log n) removal) spent most of
// the I/O thread's time in sift_down, missing the cache on the index write
// into each moved op. The 4-ary heap of self-contained entries removed those
// misses; the run then takes same-duration timers off the heap entirely
// (I/O thread CPU per timer: ~185 ns with the run, ~245 ns with the heap
// alone; medians on a loaded machine).
//
// Entries are never removed from the middle: TimerQueue leaves a cancelled
// timer's entry in place, dead, and drops dead entries when they reach the
// front (pop_earliest) or in bulk (erase_if).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

namespace weft {

class TimerOp;

class TimerSchedule {
 public:
  using Clock = std::chrono::steady_clock;

  struct Entry {
    Clock::time_point deadline;
    std::uint64_t sequence;  // insertion order; breaks ties between equal deadlines
    TimerOp* op;
  };

  void insert(TimerOp* op, Clock::time_point deadline);

  [[nodiscard]] bool empty() const noexcept { return run_.empty() && heap_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return run_.size() + heap_.size(); }
  // The entry with the earliest (deadline, sequence). Requires !empty().
  [[nodiscard]] const Entry& earliest() const noexcept;
  // Removes earliest() and returns its op. Requires !empty().
  [[nodiscard]] TimerOp* pop_earliest() noexcept;

  // Removes every entry whose op satisfies `remove` (which may release the
  // op: it is not touched again). O(n).
  template <typename Predicate>
  void erase_if(Predicate remove);

  // Removes and returns every op, in no particular order.
  [[nodiscard]] std::vector<TimerOp*> take_all();

 private:
  static bool earlier(const Entry& a, const Entry& b) noexcept {
    return a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence);
  }
  [[nodiscard]] bool run_is_earliest() const noexcept {
    return !run_.empty() && (heap_.empty() || earlier(run_.front(), heap_.front()));
  }
  void sift_up(std::size_t index) noexcept;
  void sift_down(std::size_t index) noexcept;
  void heapify() noexcept;

  std::deque<Entry> run_;    // sorted by (deadline, sequence)
  std::vector<Entry> heap_;  // 4-ary min-heap by (deadline, sequence)
  std::uint64_t next_sequence_ = 0;
};

template <typename Predicate>
void TimerSchedule::erase_if(Predicate remove) {
  // A subsequence of a sorted run is sorted.
  std::erase_if(run_, [&](const Entry& entry) { return remove(entry.op); });
  std::erase_if(heap_, [&](const Entry& entry) { return remove(entry.op); });
  heapify();
}

}  // namespace weft
