// An actor's mailbox: a FIFO of messages and the flag that makes the actor
// run on at most one worker at a time. Knows nothing of script values:
// engine/actor.h instantiates it with its message type.
//
// The actor is not a task that waits forever: it is activated (the engine
// starts one task) when its mailbox goes from idle to non-empty, that task
// takes messages until the mailbox is empty, and then the activation ends.
// An idle actor holds no task, so it costs its mailbox only, and a program
// whose actors are all idle can end.
//
// Why a lock and not moodycamel's ConcurrentQueue: the messages of one
// sender must arrive in the order sent, and a sending task moves between
// worker threads while moodycamel keeps order only per producer thread.
// The section under the lock is a push onto a RingQueue
// (scheduler/ring_queue.h), whose first two slots live in the mailbox, or
// the move of the whole queue to the running activation's batch (rule 3:
// a swap of blocks, not of items).
//
// Protocol
// --------
//   1. `items_`, `active_` and `closed_` are guarded by `lock_`; `taken_`
//      is not (rule 3).
//   2. push on an open mailbox appends. If no activation is running
//      (!active_), it sets active_ and returns Activate: the pusher must
//      start exactly one activation. So an actor is scheduled once when its
//      mailbox goes from empty to non-empty, and never runs twice at once.
//   3. take is called only by the running activation. It gives the next
//      item; on an empty open mailbox it clears active_ (Idle: the
//      activation ends, and the next push starts a new one). Both happen
//      under the lock, so a push cannot fall between "empty" and "idle".
//      The lock is taken once per batch, not per item: take moves every
//      queued item, in order, to `taken_`, which belongs to the running
//      activation (read and written without the lock), and gives items
//      from there until it is empty. It is empty whenever the activation
//      ends by Idle, so the next activation (ordered after this one by the
//      lock, rule 5) finds it empty too. take_all() on another thread sees
//      only what is queued; the activation drops its batch itself
//      (take_batch()) when it must (engine/actor.cpp, a halt).
//      With `may_idle` false it leaves active_ set and gives Empty: the
//      activation lingers (it yields its worker once and asks again), so
//      two actors that answer each other reuse their activations instead
//      of starting one per message.
//   4. close refuses later pushes. The items queued before it are still
//      taken; then take gives Finished once and active_ stays set for
//      ever, so no activation starts again. close on an idle mailbox
//      returns Activate so that the last activation runs and finishes.
//   5. The lock's release and acquire order everything an activation wrote
//      before Idle before the next activation's first read: the engine
//      keeps the actor's state in plain fields for that reason.
#pragma once

#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "scheduler/ring_queue.h"
#include "scheduler/spin_lock.h"

namespace weft {

enum class MailboxPush : unsigned char { Queued, Activate, Refused };
enum class MailboxTake : unsigned char { Item, Empty, Idle, Finished };

template <class T>
class Mailbox {
 public:
  // Rule 2. On Refused the item is untouched.
  MailboxPush push(T& item) {
    std::lock_guard guard(lock_);
    if (closed_) return MailboxPush::Refused;
    items_.push_back(std::move(item));
    if (active_) return MailboxPush::Queued;
    active_ = true;
    return MailboxPush::Activate;
  }

  // Rule 3; the running activation only.
  MailboxTake take(T& out, bool may_idle = true) {
    if (!taken_.empty()) {
      taken_.pop_front_into(out);
      return MailboxTake::Item;
    }
    std::lock_guard guard(lock_);
    if (items_.size() == 1) {  // a lone message needs no batch
      items_.pop_front_into(out);
      return MailboxTake::Item;
    }
    if (!items_.empty()) {
      items_.move_all_into(taken_);
      taken_.pop_front_into(out);
      return MailboxTake::Item;
    }
    if (closed_) return MailboxTake::Finished;
    if (!may_idle) return MailboxTake::Empty;
    active_ = false;
    return MailboxTake::Idle;
  }

  // Rule 4: Activate when the caller must start the last activation;
  // Queued when one runs already; Refused when it was closed before.
  MailboxPush close() {
    std::lock_guard guard(lock_);
    if (closed_) return MailboxPush::Refused;
    closed_ = true;
    if (active_) return MailboxPush::Queued;
    active_ = true;
    return MailboxPush::Activate;
  }

  [[nodiscard]] bool closed() {
    std::lock_guard guard(lock_);
    return closed_;
  }
  [[nodiscard]] std::size_t size() {
    std::lock_guard guard(lock_);
    return items_.size();
  }
  // Every item still queued (the owner's destruction, or a stop that
  // drops them); the caller owns them. Not the running activation's
  // batch (rule 3).
  std::vector<T> take_all() {
    std::lock_guard guard(lock_);
    return items_.take_all();
  }
  // Rule 3: what is left of the batch, for the running activation, or
  // once no activation runs (the owner's destruction).
  std::vector<T> take_batch() { return taken_.take_all(); }

 private:
  SpinLock lock_;
  RingQueue<T, 2> items_;
  RingQueue<T, 2> taken_;  // rule 3: the running activation's
  bool active_ = false;
  bool closed_ = false;
};

}  // namespace weft
