#include "engine/range.h"

#include "engine/exception.h"

namespace weft {

namespace {

int64_t count_steps(__int128 from, __int128 end_exclusive, __int128 step) {
  __int128 count = 0;
  if (step > 0 && end_exclusive > from) count = (end_exclusive - from + step - 1) / step;
  if (step < 0 && end_exclusive < from) count = (from - end_exclusive - step - 1) / -step;
  if (count > INT64_MAX) throw_error(ExcClass::ArgumentException, "range too large");
  return static_cast<int64_t>(count);
}

}  // namespace

Value make_inclusive_range(int64_t from, int64_t to) {
  int64_t step = to >= from ? 1 : -1;
  int64_t count = count_steps(from, static_cast<__int128>(to) + step, step);
  return Value::adopt(new Range(from, step, count));
}

Value make_range(int64_t from, int64_t to_exclusive, int64_t step) {
  if (step == 0) throw_error(ExcClass::ArgumentException, "range step must not be 0");
  return Value::adopt(new Range(from, step, count_steps(from, to_exclusive, step)));
}

}  // namespace weft
