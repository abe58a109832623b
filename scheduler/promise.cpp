// PromiseCore and DetachableWaiter operations. The word, the phases and
// the rules are in promise.h; this file gives each memory ordering its
// reason and names the operation it pairs with.
#include "scheduler/promise.h"

#include <cassert>

namespace weft {

namespace {

constexpr std::uintptr_t phase_of(std::uintptr_t word) {
  return word & PromiseCore::kPhaseMask;
}

Waiter* list_of(std::uintptr_t word) {
  return reinterpret_cast<Waiter*>(word & ~PromiseCore::kTagMask);
}

constexpr std::uintptr_t sentinel(Outcome outcome, std::uintptr_t phase) {
  return (static_cast<std::uintptr_t>(outcome) << PromiseCore::kOutcomeShift) | phase;
}

constexpr std::uintptr_t code_of(std::uintptr_t word) {
  return word & PromiseCore::kOutcomeMask;
}

// A prune holds the list: PRUNING (PENDING/CLAIMED), or a HAND-OFF
// (NOTIFYING with code 0) that the pruner has yet to take over.
constexpr bool pruning(std::uintptr_t word) {
  return phase_of(word) < PromiseCore::kNotifying
             ? code_of(word) == PromiseCore::kPruning
             : phase_of(word) == PromiseCore::kNotifying && code_of(word) == 0;
}

}  // namespace

PromiseCore::~PromiseCore() {
  // Acquire: if another thread settled it, its notifications are over
  // before we return (pairs with notify_until_settled's final release, on
  // the settler's or a pruner's thread).
  const std::uintptr_t word = word_.load(std::memory_order_acquire);
  assert((phase_of(word) == kPending || phase_of(word) == kSettled) && !pruning(word) &&
         "promise destroyed while a settle or prune is in progress");
  if (phase_of(word) == kPending && list_of(word) != nullptr) {
    // Rule 4: every registered waiter is called once, even now.
    if (try_claim()) publish(Outcome::Cancelled);
  }
}

Outcome PromiseCore::outcome() const noexcept {
  // Acquire: pairs with publish's release exchange (or a later push in its
  // release sequence), so a caller that sees an outcome sees the value the
  // claimer wrote before publish (rule 2).
  const std::uintptr_t word = word_.load(std::memory_order_acquire);
  if (phase_of(word) < kNotifying) return Outcome::Pending;
  // A HAND-OFF keeps the outcome aside (rule 12); relaxed: the acquire
  // above read the settler's release CAS, which came after its store.
  if (code_of(word) == 0) {
    return static_cast<Outcome>(handoff_outcome_.load(std::memory_order_relaxed));
  }
  return static_cast<Outcome>(code_of(word) >> kOutcomeShift);
}

AddWaiterResult PromiseCore::add_waiter(Waiter& waiter) noexcept {
  const auto node = reinterpret_cast<std::uintptr_t>(&waiter);
  assert((node & kTagMask) == 0 && "Waiter must be 16-byte aligned");
  // Acquire: if the word is already SETTLED we return AlreadySettled, and
  // the caller then reads the value and relies on every earlier waiter
  // having been called: pairs with publish's final release CAS.
  std::uintptr_t cur = word_.load(std::memory_order_acquire);
  if (phase_of(cur) == kSettled) return AddWaiterResult::AlreadySettled;
  // Rule 9: prune before the push, while the caller's reference keeps
  // this promise alive.
  const std::uint32_t registrations = registrations_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (registrations >= (std::uint32_t{1} << prune_shift_.load(std::memory_order_relaxed))) {
    prune();
    // Acquire, as above: the prune may have settled the word (rule 12).
    cur = word_.load(std::memory_order_acquire);
  }
  for (;;) {
    if (phase_of(cur) == kSettled) return AddWaiterResult::AlreadySettled;
    waiter.next = list_of(cur);
    // Success, release: publishes waiter.next and whatever the caller
    // prepared in its node (rule 3 of task.h: the saved task state) to the
    // settler or a pruner, which take the list with an acquire CAS.
    // Failure, acquire: the new value may be SETTLED (see above).
    if (word_.compare_exchange_weak(cur, node | (cur & kTagMask), std::memory_order_release,
                                    std::memory_order_acquire)) {
      return AddWaiterResult::Registered;
    }
  }
}

bool PromiseCore::try_claim() noexcept {
  // Relaxed: a guess for the CAS below.
  std::uintptr_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    if (phase_of(cur) != kPending) return false;
    // Relaxed, success and failure: the claim's exclusivity comes from the
    // atomicity of the CAS alone, and the claimer reads nothing another
    // settler wrote. What it writes next (the value) is published by
    // publish's release. Pushes may change the pointer bits meanwhile; the
    // CAS keeps them.
    if (word_.compare_exchange_weak(cur, cur | kClaimed, std::memory_order_relaxed,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
}

void PromiseCore::publish(Outcome outcome) noexcept {
  assert(outcome != Outcome::Pending);
  const std::uintptr_t notifying = sentinel(outcome, kNotifying);
  // Relaxed: a guess for the CAS.
  std::uintptr_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    assert(phase_of(cur) == kClaimed && "publish without a claim");
    if (pruning(cur)) {
      // Rule 12: hand the notifying to the pruner. Relaxed store: the
      // release CAS below publishes it.
      handoff_outcome_.store(static_cast<std::uint8_t>(outcome), std::memory_order_relaxed);
      // Release: publishes the value and handoff_outcome_ to the pruner
      // (its CAS reads this word with acquire) and to outcome(). Failure,
      // relaxed: retry with the new word.
      if (word_.compare_exchange_weak(cur, (cur & ~kTagMask) | kNotifying,
                                      std::memory_order_release, std::memory_order_relaxed)) {
        return;
      }
      continue;
    }
    // acq_rel. Release: publishes the value written under the claim (rule
    // 2) to outcome(), add_waiter and every on_settled. Acquire: pairs with
    // the release CAS of each add_waiter whose node is in the batch taken,
    // so the nodes' contents are visible here. Failure, relaxed: a push or
    // a prune's start changed the word; retry.
    if (word_.compare_exchange_weak(cur, notifying, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      notify_until_settled(list_of(cur), outcome);
      return;
    }
  }
}

void PromiseCore::notify_until_settled(Waiter* taken, Outcome outcome) noexcept {
  const std::uintptr_t notifying = sentinel(outcome, kNotifying);
  for (;;) {
    notify_batch(taken, outcome);
    std::uintptr_t expected = notifying;
    // Success, release: a waiter that later sees SETTLED (acquire in
    // add_waiter) knows every earlier on_settled has returned, and the
    // destructor's acquire load orders destruction after them. Failure,
    // relaxed: waiters arrived meanwhile; the exchange below acquires them.
    if (word_.compare_exchange_strong(expected, sentinel(outcome, kSettled),
                                      std::memory_order_release, std::memory_order_relaxed)) {
      return;
    }
    // acq_rel: acquire for the new nodes (as publish's CAS); the release
    // is redundant but keeps this one operation's reason simple. No prune
    // can start in NOTIFYING (rule 10), so only pushes changed the word.
    taken = list_of(word_.exchange(notifying, std::memory_order_acq_rel));
  }
}

void PromiseCore::prune() noexcept {
  // Relaxed: a guess for the CAS.
  std::uintptr_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    if (pruning(cur) || phase_of(cur) >= kNotifying || list_of(cur) == nullptr) return;
    // Rule 10. Success, acquire: pairs with the release CAS of each push
    // whose node is taken, so their contents (next, and what withdrawn()
    // reads) are visible. Failure, relaxed: retry.
    if (word_.compare_exchange_weak(cur, (cur & kTagMask) | kPruning, std::memory_order_acquire,
                                    std::memory_order_relaxed)) {
      break;
    }
  }
  registrations_.store(0, std::memory_order_relaxed);

  // Rule 11: drop the withdrawn nodes, keep the others newest first.
  Waiter* kept_head = nullptr;
  Waiter* kept_tail = nullptr;
  std::uint32_t kept = 0;
  for (Waiter* node = list_of(cur); node != nullptr;) {
    Waiter* next = node->next;  // read first: on_withdrawn may free the node
    if (node->withdrawn()) {
      node->on_withdrawn();
    } else {
      node->next = nullptr;
      if (kept_tail == nullptr) {
        kept_head = node;
      } else {
        kept_tail->next = node;
      }
      kept_tail = node;
      ++kept;
    }
    node = next;
  }
  std::uint8_t shift = 6;  // 2^6 == kMinPruneInterval
  while (shift < 31 && (std::uint32_t{1} << shift) < kept) ++shift;
  prune_shift_.store(shift, std::memory_order_relaxed);

  // Put the kept nodes back below the ones pushed meanwhile.
  // Acquire: the nodes pushed since the take are walked below (pairs with
  // their pushes' release CAS).
  cur = word_.load(std::memory_order_acquire);
  for (;;) {
    Waiter* newest = list_of(cur);
    Waiter* head = newest;
    if (kept_head != nullptr) {
      if (newest == nullptr) {
        head = kept_head;
      } else {
        Waiter* last = newest;
        while (last->next != nullptr && last->next != kept_head) last = last->next;
        last->next = kept_head;
      }
    }
    if (phase_of(cur) == kNotifying) {
      // Rule 12: settled while we pruned; the notifying is ours. Acquire:
      // the value (pairs with publish's release CAS) and new nodes.
      // Relaxed: the acquire that read this HAND-OFF word ordered it.
      const auto outcome = static_cast<Outcome>(handoff_outcome_.load(std::memory_order_relaxed));
      if (word_.compare_exchange_weak(cur, sentinel(outcome, kNotifying), std::memory_order_acquire,
                                      std::memory_order_acquire)) {
        notify_until_settled(head, outcome);
        return;
      }
      continue;
    }
    // Release: the links written above (and the kept nodes' contents) reach
    // the next taker, which acquires the word. Failure, acquire: new nodes
    // to walk, or the hand-off.
    if (word_.compare_exchange_weak(cur, reinterpret_cast<std::uintptr_t>(head) | phase_of(cur),
                                    std::memory_order_release, std::memory_order_acquire)) {
      return;
    }
  }
}

void PromiseCore::notify_batch(Waiter* newest, Outcome outcome) noexcept {
  // The batch is newest first; reverse it into registration order. The
  // nodes are this thread's until each on_settled is called (rule 3).
  Waiter* oldest = nullptr;
  while (newest != nullptr) {
    Waiter* next = newest->next;
    newest->next = oldest;
    oldest = newest;
    newest = next;
  }
  while (oldest != nullptr) {
    Waiter* next = oldest->next;  // read first: on_settled may free the node
    oldest->on_settled(outcome);
    oldest = next;
  }
}

AddWaiterResult DetachableWaiter::arm(PromiseCore& promise) noexcept {
  const AddWaiterResult result = promise.add_waiter(*this);
  if (result == AddWaiterResult::AlreadySettled) release_ref();  // rule 8
  return result;
}

void DetachableWaiter::on_settled(Outcome outcome) noexcept {
  // Relaxed: a guess for the CAS.
  std::uint32_t cur = word_.load(std::memory_order_relaxed);
  bool fired = false;
  while ((cur & kStateMask) == kArmed) {
    // acq_rel. The state race with detach() is decided by the CAS's
    // atomicity; release/acquire additionally order fire() after whatever
    // the owner did to the node before arming it (also ordered through the
    // promise) and make the owner's detach() that returns false see FIRED
    // after this thread's earlier writes.
    if (word_.compare_exchange_weak(cur, (cur & ~kStateMask) | kFired, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      fired = true;
      break;
    }
  }
  if (fired) fire(outcome);  // rule 7
  release_ref();             // rule 8: the promise side lets go
}

bool DetachableWaiter::withdrawn() const noexcept {
  // Acquire: pairs with detach()'s acq_rel CAS; DETACHED is final, so the
  // pruner may then drop the promise side's reference.
  return (word_.load(std::memory_order_acquire) & kStateMask) == kDetached;
}

bool DetachableWaiter::armed() const noexcept {
  // Acquire: pairs with on_settled's acq_rel CAS to FIRED, so an owner that
  // sees the node no longer armed also sees the settler's uses of it.
  return (word_.load(std::memory_order_acquire) & kStateMask) == kArmed;
}

bool DetachableWaiter::detach() noexcept {
  // Relaxed: a guess for the CAS.
  std::uint32_t cur = word_.load(std::memory_order_relaxed);
  for (;;) {
    const bool armed = (cur & kStateMask) == kArmed;
    const std::uint32_t next = (armed ? (cur & ~kStateMask) | kDetached : cur) - kRefOne;
    // acq_rel, the reference-drop reasoning of release_ref: release, this
    // side's uses precede the destroy; acquire, if this is the last
    // reference, the other side's uses (fire) precede our destroy.
    if (word_.compare_exchange_weak(cur, next, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      if ((next & ~kStateMask) == 0) destroy();
      return armed;
    }
  }
}

void DetachableWaiter::release_ref() noexcept {
  // acq_rel instead of release + acquire fence (TSan sees no fences):
  // release, this side's uses precede the destroy; acquire, the last one
  // sees the other side's uses before destroying.
  const std::uint32_t prev = word_.fetch_sub(kRefOne, std::memory_order_acq_rel);
  assert((prev & ~kStateMask) != 0);
  if ((prev & ~kStateMask) == kRefOne) destroy();
}

}  // namespace weft
