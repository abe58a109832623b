#include "engine/array.h"

#include <string>

#include "engine/exception.h"

namespace weft {

void Array::throw_out_of_range(int64_t index) const {
  throw_error(ExcClass::RuntimeException, "index " + std::to_string(index) +
                                              " out of range for Array of size " +
                                              std::to_string(items_.size()));
}

void Array::check_mutable() const {
  if (is_frozen()) throw_error(ExcClass::RuntimeException, "cannot modify a frozen Array");
}

// Rules 5 and 7: a frozen array, or one reached through its only
// reference, is read without the lock.
std::unique_lock<SpinLock> Array::read_guard(Reach reach) const {
  std::unique_lock<SpinLock> guard(lock_, std::defer_lock);
  if (reach == Reach::Shared && !is_frozen()) guard.lock();
  return guard;
}

size_t Array::size() const {
  auto guard = read_guard();
  return items_.size();
}

Value Array::get(int64_t index, Reach reach) const {
  auto guard = read_guard(reach);
  int64_t at = position(index);
  return at < 0 ? Value() : items_[at];
}

bool Array::try_get(size_t index, Value& out, size_t& size, Reach reach) const {
  auto guard = read_guard(reach);
  size = items_.size();
  if (index >= size) return false;
  out = items_[index];
  return true;
}

size_t Array::copy_items(size_t start, Value* out, size_t max, uint64_t& copied_at) const {
  auto guard = read_guard();
  copied_at = version_.load(std::memory_order_relaxed);  // rule 8: under the lock
  size_t count = 0;
  for (size_t at = start; at < items_.size() && count < max; ++at) out[count++] = items_[at];
  return count;
}

void Array::freeze() {
  std::lock_guard guard(lock_);
  set_flag(kFrozen);
}

void Array::set(int64_t index, Value value, Reach reach) {
  Value old;
  {
    auto guard = write_guard(reach);
    check_mutable();
    int64_t at = position(index);
    if (at < 0) throw_out_of_range(index);
    make_room_to_retire(1);
    old = std::move(items_[at]);
    retire(old);
    items_[at] = std::move(value);
    bump_version();
  }
}

void Array::push(Value value) {
  std::lock_guard guard(lock_);
  check_mutable();
  items_.push_back(std::move(value));
  bump_version();
}

Value Array::pop() {
  std::lock_guard guard(lock_);
  check_mutable();
  if (items_.empty()) return Value();
  make_room_to_retire(1);
  Value last = std::move(items_.back());
  if (lenders_ != 0 && last.is_object()) retired_.push_back(last);  // rule 9
  items_.pop_back();
  bump_version();
  return last;
}

bool Array::insert(int64_t index, Value value) {
  std::lock_guard guard(lock_);
  check_mutable();
  int64_t n = static_cast<int64_t>(items_.size());
  if (index < 0) index += n + 1;
  if (index < 0 || index > n) return false;
  items_.insert(items_.begin() + index, std::move(value));
  bump_version();
  return true;
}

bool Array::remove_at(int64_t index, Value& removed) {
  Value old;  // dropped after unlock (rule 2)
  {
    std::lock_guard guard(lock_);
    check_mutable();
    int64_t at = position(index);
    if (at < 0) return false;
    make_room_to_retire(1);
    old = std::move(items_[at]);
    if (lenders_ != 0 && old.is_object()) retired_.push_back(old);  // rule 9
    items_.erase(items_.begin() + at);
    bump_version();
  }
  removed.swap_with(old);
  return true;
}

std::vector<Value> Array::snapshot() const {
  auto guard = read_guard();
  return items_;
}

void Array::replace_all(std::vector<Value> items) {
  {
    std::lock_guard guard(lock_);
    check_mutable();
    make_room_to_retire(items_.size());
    items_.swap(items);
    for (Value& old : items) retire(old);
    bump_version();
  }
}

size_t Array::lend_items(size_t start, Value* out, size_t max, uint64_t& copied_at, bool begin) {
  std::lock_guard guard(lock_);
  if (begin) ++lenders_;
  copied_at = version_.load(std::memory_order_relaxed);  // rule 8: under the lock
  size_t count = 0;
  for (size_t at = start; at < items_.size() && count < max; ++at) {
    out[count++] = Value::borrowed(items_[at]);
  }
  return count;
}

std::vector<Value> Array::end_lending() {
  std::vector<Value> retired;
  std::lock_guard guard(lock_);
  if (--lenders_ == 0) retired.swap(retired_);
  return retired;
}

void Array::release_children(DestroyWorklist& worklist) {
  for (Value& item : items_) release_into(item, worklist);
  items_.clear();
  for (Value& item : retired_) release_into(item, worklist);
  retired_.clear();
}

Value make_array(std::vector<Value> items) {
  return Value::adopt(new Array(std::move(items)));
}

}  // namespace weft
