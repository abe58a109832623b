// `(chan)` and `(chan n)`: a script channel, scheduler/channel.h's core
// carrying Values. Its protocol is the core's; this adds only ownership
// of the buffered values and the park/retry glue (engine/stdlib/channels.cpp).
#pragma once

#include <cstddef>

#include "engine/object.h"
#include "engine/value.h"
#include "scheduler/channel.h"

namespace weft {

class ScriptTask;

class Channel final : public Obj {
 public:
  // capacity 0: unbounded.
  explicit Channel(std::size_t capacity) : Obj(ObjType::Channel), core_(capacity) {}
  ChannelCore<Value>& core() { return core_; }
  void release_children(DestroyWorklist& worklist) override {
    for (Value& item : core_.take_items()) release_into(item, worklist);
  }

 private:
  ChannelCore<Value> core_;
};

// One send or receive on `channel` (a Channel value) by `task`, or by
// nobody that may wait (nullptr: Parked never happens, WouldBlock does).
// On Parked the task has left its ticket and recorded the park
// (ScriptTask rule 4); the caller suspends it and runs the operation again
// when it resumes. On Done the value was moved in, or `out` holds the item;
// on Failed `out` holds the channel's error.
ChannelOp send_or_park(const Value& channel, Value& value, ScriptTask* task);
ChannelOp receive_or_park(const Value& channel, Value& out, ScriptTask* task);

}  // namespace weft
