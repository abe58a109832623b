#include "engine/array_cursor.h"

#include <cassert>
#include <vector>

namespace weft {

Value ArrayCursor::start(const Value& array, size_t next, bool lend) {
  auto* cursor = new ArrayCursor(next);
  Value held = Value::adopt(cursor);
  if (lend) {
    const size_t lent = array.as<Array>()->lend_items(next, cursor->items_, kChunk,
                                                      cursor->copied_at_, cursor->lender_,
                                                      /*begin=*/true);
    if (lent != Array::kNotLent) {
      cursor->count_ = static_cast<uint32_t>(lent);
      cursor->array_ = array;
      cursor->lending_ = true;
      return held;
    }
  }
  cursor->copy_from(*array.as<Array>(), next);
  return held;
}

bool ArrayCursor::next(const Array& array, Value& var, size_t& position) {
  let_go_of(var);
  const bool changed = array.version() != copied_at_;
  if (changed && lending_) stop_lending();
  if (changed || taken_ == count_) copy_from(array, start_ + taken_);
  if (taken_ == count_) return false;
  position = start_ + taken_;
  // A lent item moves as it was copied: without a reference.
  var = std::move(items_[taken_++]);
  var_lent_ = lending_;
  return true;
}

void ArrayCursor::settle(Value& var) {
  if (var_lent_) var.take_reference();
  var_lent_ = false;
  if (lending_) stop_lending();
}

void ArrayCursor::drop_chunk() {
  // Array.h rule 2: a counted item is released before the array's lock is
  // taken for the next copy, never under it.
  for (uint32_t at = taken_; at < count_; ++at) {
    if (lending_) {
      items_[at].forget();
    } else {
      items_[at] = Value();
    }
  }
  count_ = taken_;  // used up, and still at position start_ + taken_
}

void ArrayCursor::copy_from(const Array& array, size_t position) {
  drop_chunk();
  start_ = position;
  taken_ = 0;
  count_ = 0;  // if the copy throws, an empty chunk
  count_ =
      static_cast<uint32_t>(lending_ ? array_.as<Array>()->lend_items(position, items_, kChunk,
                                                                      copied_at_, lender_, false)
                                     : array.copy_items(position, items_, kChunk, copied_at_));
}

void ArrayCursor::stop_lending() {
  drop_chunk();
  lending_ = false;
  // What the array retired while this cursor lent goes when `retired` does,
  // after the array's lock is released.
  std::vector<Value> retired = array_.as<Array>()->end_lending(lender_);
  array_ = Value();
}

void ArrayCursor::release_children(DestroyWorklist& worklist) {
  assert(!var_lent_ && "a lending loop's variable outlived its cursor (rule 4)");
  if (lending_) {
    drop_chunk();
    lending_ = false;
    for (Value& item : array_.as<Array>()->end_lending(lender_)) release_into(item, worklist);
    release_into(array_, worklist);
    return;
  }
  for (uint32_t at = taken_; at < count_; ++at) release_into(items_[at], worklist);
  taken_ = count_;
}

void settle_lent_loop_variables(Value* first, Value* end) {
  // The cursor is two registers below its loop variable.
  for (Value* slot = first; slot + 2 < end; ++slot) {
    if (slot->is(ObjType::ArrayCursor)) slot->as<ArrayCursor>()->settle(slot[2]);
  }
}

}  // namespace weft
