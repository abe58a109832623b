// Actors: `actor/spawn`, `.send`, `.send_expect_reply`, `.stop`,
// `/.alive`, the handler's `ctx` (`.reply`, `/.self`), `actor/monitor`,
// `actor/supervisor`. engine/actor.h has the protocol; the activation that
// calls the handler is engine/script_task.cpp (its rule 7).
#include <string>

#include "engine/actor.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/runtime.h"
#include "engine/script_task.h"
#include "engine/stdlib/native_args.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"

namespace weft {

namespace {

Actor& actor_arg(const NativeCall& call) {
  const Value& v = call.arg(0);
  if (!v.is(ObjType::Actor)) {
    throw_error(ExcClass::TypeException, "expected an Actor, got " + type_name(v));
  }
  return *v.as<Actor>();
}

Actor& context_actor(const NativeCall& call) {
  const Value& v = call.arg(0);
  if (!v.is(ObjType::ActorContext)) {
    throw_error(ExcClass::TypeException, "expected an actor's ctx, got " + type_name(v));
  }
  return v.as<ActorContext>()->actor();
}

bool callable(const Value& v) {
  return v.is(ObjType::Closure) || v.is(ObjType::Native);
}

// (actor/spawn ^state init ^supervisor s handler)
Value spawn_actor(NativeCall& call) {
  const Value& handler = call.arg(0);
  if (!callable(handler)) {
    throw_error(
        ExcClass::TypeException,
        "actor/spawn expects a handler (fn [ctx msg state] ...), got " + type_name(handler));
  }
  Value supervisor = keyword_arg(call, "supervisor");
  if (!supervisor.is_nil() && !supervisor.is(ObjType::Supervisor)) {
    throw_error(ExcClass::TypeException,
                "actor/spawn: ^supervisor expects a Supervisor, got " + type_name(supervisor));
  }
  auto* actor = new Actor(call.runtime, handler, keyword_arg(call, "state"), std::move(supervisor));
  actor->set_origin(call.caller_proto, call.caller_pc);
  return Value::adopt(actor);
}

// The message to post: the argument itself when it is a fresh literal that
// may be taken without a copy (adopt_fresh_message), else a copy.
Value message_arg(NativeCall& call) {
  return call.last_arg_fresh && call.count == 2 ? adopt_fresh_message(call.args[1])
                                                : copy_message(call.arg(1));
}

Value actor_send(NativeCall& call) {
  Actor& actor = actor_arg(call);
  return Value::boolean(actor.post(message_arg(call), Value()));
}

Value actor_send_expect_reply(NativeCall& call) {
  Actor& actor = actor_arg(call);
  Value reply = make_future(call.runtime);
  (void)actor.post(message_arg(call), reply);
  return reply;
}

Value actor_stop(NativeCall& call) {
  return actor_arg(call).stop();
}

Value actor_alive(NativeCall& call) {
  return Value::boolean(actor_arg(call).alive());
}

Value context_reply(NativeCall& call) {
  Actor& actor = context_actor(call);
  if (!call.arg(0).as<ActorContext>()->owned_by(call.task)) {
    throw_error(ExcClass::ActorException, "reply: ctx is usable only inside its handler");
  }
  // A message sent with .send expects no reply: the reply is dropped, so
  // one handler can serve both kinds of send.
  if (!actor.expects_reply()) return Value::boolean(false);
  if (!actor.reply(call.arg(1))) {
    throw_error(ExcClass::ActorException, "reply: this message was replied to already");
  }
  return Value::boolean(true);
}

Value context_self(NativeCall& call) {
  return call.arg(0).as<ActorContext>()->actor_value();
}

// (actor/monitor a cb): cb runs once when `a` (an actor or a supervisor)
// ends, with the reason: nil for a stop, the exception for a failure.
Value monitor(NativeCall& call) {
  const Value& subject = call.arg(0);
  const Value& callback = call.arg(1);
  if (!callable(callback)) {
    throw_error(ExcClass::TypeException,
                "actor/monitor expects a function, got " + type_name(callback));
  }
  MonitorList* monitors = nullptr;
  if (subject.is(ObjType::Actor)) {
    monitors = &subject.as<Actor>()->monitors();
  } else if (subject.is(ObjType::Supervisor)) {
    monitors = &subject.as<Supervisor>()->monitors();
  } else {
    throw_error(ExcClass::TypeException,
                "actor/monitor expects an Actor or a Supervisor, got " + type_name(subject));
  }
  if (!monitors->add(callback)) run_monitor(call.runtime, callback, subject, monitors->reason());
  return Value();
}

// (actor/supervisor ^strategy "one_for_one" ^max_restarts 3 ^within 5)
Value make_supervisor(NativeCall& call) {
  Supervisor::Strategy strategy = Supervisor::Strategy::OneForOne;
  Value name = keyword_arg(call, "strategy");
  if (!name.is_nil()) {
    std::string text = display(name);
    for (char& c : text) {
      if (c == '-') c = '_';
    }
    if (text == "one_for_all") {
      strategy = Supervisor::Strategy::OneForAll;
    } else if (text != "one_for_one") {
      throw_error(ExcClass::ArgumentException,
                  "actor/supervisor: ^strategy is \"one_for_one\" or \"one_for_all\", got " +
                      display(name));
    }
  }
  Value max_restarts = keyword_arg(call, "max_restarts");
  if (max_restarts.is_nil()) max_restarts = Value::integer(3);
  if (!max_restarts.is_int() || max_restarts.as_int() < 0 ||
      max_restarts.as_int() > 1'000'000'000) {
    throw_error(ExcClass::ArgumentException,
                "actor/supervisor: ^max_restarts must be an integer of at least 0");
  }
  Value within = keyword_arg(call, "within");
  double seconds = 5.0;
  if (!within.is_nil()) {
    if (!within.is_number() || within.as_number() <= 0) {
      throw_error(ExcClass::ArgumentException,
                  "actor/supervisor: ^within must be a positive number of seconds");
    }
    seconds = within.as_number();
  }
  return Value::adopt(
      new Supervisor(call.runtime, strategy, static_cast<int>(max_restarts.as_int()), seconds));
}

Value supervisor_restarts(NativeCall& call) {
  const Value& v = call.arg(0);
  if (!v.is(ObjType::Supervisor)) throw_error(ExcClass::TypeException, "expected a Supervisor");
  return Value::integer(v.as<Supervisor>()->restarts());
}

}  // namespace

void register_actor_builtins(Runtime& runtime) {
  runtime.register_native("actor/spawn", spawn_actor, 1, 1, {"state", "supervisor"});
  runtime.register_native("actor/monitor", monitor, 2, 2);
  runtime.register_native("actor/supervisor", make_supervisor, 0, 0,
                          {"strategy", "max_restarts", "within"});
  runtime.register_native_method(ObjType::Actor, "send", actor_send, 2, 2);
  runtime.register_native_method(ObjType::Actor, "send_expect_reply", actor_send_expect_reply, 2,
                                 2);
  runtime.register_native_method(ObjType::Actor, "stop", actor_stop, 1, 1);
  runtime.register_native_method(ObjType::Actor, "alive", actor_alive, 1, 1);
  runtime.register_native_method(ObjType::ActorContext, "reply", context_reply, 2, 2);
  runtime.register_native_method(ObjType::ActorContext, "self", context_self, 1, 1);
  runtime.register_native_method(ObjType::Supervisor, "restarts", supervisor_restarts, 1, 1);
}

}  // namespace weft
