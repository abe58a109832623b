// `(atom v)`: a value many tasks update without locks of their own. Reads
// and writes follow SharedSlot's protocol; `.swap f` is a compare-and-set
// loop written in Weft (engine/prelude.cpp) on top of compare_and_set.
#pragma once

#include "engine/object.h"
#include "engine/shared_slot.h"
#include "engine/value.h"

namespace weft {

class Atom final : public Obj {
 public:
  explicit Atom(Value value) : Obj(ObjType::Atom), slot_(std::move(value)) {}
  Value load() const { return slot_.load(); }
  void store(Value value) { slot_.store(std::move(value)); }
  // Replaces the value with `desired` when it is still `expected`: the same
  // object, or an equal number, string or boolean.
  bool compare_and_set(const Value& expected, Value desired);
  void release_children(DestroyWorklist& worklist) override {
    release_into(slot_.unsynchronized(), worklist);
  }

 private:
  SharedSlot slot_;
};

}  // namespace weft
