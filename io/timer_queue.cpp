// TimerQueue: the protocol (op states and phases, rules 1-8) is at the top
// of io/timer_queue.h.
#include "io/timer_queue.h"

#include <algorithm>
#include <utility>

#include "io/io_service.h"

namespace weft {

namespace asio = boost::asio;

namespace {

// Statistics have one writer, the I/O thread, so a load and a store replace
// a read-modify-write. Relaxed: they are counters for people, not a
// hand-off; nothing is read because of them.
void bump(std::atomic<std::uint64_t>& counter) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// Moves the op out of Pending, or fails if it has left it already (rules 4,
// 5 and 7). Relaxed: the state only elects one winner among fire, cancel
// and the shutdown sweep, and read-modify-writes on one word agree on that
// by themselves. No data travels with it: the callback reached the I/O
// thread by rule 1, and a cancel reaches it through its own inbox push.
bool claim(TimerOp* op, TimerState to) noexcept {
  TimerState expected = TimerState::Pending;
  return op->state.compare_exchange_strong(expected, to, std::memory_order_relaxed,
                                           std::memory_order_relaxed);
}

}  // namespace

void TimerOp::retain() noexcept {
  // Relaxed: a reference is only ever made from one that is already held,
  // so the op cannot be freed concurrently, and nothing is published.
  refs.fetch_add(1, std::memory_order_relaxed);
}

void TimerOp::release() noexcept {
  // Acq_rel: the release half publishes this holder's last uses of the op;
  // the acquire half, on the final decrement, pairs with the release of
  // every earlier one, so the deleting thread sees all of them.
  if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

TimerQueue::TimerQueue(IoService& service, asio::io_context& context)
    : service_(service), context_(context), master_(context) {}

TimerQueue::~TimerQueue() {
  // After the join (rule 7): only cancel links that arrived when the thread
  // had stopped can be left, and their ops have completed. Acquire: pairs
  // with the release push of each link, like drain().
  InboxLink* link = inbox_.exchange(nullptr, std::memory_order_acquire);
  while (link != nullptr) {
    InboxLink* next = link->next;
    link->op->release();
    link = next;
  }
}

TimerHandle TimerQueue::start(std::chrono::nanoseconds delay,
                              std::function<void(bool fired)> done) {
  const Clock::time_point now = Clock::now();
  if (delay < Clock::duration::zero()) delay = Clock::duration::zero();
  const Clock::time_point deadline =
      delay > Clock::time_point::max() - now ? Clock::time_point::max() : now + delay;
  // Two references (rule 6): the handle's, adopted below, and the queue's.
  // Rule 10.
  const Clock::duration slack = std::min<Clock::duration>(delay / 64, std::chrono::milliseconds(1));
  auto* op = new TimerOp(this, deadline, slack, std::move(done));
  push(&op->arm_link);  // rule 1; the handle is created after (rule 3)
  return TimerHandle(op);
}

bool TimerQueue::cancel(TimerOp* op) {
  if (!claim(op, TimerState::Cancelled)) return false;
  op->retain();  // the cancel link's reference (rule 6)
  push(&op->cancel_link);
  return true;
}

void TimerQueue::push(InboxLink* link) {
  // Read before the push: once pushed, the link may be processed at once.
  // The op itself stays alive, since the caller holds a reference.
  const bool is_arm = link->kind == InboxLink::Kind::Arm;
  const std::int64_t deadline =
      std::min(link->op->deadline.time_since_epoch().count(), kWakeAlways - 1);
  // Relaxed load: only a first guess for the compare-and-swap below.
  InboxLink* head = inbox_.load(std::memory_order_relaxed);
  do {
    link->next = head;
    // Seq_cst on success. Its release half publishes the op and
    // link->next to take_inbox()'s exchange (rule 1); its acquire half
    // reads from that exchange when it came first, which orders
    // drain_posted_'s clear before the flag's exchange below (rule 2a);
    // and it is in the single total order with the load below and
    // publish_wake_bound()'s store and load (rule 2b). Relaxed on failure:
    // nothing was written.
  } while (!inbox_.compare_exchange_weak(head, link, std::memory_order_seq_cst,
                                         std::memory_order_relaxed));
  // Rule 2b. Seq_cst: either the I/O thread's load of the inbox sees this
  // link, or this load sees the bound it stored before that load.
  if (is_arm && deadline >= wake_before_.load(std::memory_order_seq_cst)) return;
  // Rule 2a. Acq_rel: the acquire half pairs with the release of another
  // pusher's exchange that found false, the release half with the next.
  if (!drain_posted_.exchange(true, std::memory_order_acq_rel)) {
    asio::post(context_, [this]() noexcept { drain(); });
  }
}

void TimerQueue::drain() noexcept {
  take_inbox();
  rearm();
  publish_wake_bound();
}

void TimerQueue::take_inbox() noexcept {
  // Rule 2a: cleared before the exchange below, whose release half
  // carries the clear to every push that comes after it. Relaxed for
  // that reason.
  drain_posted_.store(false, std::memory_order_relaxed);
  // Acq_rel: the acquire half pairs with the release compare-and-swap of
  // every push in the detached list (rule 1); the release half, see above.
  InboxLink* list = inbox_.exchange(nullptr, std::memory_order_acq_rel);
  // The stack holds the newest link first; rule 3 needs arrival order.
  InboxLink* in_order = nullptr;
  while (list != nullptr) {
    InboxLink* next = list->next;
    list->next = in_order;
    in_order = list;
    list = next;
  }
  while (in_order != nullptr) {
    InboxLink* link = in_order;
    // Read before the op is released: that may free it, link included.
    in_order = link->next;
    TimerOp* op = link->op;
    if (link->kind == InboxLink::Kind::Arm) {
      bump(started_);
      if (closing_) {
        (void)claim(op, TimerState::Cancelled);  // lost only to a cancel() (rule 7)
        complete(op, false);
        op->release();  // the queue's reference (rule 6)
      } else if (op->state.load(std::memory_order_relaxed) == TimerState::Cancelled) {
        // Relaxed: a stale Pending is harmless, since the cancel link comes
        // later and completes the armed op (rule 5).
        complete(op, false);
        op->release();  // the queue's reference (rule 6)
      } else {
        arm(op);
      }
    } else {
      // A cancel link: its compare-and-swap won (rule 4). Rule 3 means the
      // op's phase is Armed or Completed here, never Queued.
      if (op->phase == TimerPhase::Armed) {
        complete(op, false);
        ++dead_entries_;  // rule 9: the schedule entry stays for now
      }
      op->release();  // the cancel link's reference
    }
  }
  if (dead_entries_ > schedule_.size() / 4) purge_dead();
}

void TimerQueue::publish_wake_bound() noexcept {
  for (;;) {
    const std::int64_t bound =
        armed_ && !closing_ ? armed_deadline_.time_since_epoch().count() : kWakeAlways;
    // Rule 2b. Seq_cst store and load, in the total order with every
    // push's compare-and-swap and load of the bound (see push()). The load
    // only asks whether to go round; take_inbox() acquires the links.
    wake_before_.store(bound, std::memory_order_seq_cst);
    if (inbox_.load(std::memory_order_seq_cst) == nullptr) return;
    take_inbox();
    rearm();
  }
}

void TimerQueue::arm(TimerOp* op) {
  op->phase = TimerPhase::Armed;
  schedule_.insert(op, op->deadline);
}

void TimerQueue::rearm() {
  drop_dead_front();
  if (closing_ || schedule_.empty()) return;
  const TimerSchedule::Entry& first = schedule_.earliest();
  // Rule 10; a deadline at the clock's end gets no slack.
  const Clock::time_point earliest = first.deadline <= Clock::time_point::max() - first.op->slack
                                         ? first.deadline + first.op->slack
                                         : first.deadline;
  // A wait for a later (or equal) time would be superseded; a wait for an
  // earlier one, left by a cancelled timer, only wakes the thread once for
  // nothing, which is cheaper than cancelling it each time.
  if (armed_ && armed_deadline_ <= earliest) return;
  armed_ = true;
  armed_deadline_ = earliest;
  const std::uint64_t generation = ++generation_;
  // Cancels the previous wait, if any; its handler finds an old generation.
  master_.expires_at(earliest);
  master_.async_wait(
      [this, generation](const boost::system::error_code&) noexcept { on_master(generation); });
}

void TimerQueue::on_master(std::uint64_t generation) noexcept {
  // A superseded wait, or one that was cancelled or had already expired
  // when expires_at replaced it: the current wait (if any) is in charge.
  if (generation != generation_) return;
  armed_ = false;
  take_inbox();  // rule 2: links that did not wake the thread are due now
  fire_expired();
  rearm();
  publish_wake_bound();
}

void TimerQueue::fire_expired() noexcept {
  // Asio runs this handler only once the clock reached the armed deadline;
  // reading the clock here keeps the "never before the deadline" promise
  // for every timer popped below.
  const Clock::time_point now = Clock::now();
  while (!schedule_.empty() && schedule_.earliest().deadline <= now) {
    TimerOp* op = schedule_.pop_earliest();
    if (op->phase == TimerPhase::Completed) {
      --dead_entries_;  // rule 9
    } else {
      // Rule 5: false if a cancel() won and its link is still in the inbox.
      complete(op, claim(op, TimerState::Fired));
    }
    op->release();  // the queue's reference (rule 6)
  }
}

void TimerQueue::complete(TimerOp* op, bool fired) noexcept {
  op->phase = TimerPhase::Completed;
  bump(fired ? fired_ : cancelled_);
  {
    // Moved out so that the callback's captures are destroyed before the
    // operation counts as complete (io_service.h, rule 2).
    auto done = std::move(op->done);
    done(fired);  // rule 8: an exception here terminates
  }
  service_.end_operation();
}

void TimerQueue::drop_dead_front() noexcept {
  while (!schedule_.empty() && schedule_.earliest().op->phase == TimerPhase::Completed) {
    --dead_entries_;
    schedule_.pop_earliest()->release();  // the queue's reference (rule 6)
  }
}

void TimerQueue::purge_dead() noexcept {
  schedule_.erase_if([](TimerOp* op) {
    if (op->phase != TimerPhase::Completed) return false;
    op->release();  // the queue's reference (rule 6)
    return true;
  });
  dead_entries_ = 0;
}

void TimerQueue::close() noexcept {
  closing_ = true;
  drain();
  // Taken out first: callbacks cannot reach the schedule (rule 8), but the
  // loop should not depend on that.
  for (TimerOp* op : schedule_.take_all()) {
    if (op->phase != TimerPhase::Completed) {
      (void)claim(op, TimerState::Cancelled);  // lost only to a cancel() (rule 7)
      complete(op, false);
    }
    op->release();  // the queue's reference (rule 6)
  }
  dead_entries_ = 0;
  stop();
}

void TimerQueue::stop() noexcept {
  closing_ = true;
  // The operation count is zero (rule 7), so only dead entries are left.
  for (TimerOp* op : schedule_.take_all()) op->release();
  dead_entries_ = 0;
  armed_ = false;
  ++generation_;  // the aborted wait's handler will find an old generation
  master_.cancel();
  // Every push wakes from now on (rule 2); closing_ made sure of it.
  publish_wake_bound();
}

void TimerQueue::read_stats(IoStats& stats) const noexcept {
  // Relaxed: see bump().
  stats.timers_started = started_.load(std::memory_order_relaxed);
  stats.timers_fired = fired_.load(std::memory_order_relaxed);
  stats.timers_cancelled = cancelled_.load(std::memory_order_relaxed);
}

}  // namespace weft
