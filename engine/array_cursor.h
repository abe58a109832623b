// Where a `for` loop over a shared array stands: the next few items, copied
// from the array under one hold of its lock, and the array's version at the
// copy. A loop over an array that other tasks can reach then takes the
// array's lock once per kChunk items instead of once per item, and still
// reads the array as it is at each step: a change made by the loop's body
// or by another task bumps the version, and the cursor copies again from
// where it stands.
//
// The cursor lives in a hidden register of the loop (ITERNEXT in
// engine/vm.cpp) and belongs to the running fiber only; it is not shared.
//
// Protocol (with engine/array.h rule 8):
//   1. The items in `items_[taken_, count_)` are the array's items at
//      positions `start_ + taken_` onwards as of version `copied_at_`; the
//      cursor holds a reference to each, so none can be freed under it.
//   2. next() gives the item at `taken_` only if the array's version is
//      still `copied_at_` (no change since the copy); otherwise, and when
//      the chunk is used up, it drops what is left and copies again from
//      the next position, under the array's lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/array.h"
#include "engine/object.h"
#include "engine/value.h"

namespace weft {

class ArrayCursor final : public Obj {
 public:
  static constexpr size_t kChunk = 16;

  // Starts at position `next`.
  explicit ArrayCursor(size_t next) : Obj(ObjType::ArrayCursor), start_(next) {}

  // The item at the next position, and that position; false at the end.
  bool next(const Array& array, Value& item, size_t& position) {
    if (taken_ == count_ || array.version() != copied_at_) copy_from(array, start_ + taken_);
    if (taken_ == count_) return false;
    position = start_ + taken_;
    item = std::move(items_[taken_++]);
    return true;
  }

  void release_children(DestroyWorklist& worklist) override;

 private:
  void copy_from(const Array& array, size_t position);

  size_t start_;
  uint64_t copied_at_ = 0;
  uint32_t taken_ = 0;
  uint32_t count_ = 0;
  Value items_[kChunk];
};

}  // namespace weft
