#include "engine/channel.h"

#include "engine/script_task.h"

namespace weft {

namespace {

template <class Operation>
ChannelOp park_if_needed(const Value& channel, ScriptTask* task, ParkKind kind,
                         Operation operation) {
  if (task == nullptr) return operation(nullptr);
  Parking parking = task->begin_park();
  ChannelOp op = operation(&parking);
  if (op == ChannelOp::Parked) task->parked(channel, kind);
  return op;
}

}  // namespace

ChannelOp send_or_park(const Value& channel, Value& value, ScriptTask* task) {
  ChannelCore<Value>& core = channel.as<Channel>()->core();
  return park_if_needed(channel, task, ParkKind::Send,
                        [&](const Parking* parking) { return core.send(value, parking); });
}

ChannelOp receive_or_park(const Value& channel, Value& out, ScriptTask* task) {
  ChannelCore<Value>& core = channel.as<Channel>()->core();
  return park_if_needed(channel, task, ParkKind::Receive,
                        [&](const Parking* parking) { return core.recv(out, parking); });
}

}  // namespace weft
