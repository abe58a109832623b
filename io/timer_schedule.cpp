// TimerSchedule: an ordered run plus a 4-ary heap (io/timer_schedule.h).
#include "io/timer_schedule.h"

namespace weft {

void TimerSchedule::insert(TimerOp* op, Clock::time_point deadline) {
  const Entry entry{deadline, next_sequence_++, op};
  // The sequence only grows, so an entry whose deadline is not earlier than
  // the run's last keeps the run sorted by (deadline, sequence).
  if (run_.empty() || !(deadline < run_.back().deadline)) {
    run_.push_back(entry);
    return;
  }
  heap_.push_back(entry);
  sift_up(heap_.size() - 1);
}

const TimerSchedule::Entry& TimerSchedule::earliest() const noexcept {
  return run_is_earliest() ? run_.front() : heap_.front();
}

TimerOp* TimerSchedule::pop_earliest() noexcept {
  if (run_is_earliest()) {
    TimerOp* op = run_.front().op;
    run_.pop_front();
    return op;
  }
  TimerOp* op = heap_.front().op;
  heap_.front() = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
  return op;
}

std::vector<TimerOp*> TimerSchedule::take_all() {
  std::vector<TimerOp*> ops;
  ops.reserve(size());
  for (const Entry& entry : run_) ops.push_back(entry.op);
  for (const Entry& entry : heap_) ops.push_back(entry.op);
  run_.clear();
  heap_.clear();
  return ops;
}

// Four children share one or two cache lines, so a sift touches about half
// as many lines as a binary heap's, for a few more comparisons.

void TimerSchedule::sift_up(std::size_t index) noexcept {
  const Entry entry = heap_[index];
  while (index > 0) {
    const std::size_t parent = (index - 1) / 4;
    if (!earlier(entry, heap_[parent])) break;
    heap_[index] = heap_[parent];
    index = parent;
  }
  heap_[index] = entry;
}

void TimerSchedule::sift_down(std::size_t index) noexcept {
  const Entry entry = heap_[index];
  const std::size_t size = heap_.size();
  for (;;) {
    const std::size_t first = 4 * index + 1;
    if (first >= size) break;
    const std::size_t end = first + 4 < size ? first + 4 : size;
    std::size_t best = first;
    for (std::size_t child = first + 1; child < end; ++child) {
      if (earlier(heap_[child], heap_[best])) best = child;
    }
    if (!earlier(heap_[best], entry)) break;
    heap_[index] = heap_[best];
    index = best;
  }
  heap_[index] = entry;
}

void TimerSchedule::heapify() noexcept {
  // Floyd's bottom-up construction, O(n): sift down every parent, last
  // parent first.
  if (heap_.size() < 2) return;
  for (std::size_t index = (heap_.size() - 2) / 4 + 1; index-- > 0;) sift_down(index);
}

}  // namespace weft
