// Channels: `(chan)`, `(chan n)`, `.send`, `.recv`, `.close`, `/.size`,
// `/.capacity`, `/.closed`, and the core of `select` (the prelude's
// `select` calls the chosen handler). A call that cannot go on parks the
// task (ScriptTask rule 4) and runs again from the start when woken.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "engine/array.h"
#include "engine/channel.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/runtime.h"
#include "engine/script_task.h"
#include "engine/stdlib/stdlib.h"
#include "scheduler/scheduler.h"

namespace weft {

namespace {

Channel& channel_arg(const NativeCall& call) {
  const Value& v = call.arg(0);
  if (!v.is(ObjType::Channel)) {
    throw_error(ExcClass::TypeException, "expected a Channel, got " + type_name(v));
  }
  return *v.as<Channel>();
}

[[noreturn]] void cannot_wait(const char* what) {
  throw_error(ExcClass::ConcurrencyException,
              std::string(what) + " would wait, and it was not called from a task");
}

Value make_channel(NativeCall& call) {
  const Value& size = call.arg(0);
  if (size.is_nil() || size.is_missing()) return Value::adopt(new Channel(0));
  if (!size.is_int() || size.as_int() < 1) {
    throw_error(ExcClass::ArgumentException,
                "chan: the capacity must be an integer of at least 1, got " + display(size));
  }
  return Value::adopt(new Channel(static_cast<std::size_t>(size.as_int())));
}

Value channel_send(NativeCall& call) {
  (void)channel_arg(call);
  Value value = call.arg(1);
  switch (send_or_park(call.arg(0), value, call.can_park ? call.task : nullptr)) {
    case ChannelOp::Done:
      call.runtime.count(RuntimeEvent::MessageSent);
      return Value();
    case ChannelOp::Closed:
    case ChannelOp::Failed:
      throw_error(ExcClass::ChannelClosedException, "send on a closed channel");
    case ChannelOp::Parked:
      call.then = NativeCall::Then::Park;
      return Value();
    case ChannelOp::WouldBlock:
      break;
  }
  cannot_wait("send on a full channel");
}

Value channel_recv(NativeCall& call) {
  (void)channel_arg(call);
  Value item;
  switch (receive_or_park(call.arg(0), item, call.can_park ? call.task : nullptr)) {
    case ChannelOp::Done:
      return item;
    case ChannelOp::Closed:
      return Value();
    case ChannelOp::Failed:
      throw ScriptThrow{std::move(item)};
    case ChannelOp::Parked:
      call.then = NativeCall::Then::Park;
      return Value();
    case ChannelOp::WouldBlock:
      break;
  }
  cannot_wait("recv on an empty channel");
}

Value channel_close(NativeCall& call) {
  (void)channel_arg(call).core().close();
  return Value();
}

// (__chan_fail c error): closes `c` so that its receivers, once it is
// drained, get `error` thrown (io/lines' read errors).
Value channel_fail(NativeCall& call) {
  (void)channel_arg(call).core().fail(call.arg(1));
  return Value();
}

Value channel_size(NativeCall& call) {
  return Value::integer(static_cast<int64_t>(channel_arg(call).core().size()));
}

Value channel_capacity(NativeCall& call) {
  std::size_t capacity = channel_arg(call).core().capacity();
  return capacity == 0 ? Value() : Value::integer(static_cast<int64_t>(capacity));
}

Value channel_closed(NativeCall& call) {
  return Value::boolean(channel_arg(call).core().closed());
}

// What a settled future gives a select: [index value], or its failure
// thrown.
Value settled_choice(Future& future, std::size_t index) {
  future.mark_handled();
  switch (future.outcome()) {
    case Outcome::Success:
      return make_array({Value::integer(static_cast<int64_t>(index)), future.result()});
    case Outcome::Failure:
      throw ScriptThrow{future.result()};
    default:
      break;
  }
  throw_error(ExcClass::CancellationException, "select: the future was cancelled");
}

// (__select clauses timer): the first ready clause, in the order listed,
// as [index value]; nil when `timer` (a future, or nil) has settled
// first. Each clause is [source handler] with a Channel or a Future as
// source (anything else is ready at once with itself, as await gives a
// value that is not a future). Nothing ready: parks on every channel and
// future and runs again when one of them moves.
Value select_ready(NativeCall& call) {
  const Value& clauses_value = call.arg(0);
  if (!clauses_value.is(ObjType::Array)) {
    throw_error(ExcClass::TypeException, "select expects clauses [source handler]");
  }
  std::vector<Value> clauses = clauses_value.as<Array>()->snapshot();
  if (clauses.empty() && !call.arg(1).is(ObjType::Future)) {
    throw_error(ExcClass::ArgumentException,
                "select needs at least one clause [source handler] or a ^timeout");
  }
  // Checked before any ticket is left: a throw with tickets armed would
  // leave wakes nobody passes on.
  for (const Value& clause : clauses) {
    if (!clause.is(ObjType::Array) || clause.as<Array>()->size() != 2) {
      throw_error(ExcClass::TypeException,
                  "select: each clause is [source handler], got " + display(clause));
    }
  }
  ScriptTask* task = call.can_park ? call.task : nullptr;
  std::vector<Value> channels;
  std::optional<Parking> parking;
  if (task != nullptr) parking.emplace(task->begin_park());
  const Parking* park = parking ? &*parking : nullptr;
  Value chosen;
  bool ready = false;
  for (std::size_t i = 0; i < clauses.size() && !ready; ++i) {
    Value source = clauses[i].as<Array>()->get(0);
    if (source.is(ObjType::Channel)) {
      Value item;
      ChannelOp op = source.as<Channel>()->core().recv(item, park);
      if (op == ChannelOp::Failed) {
        if (task != nullptr) {
          task->parked(make_array(std::move(channels)), ParkKind::Select);
          task->end_park(false);
        }
        throw ScriptThrow{std::move(item)};
      }
      if (op == ChannelOp::Done || op == ChannelOp::Closed) {
        chosen = make_array({Value::integer(static_cast<int64_t>(i)), std::move(item)});
        ready = true;
      } else if (op == ChannelOp::Parked) {
        channels.push_back(source);
      }
    } else if (source.is(ObjType::Future)) {
      Future& future = *source.as<Future>();
      bool settled = future.outcome() != Outcome::Pending;
      if (!settled && task != nullptr) {
        settled = task->wake_on_settle(future) == AddWaiterResult::AlreadySettled;
      }
      if (settled) {
        ready = true;
        // Rule 4 of ScriptTask: end this park before the failure may be thrown.
        if (task != nullptr) {
          task->parked(make_array(std::move(channels)), ParkKind::Select);
          task->end_park(false);
        }
        return settled_choice(future, i);
      }
    } else {
      chosen = make_array({Value::integer(static_cast<int64_t>(i)), source});
      ready = true;
    }
  }
  const Value& timer = call.arg(1);
  if (!ready && timer.is(ObjType::Future)) {
    Future& future = *timer.as<Future>();
    bool settled = future.outcome() != Outcome::Pending;
    if (!settled && task != nullptr) {
      settled = task->wake_on_settle(future) == AddWaiterResult::AlreadySettled;
    }
    if (settled) ready = true;  // timed out: chosen stays nil
  }
  if (task == nullptr) {
    if (!ready) cannot_wait("select");
    return chosen;
  }
  task->parked(make_array(std::move(channels)), ParkKind::Select);
  if (ready) {
    task->end_park(false);
    return chosen;
  }
  call.then = NativeCall::Then::Park;
  return Value();
}

// ---- support for the prelude's pmap and pipeline -----------------------------

Value positive_int(NativeCall& call) {
  return Value::boolean(call.arg(0).is_int() && call.arg(0).as_int() >= 1);
}

Value array_set(NativeCall& call) {
  if (!call.arg(0).is(ObjType::Array)) throw_error(ExcClass::TypeException, "expected an Array");
  call.arg(0).as<Array>()->set(call.arg(1).as_int(), call.arg(2));
  return Value();
}

Value stderr_is_terminal(NativeCall&) {
  return Value::boolean(isatty(STDERR_FILENO) == 1);
}

// (__progress_line text): redraws the pipeline's progress line on stderr;
// nil clears it.
Value progress_line(NativeCall& call) {
  std::string line = "\r\x1b[K";
  if (!call.arg(0).is_nil()) line += display(call.arg(0));
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
  return Value();
}

Value round_rate(NativeCall& call) {
  double seconds = call.arg(1).is_number() ? call.arg(1).as_number() : 0;
  double count = call.arg(0).is_number() ? call.arg(0).as_number() : 0;
  return Value::integer(seconds > 0 ? static_cast<int64_t>(count / seconds) : 0);
}

Value worker_count(NativeCall& call) {
  return Value::integer(static_cast<int64_t>(call.runtime.scheduler().workers()));
}

}  // namespace

void register_channel_builtins(Runtime& runtime) {
  runtime.register_native("chan", make_channel, 0, 1);
  runtime.register_native_method(ObjType::Channel, "send", channel_send, 2, 2);
  runtime.register_native_method(ObjType::Channel, "recv", channel_recv, 1, 1);
  runtime.register_native_method(ObjType::Channel, "close", channel_close, 1, 1);
  runtime.register_native_method(ObjType::Channel, "size", channel_size, 1, 1);
  runtime.register_native_method(ObjType::Channel, "capacity", channel_capacity, 1, 1);
  runtime.register_native_method(ObjType::Channel, "closed", channel_closed, 1, 1);
  runtime.register_native("__select", select_ready, 2, 2);
  runtime.register_native("__chan_fail", channel_fail, 2, 2);
  runtime.register_native("__worker_count", worker_count, 0, 0);
  runtime.register_native("__positive_int", positive_int, 1, 1);
  runtime.register_native("__array_set", array_set, 3, 3);
  runtime.register_native("__stderr_is_terminal", stderr_is_terminal, 0, 0);
  runtime.register_native("__progress_line", progress_line, 1, 1);
  runtime.register_native("__round_rate", round_rate, 2, 2);
}

}  // namespace weft
