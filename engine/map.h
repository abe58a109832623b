// Mutable maps from strings to values that remember insertion order.
//
// Layout: `entries_` in insertion order (deleted entries become holes,
// compacted when they outnumber the live ones) and, once there are more
// than kLinearEntries entries, `index_` from key text to entry position.
// A smaller map is searched by a scan of its entries: most maps (records,
// options, an HTTP request's fields) are small, and a scan of a few keys
// costs less than hashing one, with no index node to allocate per key.
// Index keys are views into the key Strings that the entries own.
//
// Protocol: the same as Array's (array.h): every field is touched only
// under `lock_`; no script code, no second lock and no possibly-final
// release happens while it is held; compound work runs on a snapshot. A
// compound assignment through a key is one step, as Array's (array.h rule
// 6): update() combines a number under the lock, anything else outside it
// and writes only if the value is still the one read. Given Reach::Sole
// (object.h rule 6), find, get, set and update take no lock (array.h
// rule 7).
#pragma once

#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/object.h"
#include "engine/string.h"
#include "engine/value.h"
#include "scheduler/spin_lock.h"

namespace weft {

class Map final : public Obj {
 public:
  Map() : Obj(ObjType::Map) {}

  size_t size() const;
  bool find(std::string_view key, Value& out, Reach reach = Reach::Shared) const;
  Value get(std::string_view key, Reach reach = Reach::Shared) const;  // nil when missing
  bool contains(std::string_view key) const;
  // `key` must be a String.
  void set(Value key, Value value, Reach reach = Reach::Shared);
  // Room for `entries` entries without growing; for a map being made, which
  // nobody else can reach yet.
  void reserve(size_t entries) { entries_.reserve(entries); }
  void set(std::string_view key, Value value) { set(make_string(key), std::move(value)); }
  // The value at `key` (a String; nil when missing) becomes
  // combine(value), added at the end when missing, and is given back;
  // `combine` must be pure (no script code, no lock).
  template <class Combine>
  Value update(Value key, const Combine& combine, Reach reach = Reach::Shared);
  // False when `key` is missing; otherwise the value is moved into
  // `removed` when given.
  bool erase(std::string_view key, Value* removed = nullptr);

  std::vector<Value> keys() const;
  std::vector<Value> values() const;
  std::vector<std::pair<Value, Value>> entries() const;

  // For the VM's iteration: the first live entry at or after `cursor`;
  // advances `cursor` past it. False at the end.
  bool next_entry(size_t& cursor, Value& key, Value& value) const;

  void release_children(DestroyWorklist& worklist) override;

 private:
  struct Entry {
    Value key;  // a String, or nil for a hole left by erase()
    Value value;
  };
  void check_mutable() const;
  // Holds the lock, unless reached through its only reference.
  std::unique_lock<SpinLock> guard(Reach reach) const {
    std::unique_lock<SpinLock> held(lock_, std::defer_lock);
    if (reach == Reach::Shared) held.lock();
    return held;
  }
  void compact();
  static constexpr size_t kLinearEntries = 8;
  // The position of `key` in entries_, or -1.
  [[nodiscard]] int64_t position_of(std::string_view key) const;
  // The entry of `key`, or nullptr.
  Entry* entry_of(std::string_view key);
  void append(Value key, Value value);
  void rebuild_index();

  mutable SpinLock lock_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string_view, uint32_t> index_;  // empty while small
  size_t live_ = 0;
  size_t holes_ = 0;
};

Value make_map();

template <class Combine>
Value Map::update(Value key, const Combine& combine, Reach reach) {
  const std::string_view text = key.as<String>()->view();
  {
    auto held = guard(reach);
    Entry* entry = entry_of(text);
    if (entry != nullptr && entry->value.is_number()) {
      Value next = combine(entry->value);
      check_mutable();
      entry->value = next;  // the old value is a number: nothing released
      return next;
    }
  }
  if (reach == Reach::Sole) {
    // Nobody else can change the value between the read and the write.
    Value next = combine(get(text, reach));
    set(std::move(key), next, reach);
    return next;
  }
  for (;;) {
    Value value = get(text);
    Value next = combine(value);
    Value old;  // released after the unlock
    {
      std::lock_guard guard(lock_);
      check_mutable();
      Entry* entry = entry_of(text);
      // A missing key was read as nil.
      if (entry != nullptr ? !entry->value.identical_to(value) : !value.is_nil()) continue;
      if (entry != nullptr) {
        old = std::move(entry->value);
        entry->value = next;
      } else {
        append(std::move(key), next);
      }
    }
    return next;
  }
}

}  // namespace weft
