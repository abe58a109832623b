// The method lookups of one function's INVOKE instructions, remembered: a
// call site such as (counter .send i) finds `send` for an Actor once, not
// by hashing the name on every call. One slot per constant of the
// prototype (an INVOKE names its method by the constant K[C]); each slot
// remembers the last receiver type and the method found for it, so a site
// that sees one type (nearly all) looks up once.
//
// Protocol
// --------
//   1. The slots are made by the compiler when the prototype is complete,
//      before any task can run it; their number never changes.
//   2. A slot is one atomic word: the receiver type (plus one, so that 0
//      means empty) in the top byte, the method's address below. Any
//      thread may read or overwrite a slot at any time; a word is always
//      a whole (type, method) pair, so a reader sees a pair that some
//      lookup found, or nothing.
//   3. What a slot points to is the runtime's method table, which is
//      complete before any task runs and never changes after (its entries
//      are nodes of an unordered_map, whose addresses are stable). So the
//      slots need no ordering of their own: relaxed loads and stores.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/object.h"

namespace weft {

class Value;

class MethodCache {
 public:
  // Rule 1.
  void make_slots(std::size_t count) {
    slots_ = std::make_unique<std::atomic<std::uint64_t>[]>(count);
    count_ = count;
  }

  // The method remembered in `slot` for `type`, or null.
  [[nodiscard]] const Value* find(std::size_t slot, ObjType type) const {
    if (slot >= count_) return nullptr;
    // Relaxed: rule 3.
    const std::uint64_t word = slots_[slot].load(std::memory_order_relaxed);
    if ((word >> kTypeShift) != tag_of(type)) return nullptr;
    return reinterpret_cast<const Value*>(word & kAddressMask);
  }

  // Const: a cache, written through a prototype that is otherwise
  // immutable once compiled (rule 2 makes the write safe).
  void remember(std::size_t slot, ObjType type, const Value* method) const {
    const auto address = reinterpret_cast<std::uintptr_t>(method);
    if (slot >= count_ || (address & ~kAddressMask) != 0) return;
    // Relaxed: rule 3.
    slots_[slot].store((tag_of(type) << kTypeShift) | address, std::memory_order_relaxed);
  }

 private:
  static constexpr int kTypeShift = 56;
  static constexpr std::uint64_t kAddressMask = (std::uint64_t{1} << kTypeShift) - 1;
  static std::uint64_t tag_of(ObjType type) { return static_cast<std::uint64_t>(type) + 1; }

  std::unique_ptr<std::atomic<std::uint64_t>[]> slots_;
  std::size_t count_ = 0;
};

}  // namespace weft
