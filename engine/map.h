// Mutable maps from strings to values that remember insertion order.
//
// Layout: `entries_` in insertion order (deleted entries become holes,
// compacted when they outnumber the live ones) and `index_` from key text
// to entry position. Index keys are views into the key Strings that the
// entries own.
//
// Protocol: the same as Array's (array.h): every field is touched only
// under `lock_`; no script code, no second lock and no possibly-final
// release happens while it is held; compound work runs on a snapshot.
#pragma once

#include <cstdint>
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
  bool find(std::string_view key, Value& out) const;
  Value get(std::string_view key) const;  // nil when missing
  bool contains(std::string_view key) const;
  // `key` must be a String.
  void set(Value key, Value value);
  void set(std::string_view key, Value value) { set(make_string(key), std::move(value)); }
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
  void compact();

  mutable SpinLock lock_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string_view, uint32_t> index_;
  size_t holes_ = 0;
};

Value make_map();

}  // namespace weft
