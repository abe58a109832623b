// Where a `for` loop over a shared array stands: the next few items, copied
// from the array under one hold of its lock, and the array's version at the
// copy. A loop over an array that other tasks can reach then takes the
// array's lock once per kChunk items instead of once per item, and still
// reads the array as it is at each step: a change made by the loop's body
// or by another task bumps the version, and the cursor copies again from
// where it stands.
//
// The cursor lives in a hidden register of the loop (ITERNEXT in
// engine/vm.cpp), two below the loop variable's, and belongs to the running
// fiber only; it is not shared.
//
// Protocol (with engine/array.h rules 8 and 9):
//   1. The items in `items_[taken_, count_)` are the array's items at
//      positions `start_ + taken_` onwards as of version `copied_at_`.
//   2. next() gives the item at `taken_` only if the array's version is
//      still `copied_at_` (no change since the copy); otherwise, and when
//      the chunk is used up, it drops what is left and copies again from
//      the next position, under the array's lock.
//   3. A counting cursor holds a reference to each item it copied. A
//      lending one (`lending_`; the compiler allows it, and the array has
//      room for another lender) holds none: it is listed as the array's
//      lender (array.h rule 9), which keeps the items of its last copy
//      alive, and holds a reference to the array; the loop variable it
//      fills holds none either (`var_lent_`), so a count of one does not
//      make its item Sole (object.h rule 6): other tasks reach it through
//      the array (vm.cpp, reach_of, asks lends_variable()). A change to the
//      array costs no more than a copy's worth of counting: a lending
//      cursor stops lending (and counts from then on) at its first step
//      after one.
//   4. The loop variable's register is written by next() only, and the
//      compiler lends only for a loop whose variable no code assigns. Any
//      other path that drops the variable or leaves the loop's frame calls
//      let_go_of() (ITEREND, the loop's exit) or settle() (RETURN, a throw
//      that unwinds or lands in the frame, a fiber dropped midway:
//      settle_lent_loop_variables below) first, while the cursor is alive.
//      A cursor that is destroyed has no lent variable.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/array.h"
#include "engine/object.h"
#include "engine/value.h"

namespace weft {

class ArrayCursor final : public Obj {
 public:
  static constexpr size_t kChunk = Array::Lender::kMaxItems;

  // A cursor over the array `array` holds, at position `next`, with the
  // first chunk copied; lending (rule 3) if `lend`.
  static Value start(const Value& array, size_t next, bool lend);

  // Puts the item at the next position into `var` (the loop variable,
  // which holds the last one or nil), and gives that position; false at
  // the end, with `var` nil if it held a lent item.
  bool next(const Array& array, Value& var, size_t& position);

  // Whether the loop variable holds a lent item now (rule 3): its count
  // then leaves out this holder (vm.cpp, reach_of).
  [[nodiscard]] bool lends_variable() const { return var_lent_; }

  // Rule 4: `var` is about to be dropped; a lent item is forgotten.
  void let_go_of(Value& var) {
    if (var_lent_) var.forget();
    var_lent_ = false;
  }
  // Rule 4: `var` keeps its item with a reference of its own, and the
  // cursor stops lending; the loop may still go on, counting.
  void settle(Value& var);

  void release_children(DestroyWorklist& worklist) override;

 private:
  explicit ArrayCursor(size_t next) : Obj(ObjType::ArrayCursor), start_(next) {}

  void copy_from(const Array& array, size_t position);
  // Ends the chunk's items left (forgets lent ones, releases counted
  // ones); the cursor stays at its position.
  void drop_chunk();
  void stop_lending();

  size_t start_;
  uint64_t copied_at_ = 0;
  uint32_t taken_ = 0;
  uint32_t count_ = 0;
  bool lending_ = false;
  bool var_lent_ = false;
  Value array_;           // while lending_ (rule 3)
  Array::Lender lender_;  // while lending_: what the array knows is lent
  Value items_[kChunk];
};

// Rule 4, for registers [first, end) of frames being left or abandoned:
// settles every lending loop's variable among them.
void settle_lent_loop_variables(Value* first, Value* end);

}  // namespace weft
