// A variable that many tasks read and write: a global, or a captured
// variable's cell. Reading a number or an immortal object (a module-level
// function, a constant) writes no memory at all, so parallel code that
// calls the same global function on every core does not contend.
//
// Protocol (a sequence lock in front of a spin lock):
//   1. Writers hold `lock_` for the whole write. Inside it they bump
//      `version_` to odd (relaxed: the release stores that follow order it
//      before the payload), store the tag word and the payload with release,
//      and bump `version_` to even with release.
//   2. The tag word carries the value's tag and, in bit 8, whether the value
//      is a number/bool/nil or an immortal object ("no count needed"); the
//      writer computes it while it still owns a reference, so a reader never
//      has to touch an object that may already be freed to decide.
//   3. Readers load `version_` (acquire), the tag word and the payload
//      (acquire: later loads cannot move above them), then `version_` again.
//      Equal and even, and the no-count bit set: the copy is consistent and
//      needs no retain; done, nothing written.
//   4. Otherwise (a mortal object, or a write in progress) the reader takes
//      `lock_` and copies the Value under it (retaining it) — the writer
//      cannot release that object meanwhile.
//   5. The value a write replaces is released after `lock_` is dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "engine/value.h"
#include "scheduler/spin_lock.h"

namespace weft {

class SharedSlot {
 public:
  SharedSlot() { publish(Value()); }
  explicit SharedSlot(Value initial) { store(std::move(initial)); }
  SharedSlot(const SharedSlot&) = delete;
  SharedSlot& operator=(const SharedSlot&) = delete;

  Value load() const {
    // Rule 3: acquire pairs with the release stores of rule 1.
    uint64_t before = version_.load(std::memory_order_acquire);
    uint64_t tag_word = tag_word_.load(std::memory_order_acquire);
    uint64_t payload = payload_.load(std::memory_order_acquire);
    // Relaxed: the acquire loads above keep this load after them.
    uint64_t after = version_.load(std::memory_order_relaxed);
    if (before == after && (before & 1) == 0 && (tag_word & kNoCount) != 0) {
      return Value::from_raw_unretained(static_cast<ValueTag>(tag_word & 0xFF), payload);
    }
    std::lock_guard guard(lock_);  // rule 4
    return value_;
  }

  void store(Value value) {
    {
      std::lock_guard guard(lock_);
      value_.swap_with(value);
      publish(value_);
    }
    // Rule 5: `value` now holds the old value; it is released here.
  }

  // Replaces the value with `desired` if `same(current)` holds; for atoms.
  // `same` runs under the lock: it must only compare.
  template <class Same>
  bool compare_and_store(Same&& same, Value desired) {
    {
      std::lock_guard guard(lock_);
      if (!same(value_)) return false;
      value_.swap_with(desired);
      publish(value_);
    }
    return true;  // rule 5: `desired` holds the old value, released here
  }

  // Only for the owner when no other thread can use the slot.
  Value& unsynchronized() { return value_; }

 private:
  static constexpr uint64_t kNoCount = 1u << 8;

  // Caller holds lock_ (or is the constructor).
  void publish(const Value& v) {
    uint64_t version = version_.load(std::memory_order_relaxed);
    // Rule 1: relaxed; the release stores below order it before them.
    version_.store(version + 1, std::memory_order_relaxed);
    bool no_count = !v.is_object() || v.as_object()->is_immortal();
    tag_word_.store(static_cast<uint64_t>(v.tag()) | (no_count ? kNoCount : 0),
                    std::memory_order_release);
    payload_.store(v.raw_payload(), std::memory_order_release);
    version_.store(version + 2, std::memory_order_release);
  }

  mutable SpinLock lock_;
  std::atomic<uint64_t> version_{0};
  std::atomic<uint64_t> tag_word_{0};
  std::atomic<uint64_t> payload_{0};
  Value value_;
};

}  // namespace weft
