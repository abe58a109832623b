// `(chan)` and `(chan n)`: a script channel, scheduler/channel.h's core
// carrying Values. Its protocol is the core's; this adds only ownership
// of the buffered values and the park/retry glue (engine/stdlib/channels.cpp).
#pragma once

#include <cstddef>

#include "engine/object.h"
#include "engine/value.h"
#include "scheduler/channel.h"

namespace weft {

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

}  // namespace weft
