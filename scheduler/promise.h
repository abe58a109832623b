// PromiseCore: the settle-once state and the waiter list of a promise, in
// one atomic word. It holds no value: the engine keeps the value in its own
// storage and writes it while it holds the claim (rule 2).
//
// Implementation overview
// =======================
// The waiter list is a Treiber stack (R. K. Treiber, "Systems Programming:
// Coping with Parallelism", IBM RJ 5118, 1986) that is only ever pushed
// onto and taken whole, so it has no ABA problem and needs no memory
// reclamation scheme. Its head shares the word with the settle phase and
// the outcome; settling swaps the head for a sentinel that encodes the
// outcome, so "settled" and "the list is closed" are one fact.
//
//    63                                           4   3   2   1   0
//   +----------------------------------------------+-------+-------+
//   | newest Waiter* (16-byte aligned), or 0       | code  | phase |
//   +----------------------------------------------+-------+-------+
//
//   phase    0 PENDING    waiters may register
//            1 CLAIMED    one settler won (try_claim) and is writing the
//                         value; waiters may still register
//            2 NOTIFYING  outcome published; the settler is calling the
//                         waiters; late waiters are still queued to it
//            3 SETTLED    final; the pointer bits are 0; add_waiter
//                         answers AlreadySettled
//   code     PENDING/CLAIMED: 0, or 1 PRUNING: one thread holds the list
//            taken off the word and is dropping its withdrawn waiters
//            (rules 9 to 12).
//            NOTIFYING/SETTLED: the outcome, Success 1, Failure 2,
//            Cancelled 3; or, in NOTIFYING only, 0 HAND-OFF: settled
//            while a prune ran; the outcome is in handoff_outcome_ and
//            the pruner does the notifying (rule 12).
//   (The prune state shares the outcome's bits, which are unused until
//   the outcome is published, so waiters need only 16-byte alignment: a
//   32-byte aligned allocation is a slow path in glibc.)

// Departures from the plain Treiber stack, each for a reason:
//   - The settler reverses each batch it takes, so waiters are called in
//     registration order (the language requires it for callbacks).
//   - NOTIFYING exists so that order also holds against late waiters: a
//     waiter is told AlreadySettled only after every earlier waiter's
//     on_settled has returned. Waiters that register while NOTIFYING are
//     pushed as usual, and the settler takes them in further batches before
//     its final CAS to SETTLED.
//
// Rules
// -----
//   1. Settling happens exactly once: try_claim is a CAS from PENDING, and
//      only its single winner calls publish.
//   2. The value: the claimer writes it into the engine's storage after
//      try_claim and before publish (or inside try_settle's `write`);
//      publish releases it; outcome() and add_waiter acquire. Several
//      racing settlers therefore never write the value concurrently; a
//      settler that has no rival may simply call try_settle(outcome).
//   3. Waiter memory belongs to whoever registered it. It must stay valid
//      from add_waiter until its on_settled has been called. The settler
//      reads `next` before calling on_settled and never touches the node
//      after, so on_settled may free or re-register the node.
//   4. Every registered waiter is called exactly once, in registration
//      order: by the settler, by a pruner that took over the notifying
//      (rule 12), or by ~PromiseCore (outcome Cancelled) if the promise
//      dies pending; or, once withdrawn, dropped by a pruner (rule 11). add_waiter returning
//      AlreadySettled means the node was not registered: the caller acts at once itself.
//   5. on_settled runs on the settler's thread (a worker, the I/O thread,
//      a host thread): keep it short (wake a task, queue a callback task);
//      never run script code in it.
//   6. A node is in at most one list at a time.
//
// Removing interest (await with a timeout, select): a plain Waiter cannot
// leave the list, since a lock-free stack has no safe unlink. Use a
// DetachableWaiter: a heap node shared by the promise and the interested
// party, with two references and an ARMED/FIRED/DETACHED state:
//   7. The settler's on_settled moves ARMED -> FIRED and then calls
//      fire(); detach() moves ARMED -> DETACHED. Exactly one wins, so
//      fire() runs at most once and never after detach() returned true.
//   8. The interested party calls detach() exactly once, whether to cancel
//      or because it is done; the promise side drops its reference after
//      on_settled (or at once if arm() got AlreadySettled). The node is
//      destroyed by whichever side lets go last, so the settler never
//      touches freed memory.
//
// Pruning withdrawn waiters. A waiter that no longer cares (a detached
// node, a task that stopped awaiting, a timeout whose target settled) says
// so through withdrawn(). Without pruning it would stay in the list until
// the promise settles: on a long-lived promise (a shutdown signal, a gate
// awaited with timeouts) memory would grow with every withdrawn wait.
//   9. add_waiter counts registrations; when the count since the last
//      prune reaches 2^prune_shift_ (at least 64, and the waiters the
//      last prune kept rounded up to a power of two, so a prune walks at
//      most three times the nodes registered since the last: amortised
//      O(1) per registration), it
//      prunes BEFORE pushing its own node: its caller's reference keeps the
//      promise alive for the whole call, which would not hold after the
//      push (a settler could wake the caller, which could drop it).
//  10. A prune starts only in PENDING or CLAIMED without PRUNING, by a CAS
//      that takes the whole list and sets PRUNING. Only one prune runs at a
//      time, and until it ends (or, after a hand-off, until the pruner's
//      notifying begins) nobody but the pruner reads or writes a `next`:
//      pushers only write their own node's.
//  11. The pruner calls on_withdrawn() on each withdrawn node (reading
//      `next` first), keeps the others in order, and puts them back below
//      the nodes pushed meanwhile (they are newer): it links the last of
//      those to its kept list and clears PRUNING with a CAS, retrying as
//      pushes come. Registration order is kept.
//  12. A settle that finds PRUNING publishes the outcome as a HAND-OFF
//      (handoff_outcome_ written, then NOTIFYING with code 0) and returns:
//      the pruner holds the oldest waiters, so it does the notifying, in
//      order, when its CAS finds NOTIFYING (nobody waits for anybody). on_settled may thus run on
//      the thread of a registering waiter instead of the settler's (rule 5 still holds: it is short
//      and runs no script code).

// Memory orderings are given at each operation in promise.cpp.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft {

enum class Outcome : std::uint8_t {
  Pending = 0,
  Success = 1,
  Failure = 2,
  Cancelled = 3,
};

enum class AddWaiterResult : std::uint8_t {
  Registered,      // the waiter will be called (rule 4)
  AlreadySettled,  // not registered: act at once (outcome() is final)
};

// An intrusive list node; see rules 3 to 6. Aligned to 16 so that the low
// four bits of its address carry the phase and the code.
struct alignas(16) Waiter {
  Waiter* next = nullptr;  // written by add_waiter, the settler and a pruner only
  virtual void on_settled(Outcome outcome) noexcept = 0;
  // True once the waiter no longer cares about the promise (rule 9). Any
  // thread may ask while the node is in a list; it must stay true.
  [[nodiscard]] virtual bool withdrawn() const noexcept { return false; }
  // Called instead of on_settled when a pruner drops the node (rule 11);
  // like on_settled, it is the promise's last touch of the node.
  virtual void on_withdrawn() noexcept { on_settled(Outcome::Cancelled); }

 protected:
  Waiter() noexcept = default;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  ~Waiter() = default;
};

class PromiseCore {
 public:
  PromiseCore() noexcept = default;
  // Rule 4: a pending promise settles as Cancelled, calling its waiters.
  // No other thread may use the promise any more (a settle in progress
  // elsewhere is a use-after-free by the caller).
  ~PromiseCore();
  PromiseCore(const PromiseCore&) = delete;
  PromiseCore& operator=(const PromiseCore&) = delete;

  // Pending until the outcome is published; the value is visible to a
  // caller that sees any other outcome (rule 2).
  [[nodiscard]] Outcome outcome() const noexcept;
  [[nodiscard]] bool is_settled() const noexcept { return outcome() != Outcome::Pending; }

  [[nodiscard]] AddWaiterResult add_waiter(Waiter& waiter) noexcept;

  // Rule 1: true for exactly one caller, which must then call publish.
  [[nodiscard]] bool try_claim() noexcept;
  // The claimer publishes `outcome` (not Pending) and calls every waiter.
  void publish(Outcome outcome) noexcept;

  // try_claim + publish, for a settler that writes no value or has no
  // rival writer. True if this call settled the promise.
  [[nodiscard]] bool try_settle(Outcome outcome) noexcept {
    if (!try_claim()) return false;
    publish(outcome);
    return true;
  }
  // try_claim, write the value, publish (rule 2).
  template <class WriteValue>
  [[nodiscard]] bool try_settle(Outcome outcome, WriteValue&& write_value) {
    if (!try_claim()) return false;
    write_value();
    publish(outcome);
    return true;
  }

  static constexpr std::uintptr_t kPhaseMask = 0x3;
  static constexpr std::uintptr_t kPending = 0;
  static constexpr std::uintptr_t kClaimed = 1;
  static constexpr std::uintptr_t kNotifying = 2;
  static constexpr std::uintptr_t kSettled = 3;
  static constexpr int kOutcomeShift = 2;
  static constexpr std::uintptr_t kOutcomeMask = 0xc;  // the code bits
  static constexpr std::uintptr_t kPruning = 0x4;      // code 1 while PENDING/CLAIMED
  static constexpr std::uintptr_t kTagMask = 0xf;
  static constexpr std::uint32_t kMinPruneInterval = 64;

 private:
  // Calls a batch taken from the list (newest first) in registration order.
  static void notify_batch(Waiter* newest, Outcome outcome) noexcept;
  // With the word NOTIFYING, notifies `taken` (newest first), then the
  // waiters that keep arriving, then moves the word to SETTLED.
  void notify_until_settled(Waiter* taken, Outcome outcome) noexcept;
  // Rules 10 to 12.
  void prune() noexcept;

  std::atomic<std::uintptr_t> word_{kPending};
  // Rule 9's heuristic: registrations since the last prune, and the log2 of
  // the count that triggers the next. Relaxed everywhere: they decide only
  // when to prune, never whether the list is correct.
  std::atomic<std::uint32_t> registrations_{0};
  std::atomic<std::uint8_t> prune_shift_{6};  // 2^6 == kMinPruneInterval
  // Rule 12: written by the settler before its release CAS to a HAND-OFF,
  // read (relaxed) by whoever acquired that word.
  std::atomic<std::uint8_t> handoff_outcome_{0};
};

// A waiter that can withdraw (rules 7 to 9). Subclass it, implement
// fire(); allocate it with new (or override destroy()).
class DetachableWaiter : public Waiter {
 public:
  // Detached (rule 9): the pruner may drop the promise side's reference.
  [[nodiscard]] bool withdrawn() const noexcept final;
  // Neither fired nor detached: the node is still in its promise's list,
  // so that promise is alive. For the owner.
  [[nodiscard]] bool armed() const noexcept;
  // Registers on `promise`. On AlreadySettled the promise side's reference
  // is dropped here; fire() will never run; the caller acts at once and
  // still calls detach() once (rule 8).
  [[nodiscard]] AddWaiterResult arm(PromiseCore& promise) noexcept;
  // The interested party's single exit. True: fire() never ran and never
  // will. False: fire() ran or is running on the settler's thread.
  [[nodiscard]] bool detach() noexcept;

 protected:
  DetachableWaiter() noexcept = default;
  virtual ~DetachableWaiter() = default;
  // Called at most once, by the settler (rule 7).
  virtual void fire(Outcome outcome) noexcept = 0;
  // Frees the node when both sides have let go.
  virtual void destroy() noexcept { delete this; }

 private:
  void on_settled(Outcome outcome) noexcept final;
  void release_ref() noexcept;

  //    31                               2   1   0
  //   +----------------------------------+-------+
  //   | references (promise + owner)     | state |  ARMED 0, FIRED 1, DETACHED 2
  //   +----------------------------------+-------+
  static constexpr std::uint32_t kStateMask = 0x3;
  static constexpr std::uint32_t kArmed = 0;
  static constexpr std::uint32_t kFired = 1;
  static constexpr std::uint32_t kDetached = 2;
  static constexpr std::uint32_t kRefOne = 4;

  std::atomic<std::uint32_t> word_{kArmed | 2 * kRefOne};
};

}  // namespace weft
