// Actors: `(actor/spawn ^state init handler)`, their contexts and their
// supervisors. The mailbox and its activation flag are scheduler/mailbox.h;
// an activation is a run of the actor's own script task (ScriptTask rule
// 7), which asks this file for each message and calls the handler.
//
// Protocol (on top of mailbox.h rules 1-5):
//   1. `state_`, `current_` and `replied_` belong to the running
//      activation: at most one runs at a time (mailbox.h rule 2), and the
//      mailbox lock orders one activation's writes before the next one's
//      reads (rule 5).
//   2. `restart_pending_` is set by a supervisor (one-for-all) from another
//      activation's thread and taken (exchange) by this actor's activation
//      before a later message (the next one it sees the flag at), which
//      then starts from the initial state.
//   3. The end of an actor happens once: the activation that gets Finished
//      from the mailbox calls finish(), which ends the monitor list (a
//      monitor added later runs at once), completes `stopped_` and reports
//      a failure nobody watches.
//   4. `failure_` (and `failure_reply_`, the reply future the failure
//      also went to) is written by the running activation before it closes
//      the mailbox, and read by the activation that finishes (the same one,
//      or a later one ordered by the mailbox lock).
//   5. A supervisor lists its children weakly (raw pointers under its
//      lock): a child unregisters in its destructor under that lock, and
//      the supervisor takes references with Obj::try_retain, so it never
//      touches a child being destroyed. The runtime lists every actor the
//      same way, to drop their script values at shutdown (cycles through
//      handlers and states would otherwise outlive the program).
//   6. The activation task: made by the first pusher that gets Activate,
//      and kept in `activation_` for the actor's life; every later
//      Activate wakes it (it is dormant, or still inside the run that saw
//      the mailbox idle: task.h rules 2 and 8). The pusher that gets
//      Activate takes one reference to the actor for the activation (the
//      run that begins it adopts it, the run that goes dormant drops it),
//      so an idle actor is held by nobody but its users, and an active one
//      cannot be freed under its handler. The next Activate comes after
//      the mailbox lock saw the mailbox idle, so it sees `activation_`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "engine/object.h"
#include "engine/value.h"
#include "scheduler/mailbox.h"
#include "scheduler/spin_lock.h"
#include "scheduler/task.h"

namespace weft {

class Proto;
class ActorContext;
class Runtime;
class Supervisor;

// A message and, for send_expect_reply, the future its reply settles.
struct Envelope {
  Value message;
  Value reply;  // a Future, or nil
};

// Callbacks to run once when an actor or a supervisor ends.
class MonitorList {
 public:
  // False when it has ended already: the caller runs `callback` at once
  // with reason().
  bool add(Value callback);
  // Ends the list with `reason` and gives its callbacks (once).
  std::vector<Value> end(Value reason);
  Value reason();

 private:
  SpinLock lock_;
  bool ended_ = false;
  Value reason_;
  std::vector<Value> callbacks_;
};

class Actor final : public Obj {
 public:
  Actor(Runtime& runtime, Value handler, Value initial_state, Value supervisor);
  // Where actor/spawn was called, for reports.
  void set_origin(const Proto* proto, uint32_t pc) {
    origin_proto_ = proto;
    origin_pc_ = pc;
  }
  ~Actor() override;

  Runtime& runtime() { return runtime_; }
  // `.send`: false when the actor has stopped. `reply` is nil or a Future.
  bool post(Value message, Value reply);
  // `.stop`: refuses later messages; the future of the end.
  Value stop();
  [[nodiscard]] bool alive() const { return alive_.load(std::memory_order_acquire); }
  const Value& stopped_future() const { return stopped_; }
  MonitorList& monitors() { return monitors_; }

  // "file:line" where actor/spawn was called ("" when unknown).
  [[nodiscard]] std::string origin() const;

  // --- for the running activation (rule 1) ------------------------------
  enum class Next : std::uint8_t { Message, Empty, Idle, Finished };
  // Loads the next message. With `may_idle` false an empty mailbox gives
  // Empty and stays active (the activation lingers: mailbox.h rule 3);
  // else it gives Idle: the mailbox is idle, and the next push activates
  // the actor again. Finished: the actor has ended (finish() has run).
  Next next(bool may_idle);
  const Value& handler() const { return handler_; }
  // The loaded message, and the state, for the handler's call: handled()
  // or failed() sets the next state.
  Value take_message() { return std::move(current_.message); }
  Value take_state() { return std::move(state_); }
  // The handler returned `state`.
  void handled(Value state);
  // The message being handled came with a reply future.
  [[nodiscard]] bool expects_reply() const { return current_.reply.is(ObjType::Future); }
  // `(ctx .reply v)`; false when already replied or nothing to reply to.
  bool reply(Value value);
  // The handler threw `exception`: restarts under a supervisor, or stops.
  void failed(Value exception);

  // Called by a supervisor (rule 2, rule 5).
  void request_restart() { restart_pending_.store(true, std::memory_order_release); }
  // Stops the actor because of `reason` from outside its activation (a
  // supervisor that gave up): queued messages are dropped. `reply` is the
  // reply future the failure was delivered to, if any: an unwatched actor
  // whose failure reached a caller is reported through that future only
  // (as unhandled if nobody awaits it), not as a failure of its own.
  void halt(Value reason, Value reply = Value());
  // Drops every script value it holds (runtime shutdown, rule 5).
  void release_script_values();

  void release_children(DestroyWorklist& worklist) override;

 private:
  // Rule 6: after a push or close that returned Activate.
  void activate();
  void finish();
  void drop_queued(const std::string& why);
  static void fail_replies(std::vector<Envelope> dropped, const std::string& why);

  Runtime& runtime_;
  Mailbox<Envelope> mailbox_;
  TaskRef activation_;  // rule 6
  Value handler_;
  Value initial_state_;
  Value supervisor_;  // a Supervisor, or nil
  Value stopped_;     // Future of the end
  MonitorList monitors_;
  std::atomic<bool> alive_{true};
  std::atomic<bool> restart_pending_{false};
  std::atomic<bool> halted_{false};
  // Rule 1.
  Value state_;
  Envelope current_;
  bool replied_ = false;
  const Proto* origin_proto_ = nullptr;
  uint32_t origin_pc_ = 0;
  // Rule 4.
  SpinLock failure_lock_;
  Value failure_;
  Value failure_reply_;
};

// The `ctx` of a handler: the actor, for `.reply` and `/.self`. Made by
// the activation task, which alone may use it for `.reply` (rule 1: the
// reply state belongs to the running activation; a ctx kept and used by
// another task must not touch it). Between activations the task keeps its
// ctx without the actor (rule 6) if nobody else holds it; one that was
// kept elsewhere is disowned instead, and the next activation makes
// another.
class ActorContext final : public Obj {
 public:
  ActorContext(Value actor, const void* owner)
      : Obj(ObjType::ActorContext), actor_(std::move(actor)), owner_(owner) {}
  Actor& actor() const { return *actor_.as<Actor>(); }
  const Value& actor_value() const { return actor_; }
  [[nodiscard]] bool owned_by(const void* task) const {
    // Relaxed: only the owner compares equal, and it wrote the value.
    return task != nullptr && owner_.load(std::memory_order_relaxed) == task;
  }
  // The owner, at the end of an activation, while nobody else holds this
  // ctx: takes the actor out, to put it back at the next (rule 6).
  Value detach_actor() { return std::move(actor_); }
  void attach_actor(Value actor) { actor_ = std::move(actor); }
  // The owner, at the end of an activation, when the ctx was kept
  // elsewhere: it can no longer reply.
  void disown() { owner_.store(nullptr, std::memory_order_relaxed); }
  void release_children(DestroyWorklist& worklist) override { release_into(actor_, worklist); }

 private:
  Value actor_;
  std::atomic<const void*> owner_;
};

class Supervisor final : public Obj {
 public:
  enum class Strategy : std::uint8_t { OneForOne, OneForAll };
  enum class Decision : std::uint8_t { Restart, GaveUp };

  Supervisor(Runtime& runtime, Strategy strategy, int max_restarts, double within_seconds)
      : Obj(ObjType::Supervisor),
        runtime_(runtime),
        strategy_(strategy),
        max_restarts_(max_restarts),
        within_(within_seconds) {}

  void add_child(Actor* child);
  void remove_child(Actor* child);
  // A child's handler threw. Restart: the child starts again from its
  // initial state (and, one-for-all, every sibling at its next message).
  // GaveUp: too many restarts; every child is halted and the failure goes
  // to the supervisor's monitors (or is reported).
  Decision child_failed(Actor& child, const Value& exception);
  std::int64_t restarts();
  MonitorList& monitors() { return monitors_; }

 private:
  std::vector<Value> children_retained();

  Runtime& runtime_;
  const Strategy strategy_;
  const int max_restarts_;
  const double within_;
  SpinLock lock_;
  std::vector<Actor*> children_;  // rule 5
  std::deque<std::chrono::steady_clock::time_point> recent_;
  std::int64_t restarts_ = 0;
  bool gave_up_ = false;
  MonitorList monitors_;
};

// Runs `callback` as a task with (reason) or (subject reason), by its
// number of parameters.
void run_monitor(Runtime& runtime, const Value& callback, const Value& subject,
                 const Value& reason);

// The copy of a message that crosses to an actor: numbers, strings,
// booleans, nil and frozen values as they are; unfrozen arrays and maps
// copied deeply (shared parts and cycles stay shared within the copy).
Value copy_message(const Value& message);
// The message `fresh`, an array literal made for the send that nothing
// else refers to (NativeCall::last_arg_fresh): taken as it is when all its
// items cross by value (["ping" i]), which saves the copy; copied
// otherwise, so a nested array still never reaches the receiver shared.
Value adopt_fresh_message(Value& fresh);

}  // namespace weft
