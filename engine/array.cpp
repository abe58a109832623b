#include "engine/array.h"

#include <algorithm>
#include <new>
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
  retire_copy(last);
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
    retire_copy(old);
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
    if (lending_) {
      make_room_to_retire(static_cast<size_t>(std::count_if(
          items_.begin(), items_.end(), [this](const Value& item) { return lent_out(item); })));
    }
    items_.swap(items);
    for (Value& old : items) retire(old);
    bump_version();
  }
}

bool Array::lent_out(const Value& value) const {
  if (!value.is_object()) return false;
  const Obj* object = value.as_object();
  for (const Lender* lender : lending_->lenders) {
    for (uint32_t i = 0; i < lender->count; ++i) {
      if (lender->objects[i] == object) return true;
    }
  }
  return false;
}

void Array::make_room_to_retire(size_t count) {
  if (!lending_) return;
  // No more can be retired than the lenders record.
  count = std::min(count, Lender::kMaxItems * lending_->lenders.size());
  std::vector<Value>& retired = lending_->retired;
  if (retired.capacity() - retired.size() < count) {
    retired.reserve(std::max(retired.size() + count, 2 * retired.capacity()));
  }
}

void Array::sweep_retired(std::vector<Value>& dropped) noexcept {
  std::vector<Value>& retired = lending_->retired;
  size_t kept = 0;
  for (Value& item : retired) {
    if (lent_out(item)) {
      retired[kept++].swap_with(item);
    } else {
      dropped.push_back(std::move(item));
    }
  }
  retired.resize(kept);
}

size_t Array::lend_items(size_t start, Value* out, size_t max, uint64_t& copied_at, Lender& lender,
                         bool begin) {
  std::vector<Value> dropped;  // released after the unlock (rule 2)
  std::unique_lock guard(lock_);
  // What may throw comes first, and changes nothing if it does.
  if (lending_) dropped.reserve(lending_->retired.size());
  if (begin) {
    if (lending_ && lending_->lenders.size() >= kMaxLenders) return kNotLent;
    std::unique_ptr<Lending> fresh = lending_ ? nullptr : std::make_unique<Lending>();
    (fresh ? *fresh : *lending_).lenders.push_back(&lender);
    if (fresh) lending_ = std::move(fresh);
  }
  copied_at = version_.load(std::memory_order_relaxed);  // rule 8: under the lock
  size_t count = 0;
  for (size_t at = start; at < items_.size() && count < max; ++at) {
    out[count] = Value::borrowed(items_[at]);
    lender.objects[count] = items_[at].is_object() ? items_[at].as_object() : nullptr;
    ++count;
  }
  lender.count = static_cast<uint32_t>(count);
  // What this lender's last chunk kept may go now.
  if (!lending_->retired.empty()) sweep_retired(dropped);
  guard.unlock();
  return count;
}

std::vector<Value> Array::end_lending(Lender& lender) {
  std::vector<Value> dropped;
  std::unique_ptr<Lending> ended;  // freed after the unlock
  std::lock_guard guard(lock_);
  std::vector<Lender*>& lenders = lending_->lenders;
  lenders.erase(std::find(lenders.begin(), lenders.end(), &lender));
  if (lenders.empty()) {
    dropped.swap(lending_->retired);
    ended = std::move(lending_);
  } else {
    // Reserve may throw; the lender is off the list already, and what it
    // alone recorded then waits for the next sweep.
    try {
      dropped.reserve(lending_->retired.size());
      sweep_retired(dropped);
    } catch (const std::bad_alloc&) {
    }
  }
  return dropped;
}

void Array::release_children(DestroyWorklist& worklist) {
  for (Value& item : items_) release_into(item, worklist);
  items_.clear();
  if (lending_) {
    for (Value& item : lending_->retired) release_into(item, worklist);
    lending_.reset();
  }
}

Value make_array(std::vector<Value> items) {
  return Value::adopt(new Array(std::move(items)));
}

}  // namespace weft
