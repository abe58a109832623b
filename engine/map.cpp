#include "engine/map.h"

#include <mutex>

#include "engine/exception.h"

namespace weft {

namespace {

std::string_view key_text(const Value& key) { return key.as<String>()->view(); }

}  // namespace

int64_t Map::position_of(std::string_view key) const {
  if (index_.empty()) {
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Value& k = entries_[i].key;
      if (!k.is_nil() && key_text(k) == key) return static_cast<int64_t>(i);
    }
    return -1;
  }
  auto it = index_.find(key);
  return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

Map::Entry* Map::entry_of(std::string_view key) {
  const int64_t at = position_of(key);
  return at < 0 ? nullptr : &entries_[at];
}

void Map::append(Value key, Value value) {
  entries_.push_back(Entry{std::move(key), std::move(value)});
  ++live_;
  if (!index_.empty()) {
    index_.emplace(key_text(entries_.back().key), static_cast<uint32_t>(entries_.size() - 1));
  } else if (entries_.size() > kLinearEntries) {
    rebuild_index();
  }
}

void Map::rebuild_index() {
  index_.clear();
  if (entries_.size() <= kLinearEntries) return;
  index_.reserve(live_);
  for (uint32_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i].key.is_nil()) index_.emplace(key_text(entries_[i].key), i);
  }
}

void Map::check_mutable() const {
  if (is_frozen()) throw_error(ExcClass::RuntimeException, "cannot modify a frozen Map");
}

size_t Map::size() const {
  std::lock_guard guard(lock_);
  return live_;
}

bool Map::find(std::string_view key, Value& out, Reach reach) const {
  auto held = guard(reach);
  const int64_t at = position_of(key);
  if (at < 0) return false;
  out = entries_[at].value;
  return true;
}

Value Map::get(std::string_view key, Reach reach) const {
  Value out;
  find(key, out, reach);
  return out;
}

bool Map::contains(std::string_view key) const {
  std::lock_guard guard(lock_);
  return position_of(key) >= 0;
}

void Map::set(Value key, Value value, Reach reach) {
  Value old;
  {
    auto held = guard(reach);
    check_mutable();
    if (Entry* entry = entry_of(key_text(key)); entry != nullptr) {
      old = std::move(entry->value);
      entry->value = std::move(value);
    } else {
      append(std::move(key), std::move(value));
    }
  }
}

bool Map::erase(std::string_view key, Value* removed_value) {
  Entry removed;
  {
    std::lock_guard guard(lock_);
    check_mutable();
    const int64_t at = position_of(key);
    if (at < 0) return false;
    if (!index_.empty()) index_.erase(key);
    removed = std::move(entries_[at]);
    entries_[at] = Entry{};
    --live_;
    ++holes_;
    if (holes_ > 16 && holes_ * 2 > entries_.size()) compact();
  }
  if (removed_value != nullptr) removed_value->swap_with(removed.value);
  return true;
}

void Map::compact() {
  std::vector<Entry> live;
  live.reserve(live_);
  for (Entry& e : entries_) {
    if (!e.key.is_nil()) live.push_back(std::move(e));
  }
  entries_.swap(live);
  holes_ = 0;
  rebuild_index();
}

std::vector<Value> Map::keys() const {
  std::lock_guard guard(lock_);
  std::vector<Value> out;
  out.reserve(live_);
  for (const Entry& e : entries_) {
    if (!e.key.is_nil()) out.push_back(e.key);
  }
  return out;
}

std::vector<Value> Map::values() const {
  std::lock_guard guard(lock_);
  std::vector<Value> out;
  out.reserve(live_);
  for (const Entry& e : entries_) {
    if (!e.key.is_nil()) out.push_back(e.value);
  }
  return out;
}

std::vector<std::pair<Value, Value>> Map::entries() const {
  std::lock_guard guard(lock_);
  std::vector<std::pair<Value, Value>> out;
  out.reserve(live_);
  for (const Entry& e : entries_) {
    if (!e.key.is_nil()) out.emplace_back(e.key, e.value);
  }
  return out;
}

bool Map::next_entry(size_t& cursor, Value& key, Value& value) const {
  std::lock_guard guard(lock_);
  while (cursor < entries_.size()) {
    const Entry& e = entries_[cursor++];
    if (!e.key.is_nil()) {
      key = e.key;
      value = e.value;
      return true;
    }
  }
  return false;
}

void Map::release_children(DestroyWorklist& worklist) {
  index_.clear();
  live_ = 0;
  holes_ = 0;
  for (Entry& e : entries_) {
    release_into(e.key, worklist);
    release_into(e.value, worklist);
  }
  entries_.clear();
}

Value make_map() { return Value::adopt(new Map()); }

}  // namespace weft
