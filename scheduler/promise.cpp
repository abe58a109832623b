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

}  // namespace

PromiseCore::~PromiseCore() {
  // Acquire: if another thread settled it, its notifications are over
  // before we return (pairs with publish's final release).
  const std::uintptr_t word = word_.load(std::memory_order_acquire);
  assert((phase_of(word) == kPending || phase_of(word) == kSettled) &&
         "promise destroyed while a settle is in progress");
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
  return static_cast<Outcome>((word & kOutcomeMask) >> kOutcomeShift);
}

AddWaiterResult PromiseCore::add_waiter(Waiter& waiter) noexcept {
  const auto node = reinterpret_cast<std::uintptr_t>(&waiter);
  assert((node & kTagMask) == 0 && "Waiter must be 16-byte aligned");
  // Acquire: if the word is already SETTLED we return AlreadySettled, and
  // the caller then reads the value and relies on every earlier waiter
  // having been called: pairs with publish's final release CAS.
  std::uintptr_t cur = word_.load(std::memory_order_acquire);
  for (;;) {
    if (phase_of(cur) == kSettled) return AddWaiterResult::AlreadySettled;
    waiter.next = list_of(cur);
    // Success, release: publishes waiter.next and whatever the caller
    // prepared in its node (rule 3 of task.h: the saved task state) to the
    // settler, which takes the list with an acquire exchange in publish.
    // Failure, acquire: the new value may be SETTLED (see above).
    if (word_.compare_exchange_weak(cur, node | (cur & kTagMask),
                                    std::memory_order_release,
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
  // acq_rel. Release: publishes the value written under the claim (rule 2)
  // to outcome(), add_waiter and every on_settled. Acquire: pairs with the
  // release CAS of each add_waiter whose node is in the batch taken, so
  // the nodes' contents are visible here. Only the claimer changes the
  // phase bits, so a plain exchange cannot lose a concurrent push: the
  // pusher's CAS fails and retries on the new word.
  std::uintptr_t taken = word_.exchange(notifying, std::memory_order_acq_rel);
  assert(phase_of(taken) == kClaimed && "publish without a claim");
  for (;;) {
    notify_batch(taken, outcome);
    std::uintptr_t expected = notifying;
    // Success, release: a waiter that later sees SETTLED (acquire in
    // add_waiter) knows every earlier on_settled has returned, and the
    // destructor's acquire load orders destruction after them. Failure,
    // relaxed: waiters arrived meanwhile; the exchange below acquires them.
    if (word_.compare_exchange_strong(expected, sentinel(outcome, kSettled),
                                      std::memory_order_release,
                                      std::memory_order_relaxed)) {
      return;
    }
    // acq_rel: as the first exchange (acquire for the new nodes; the
    // release is redundant but keeps this one operation's reason simple).
    taken = word_.exchange(notifying, std::memory_order_acq_rel);
  }
}

void PromiseCore::notify_batch(std::uintptr_t batch, Outcome outcome) noexcept {
  // The batch is newest first; reverse it into registration order. The
  // nodes are this thread's until each on_settled is called (rule 3).
  Waiter* newest = list_of(batch);
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
    if (word_.compare_exchange_weak(cur, (cur & ~kStateMask) | kFired,
                                    std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      fired = true;
      break;
    }
  }
  if (fired) fire(outcome);  // rule 7
  release_ref();             // rule 8: the promise side lets go
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
