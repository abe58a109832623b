// An immutable arithmetic sequence of integers: `(a .. b)` (inclusive) and
// `(range a b step)` (end exclusive). Ranges are never materialized unless
// a script asks for an array.
#pragma once

#include <cstdint>

#include "engine/object.h"
#include "engine/value.h"

namespace weft {

class Range final : public Obj {
 public:
  Range(int64_t first, int64_t step, int64_t count)
      : Obj(ObjType::Range), first_(first), step_(step), count_(count) {}

  int64_t first() const { return first_; }
  int64_t step() const { return step_; }
  int64_t count() const { return count_; }
  int64_t at(int64_t i) const { return first_ + i * step_; }

 private:
  int64_t first_;
  int64_t step_;
  int64_t count_;
};

// Both throw ArgumentException for a zero step or a count that overflows.
Value make_inclusive_range(int64_t from, int64_t to);
Value make_range(int64_t from, int64_t to_exclusive, int64_t step);

}  // namespace weft
