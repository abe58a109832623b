#include "engine/array_cursor.h"

namespace weft {

void ArrayCursor::copy_from(const Array& array, size_t position) {
  // Rule 2: what is left of the last copy is dropped before the lock is
  // taken (array.h rule 2: nothing is released under it).
  for (uint32_t at = taken_; at < count_; ++at) items_[at] = Value();
  start_ = position;
  taken_ = 0;
  count_ = static_cast<uint32_t>(array.copy_items(position, items_, kChunk, copied_at_));
}

void ArrayCursor::release_children(DestroyWorklist& worklist) {
  for (uint32_t at = taken_; at < count_; ++at) release_into(items_[at], worklist);
  taken_ = count_;
}

}  // namespace weft
