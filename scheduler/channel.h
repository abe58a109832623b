// A channel of T between tasks, bounded or unbounded, whose send and recv
// suspend the task (never block a worker) and wake exactly the waiters
// that can now go on. Knows nothing of script values: engine/channel.h
// instantiates it with Value.
//
// Why a lock and not a lock-free queue: a send must decide "room left?",
// "closed?" and "who to wake?" as one step, and the receivers must see
// the items in the order they went in even when the sending task moves to
// another worker between two sends. moodycamel's ConcurrentQueue keeps
// order only per producer thread, and a task is not a thread. Go's
// runtime channel (hchan) is a lock for the same reasons. The section
// under the lock is a few dozen instructions; wakes happen after it.
//
// Protocol
// --------
//   1. `items_`, `closed_` and both wait lists are guarded by `lock_`.
//   2. send: on a closed channel, Closed. With room (unbounded, or fewer
//      than `capacity_` items), the item is appended, and one receiver
//      ticket is woken: Sent. Full: with a Parking, a ticket goes on the
//      sender list (Parked); without, Full.
//   3. recv: with items, the first is taken; on a bounded channel that
//      frees a slot, so one sender ticket is woken: Received. Empty and
//      closed: Closed (the channel is drained). Empty: with a Parking, a
//      ticket goes on the receiver list (Parked); without, Empty.
//   4. close: sets closed and wakes every ticket of both lists. Woken
//      receivers drain what is left, then see Closed; woken senders see
//      Closed. fail(error) is a close whose drained receivers get Failed
//      with the error (every later recv too), for a producer that met an
//      error (io/lines).
//   5. A woken task retries its operation from the start (it was woken,
//      not handed an item). Another task may take the item first; then
//      that task consumed what the wake announced and the woken one parks
//      again. So every item is taken exactly once and no wake is lost.
//   6. A waker pops a ticket under the lock and wakes it after leaving the
//      lock (a wake may drop the last reference on a task; so are stale
//      tickets swept out of a list dropped after the lock); a stale ticket
//      (parker.h rule 2) is skipped and the next is popped. A task whose
//      park was claimed but that does not retry here (interrupted, or a
//      select that took another clause) calls pass_on(), which wakes the
//      next receiver if items are left and the next sender if room is.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <utility>

#include "scheduler/parker.h"
#include "scheduler/spin_lock.h"
#include "scheduler/wait_list.h"

namespace weft {

// The caller's armed park (parker.h rule 1): where to leave a ticket when
// the operation cannot go on now.
struct Parking {
  Task& task;
  Parker& parker;
  std::uint64_t epoch;
};

enum class ChannelOp : unsigned char { Done, Parked, WouldBlock, Closed, Failed };

template <class T>
class ChannelCore {
 public:
  // capacity 0: unbounded.
  explicit ChannelCore(std::size_t capacity) : capacity_(capacity) {}

  // Rule 2. On Done the value was moved in; otherwise it is untouched.
  ChannelOp send(T& value, const Parking* parking) {
    ParkedTask receiver;
    std::deque<ParkedTask> swept;  // dropped after the lock (rule 6)
    {
      std::lock_guard guard(lock_);
      if (closed_) return ChannelOp::Closed;
      if (capacity_ != 0 && items_.size() >= capacity_) {
        if (parking == nullptr) return ChannelOp::WouldBlock;
        senders_.push(ParkedTask(parking->task, parking->parker, parking->epoch), swept);
        return ChannelOp::Parked;
      }
      items_.push_back(std::move(value));
      if (!receivers_.pop(receiver)) return ChannelOp::Done;
    }
    if (!receiver.wake()) wake_first(receivers_);
    return ChannelOp::Done;
  }

  // Rule 3. On Done `out` holds the item.
  ChannelOp recv(T& out, const Parking* parking) {
    ParkedTask sender;
    std::deque<ParkedTask> swept;  // dropped after the lock (rule 6)
    {
      std::lock_guard guard(lock_);
      if (items_.empty()) {
        if (failed_) {
          out = failure_;
          return ChannelOp::Failed;
        }
        if (closed_) return ChannelOp::Closed;
        if (parking == nullptr) return ChannelOp::WouldBlock;
        receivers_.push(ParkedTask(parking->task, parking->parker, parking->epoch), swept);
        return ChannelOp::Parked;
      }
      out = std::move(items_.front());
      items_.pop_front();
      if (capacity_ == 0 || !senders_.pop(sender)) return ChannelOp::Done;
    }
    if (!sender.wake()) wake_first(senders_);
    return ChannelOp::Done;
  }

  // Rule 4. False when it was closed already.
  bool close() { return close_with(nullptr); }
  bool fail(T error) { return close_with(&error); }

  // Every item still buffered, then the failure value (a default T when
  // the channel never failed), for the owner's destruction (no other
  // holder is left then).
  std::deque<T> take_items() {
    std::lock_guard guard(lock_);
    T failure = std::move(failure_);
    std::deque<T> items = std::exchange(items_, {});
    items.push_back(std::move(failure));
    return items;
  }

  // Rule 6.
  void pass_on() {
    bool items_left = false;
    bool room_left = false;
    {
      std::lock_guard guard(lock_);
      items_left = !items_.empty();
      room_left = !closed_ && (capacity_ == 0 || items_.size() < capacity_);
    }
    if (items_left) wake_first(receivers_);
    if (room_left) wake_first(senders_);
  }

  [[nodiscard]] std::size_t size() {
    std::lock_guard guard(lock_);
    return items_.size();
  }
  [[nodiscard]] bool closed() {
    std::lock_guard guard(lock_);
    return closed_;
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  bool close_with(T* error) {
    std::deque<ParkedTask> receivers;
    std::deque<ParkedTask> senders;
    {
      std::lock_guard guard(lock_);
      if (closed_) return false;
      closed_ = true;
      if (error != nullptr) {
        failed_ = true;
        failure_ = std::move(*error);
      }
      receivers = receivers_.take_all();
      senders = senders_.take_all();
    }
    for (const ParkedTask& ticket : receivers) (void)ticket.wake();
    for (const ParkedTask& ticket : senders) (void)ticket.wake();
    return true;
  }

  void wake_first(WaitList& list) {
    for (;;) {
      ParkedTask ticket;
      {
        std::lock_guard guard(lock_);
        if (!list.pop(ticket)) return;
      }
      if (ticket.wake()) return;
    }
  }

  const std::size_t capacity_;
  SpinLock lock_;
  std::deque<T> items_;
  bool closed_ = false;
  bool failed_ = false;
  T failure_{};
  WaitList receivers_;
  WaitList senders_;
};

}  // namespace weft
