// TimerQueue: the I/O thread's timers. One Asio steady_timer (the "master")
// is armed at the earliest deadline of a TimerSchedule (io/timer_schedule.h:
// an ordered run plus a 4-ary heap); starts and cancels reach the I/O thread
// through a lock-free inbox.
//
// Implementation overview
// =======================
// A timer is one heap object, TimerOp, shared by its handles and by the
// queue (intrusive reference count). Starting one costs one allocation, two
// compare-and-swaps (the service's operation count and the inbox head) and,
// only when its deadline comes before the one the master is armed for, one
// asio::post of a drain. A burst of timers started after an earlier one (a
// hundred thousand 100 ms sleeps) therefore wakes the I/O thread once: the
// master's wait for the first deadline drains the rest. Everything the
// I/O thread does to timers (arm, fire, cancel, sweep at shutdown) runs in
// drain(), on_master(), close() and stop(), so the schedule, the master
// timer and each op's phase need no lock. Asio timers are not thread-safe, and
// this design never touches one off the I/O thread.
//
// One asio::steady_timer per op was the alternative. It costs a second
// allocation (the wait operation), a lock of Asio's service registry to
// construct the timer, a post per start, and a binary heap that writes into
// every timer it moves; the single master also lets the queue order equal
// deadlines by start order. Cancelled timers are not removed from the
// schedule at once but left as dead entries (rule 9), as Go's runtime does,
// so the schedule never needs an op's position.
//
// Cost, measured with 100,000 timers started from 2 threads (CPU time per
// timer, medians of 7 runs on a 2-core machine under load from other jobs,
// so only a guide): starting, ~140 ns on the starting thread; everything
// on the I/O thread (drain, arm, fire, callback, free), ~185 ns when the
// delays are equal (100 ms) and ~870 ns when they are random (50-150 ms, so
// every timer goes through the heap).
//
// TimerOp::state, the only field several threads change (a TimerState):
//
//   Pending --fire (I/O thread, at the deadline)-------------> Fired
//      |
//      +-----cancel() (any thread) or close() (I/O thread)--> Cancelled
//
// Both transitions are compare-and-swaps from Pending; Fired and Cancelled
// are terminal. The winner decides the value passed to the callback.
//
// TimerOp::phase, the I/O thread's own bookkeeping (a TimerPhase):
//
//   Queued --drain, state still Pending--> Armed --popped at deadline---> Completed
//      |                                     |                               ^
//      |                                     +--cancel link: now; the        |
//      |                                        schedule entry stays, dead --+
//      +--drain, state Cancelled or queue closing----------------------------+
//
// The inbox is a Treiber stack (R. K. Treiber, "Systems Programming: Coping
// with Parallelism", IBM RJ 5118, 1986) of InboxLinks. Departure: the
// consumer never pops one node; it detaches the whole list with one exchange
// (as Linux's llist_del_all does), so the ABA problem of single pops cannot
// arise, and it reverses the detached list into arrival order.
//
// Hand-off rules
// --------------
//   1. Publication. start() writes the op's deadline, callback and links
//      before pushing its arm link with a release compare-and-swap; drain()
//      detaches the inbox with an acquire exchange that pairs with it. From
//      then on only the I/O thread reads or writes done and phase; queue and
//      deadline never change.
//   2. Wake-up. The I/O thread drains the inbox at every master wait's
//      end (on_master) and at every posted drain. A push must post a drain
//      (a "waking push") when the I/O thread would otherwise learn of its
//      link too late: always for a cancel link (so a cancelled timer's
//      memory goes at once), and for an arm link whose deadline is earlier
//      than wake_before_, the time the master is armed for (the end of time
//      when it is not armed, or the queue is closing). A waking push posts
//      only if drain_posted_ was false, and sets it; drain() clears it
//      before it detaches the inbox. Two hand-offs make sure no link is
//      stranded:
//      a. A waking push that finds drain_posted_ true has its link taken
//         by that drain: the drain's clear precedes its acq_rel exchange of
//         the inbox, and a push whose acq_rel compare-and-swap comes after
//         that exchange (in the inbox's modification order) reads from it,
//         so the clear happens before the push's exchange of the flag,
//         which then reads false and posts.
//      b. A push that does not wake has read wake_before_ (seq_cst) after
//         its seq_cst compare-and-swap; the I/O thread, before it leaves
//         the timers (end of drain and on_master), stores wake_before_ and
//         then loads the inbox (both seq_cst), and drains again if it is
//         not empty. By the single total order of seq_cst operations,
//         either the thread sees the link or the push sees the new
//         wake_before_ (and wakes if its deadline is earlier). So every
//         link is drained by the time the master's current wait ends,
//         which is no later than its deadline (rule 7 covers the end).
//         Operations, not fences: ThreadSanitizer does not model fences
//         (PITFALLS.md), and with GCC 12 it does not compile them.
//   3. Order. An op's arm link is pushed before start() returns its handle,
//      so before any cancel link of that op. drain() processes links in
//      arrival order, so it always sees an op's arm link first.
//   4. Cancel. cancel() (any thread) compare-and-swaps Pending -> Cancelled;
//      if it wins it takes a reference for the cancel link and pushes it.
//      A lost compare-and-swap has no effect, so cancel() may be called any
//      number of times, also after the timer fired. Each op's cancel link is
//      pushed at most once, because the state leaves Pending once.
//   5. Exactly one callback. complete() is the only place that calls done,
//      and it sets phase to Completed; it runs only on the I/O thread, for an
//      op that is Queued (at drain) or Armed (popped, or cancelled by its
//      link), so it runs once. The value is true only if the I/O thread's
//      own compare-and-swap Pending -> Fired won: a fire that finds the op
//      already Cancelled (a cancel whose link is still in the inbox) calls
//      done(false), and the late cancel link then finds phase Completed and
//      only drops its reference.
//   6. References. A new op starts with two: the handle's and the queue's.
//      The queue's travels with the arm link into the schedule entry and is
//      dropped when the op leaves the queue: completed at drain without
//      being armed, popped from the schedule (fired or dead), or dropped by
//      purge_dead() or stop(). A cancel link holds a third until drain()
//      has processed it. The last release deletes the op, on whichever
//      thread drops it.
//   7. Accounting and shutdown. Every op was counted by
//      IoService::try_begin_operation before start(); complete() calls
//      IoService::end_operation after the callback returns. The service's
//      thread does not stop while that count is above zero (io_service.h),
//      so every armed or queued op completes. close() (shutdown step 2)
//      sets closing_, drains the inbox and completes every live op in the
//      schedule with false, claiming Pending -> Cancelled first so that a later
//      cancel() loses; drains after that complete arm links at once with
//      false. stop() (shutdown step 3; the count is zero, so only dead
//      entries can be left) empties the schedule and cancels the master
//      wait. A
//      cancel link pushed after the thread has stopped is released by the
//      destructor, which runs after the join.
//   8. Callbacks run on the I/O thread in a noexcept frame: an exception
//      escaping one terminates the process. A callback may start or cancel
//      timers (that only pushes to the inbox) but never touches the
//      schedule.
//   9. Dead entries. A cancelled armed op completes at once (its callback
//      does not wait for the deadline) but its schedule entry stays, with
//      phase Completed, until it comes first (rearm() and fire_expired()
//      drop it) or until dead entries exceed a quarter of the schedule, when
//      purge_dead() removes them all in O(n). A cancel
//      thus costs O(1) amortized, and dead entries, which hold only the
//      TimerOp (the callback and its captures are freed at completion),
//      never outnumber a third of the live ones for long.
//  10. Slack. A timer may fire up to 1/64 of its delay, at most 1 ms,
//      after its deadline (its slack), never before it: the master is
//      armed for the earliest deadline plus that timer's slack, and each
//      wait's end fires every timer whose deadline has passed. Timers that
//      are due within a millisecond of each other thus fire in one batch,
//      with one wake of the I/O thread instead of one each (a hundred
//      thousand 100 ms sleeps started over 150 ms fire in about 150
//      batches). Node and Tokio round timers to whole milliseconds; this
//      keeps short sleeps precise. A timer that comes after the earliest
//      may fire up to the earliest's slack after its own.
//
// Memory orderings are given, with their reasons, at each atomic operation
// in timer_queue.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "io/asio.h"
#include "io/timer.h"
#include "io/timer_schedule.h"

namespace weft {

class IoService;
struct IoStats;

enum class TimerState : std::uint8_t { Pending, Fired, Cancelled };
enum class TimerPhase : std::uint8_t { Queued, Armed, Completed };

// One request in the inbox: arm this op, or remove it (cancel).
struct InboxLink {
  enum class Kind : std::uint8_t { Arm, Cancel };
  InboxLink* next = nullptr;  // written by the pusher before its release CAS
  TimerOp* op;
  Kind kind;
};

class TimerOp {
 public:
  using Clock = std::chrono::steady_clock;

  TimerOp(TimerQueue* queue, Clock::time_point deadline, Clock::duration slack,
          std::function<void(bool)> done)
      : queue(queue),
        deadline(deadline),
        slack(slack),
        done(std::move(done)),
        arm_link{nullptr, this, InboxLink::Kind::Arm},
        cancel_link{nullptr, this, InboxLink::Kind::Cancel} {}
  TimerOp(const TimerOp&) = delete;
  TimerOp& operator=(const TimerOp&) = delete;

  void retain() noexcept;
  void release() noexcept;

  // Immutable after construction; any thread may read them.
  TimerQueue* const queue;
  const Clock::time_point deadline;
  const Clock::duration slack;  // rule 10

  // Shared. refs: every holder (rule 6). state: written only by
  // compare-and-swaps from Pending (rules 4 and 5).
  std::atomic<std::uint32_t> refs{2};
  std::atomic<TimerState> state{TimerState::Pending};

  // Handed to the I/O thread through the inbox (rule 1), then its own.
  std::function<void(bool)> done;
  InboxLink arm_link;
  InboxLink cancel_link;
  TimerPhase phase = TimerPhase::Queued;
};

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;

  TimerQueue(IoService& service, boost::asio::io_context& context);
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Any thread, after IoService::try_begin_operation succeeded (rule 7).
  // A negative delay counts as zero; a deadline past the clock's range is
  // clamped to its end.
  [[nodiscard]] TimerHandle start(std::chrono::nanoseconds delay,
                                  std::function<void(bool fired)> done);
  // Any thread (rule 4). True if this call moved the op to Cancelled.
  [[nodiscard]] bool cancel(TimerOp* op);

  // I/O thread only: shutdown steps 2 and 3 (rule 7).
  void close() noexcept;
  void stop() noexcept;

  // Any thread; each counter is exact once the queue is idle.
  void read_stats(IoStats& stats) const noexcept;

 private:
  void push(InboxLink* link);

  // I/O thread only.
  void drain() noexcept;
  void take_inbox() noexcept;
  void publish_wake_bound() noexcept;
  void arm(TimerOp* op);
  void fire_expired() noexcept;
  void rearm();
  void on_master(std::uint64_t generation) noexcept;
  void complete(TimerOp* op, bool fired) noexcept;
  void drop_dead_front() noexcept;
  void purge_dead() noexcept;

  IoService& service_;
  boost::asio::io_context& context_;

  // Written by every thread that starts or cancels a timer; kept off the
  // cache line the I/O thread writes on every timer.
  alignas(64) std::atomic<InboxLink*> inbox_{nullptr};
  std::atomic<bool> drain_posted_{false};  // rule 2

  // Rule 2: arm links whose deadline (Clock's count) is earlier wake the
  // I/O thread; kWakeAlways is later than every deadline. Written by the
  // I/O thread only, read by every push.
  static constexpr std::int64_t kWakeAlways = INT64_MAX;
  alignas(64) std::atomic<std::int64_t> wake_before_{kWakeAlways};

  // The I/O thread's own state from here down (the destructor, after the
  // join, is the only other user).
  alignas(64) TimerSchedule schedule_;
  boost::asio::steady_timer master_;
  Clock::time_point armed_deadline_{};  // the master's wait: a deadline plus its slack
  std::uint64_t generation_ = 0;        // identifies the master's current wait
  std::size_t dead_entries_ = 0;        // schedule entries whose op is Completed (rule 9)
  bool armed_ = false;
  bool closing_ = false;

  // Statistics: written only by the I/O thread, read by anyone.
  std::atomic<std::uint64_t> started_{0};
  std::atomic<std::uint64_t> fired_{0};
  std::atomic<std::uint64_t> cancelled_{0};
};

}  // namespace weft
