// Actors: `(actor/spawn ^state init handler)`, their contexts and their
// supervisors. The mailbox and its activation flag are scheduler/mailbox.h;
// an activation is one script task running the prelude's `__actor_run`,
// which asks this file for each message (engine/stdlib/actors.cpp).
//
// Protocol (on top of mailbox.h rules 1-5):
//   1. `state_`, `current_` and `replied_` belong to the running
//      activation: at most one runs at a time (mailbox.h rule 2), and the
//      mailbox lock orders one activation's writes before the next one's
//      reads (rule 5).
//   2. `restart_pending_` is set by a supervisor (one-for-all) from another
//      activation's thread and taken (exchange) by this actor's activation
//      before its next message, which then starts from the initial state.
//   3. The end of an actor happens once: the activation that gets Finished
//      from the mailbox calls finish(), which ends the monitor list (a
//      monitor added later runs at once), completes `stopped_` and reports
//      a failure nobody watches.
//   4. `failure_` is written by the running activation before it closes
//      the mailbox, and read by the activation that finishes (the same one,
//      or a later one ordered by the mailbox lock).
//   5. A supervisor lists its children weakly (raw pointers under its
//      lock): a child unregisters in its destructor under that lock, and
//      the supervisor takes references with Obj::try_retain, so it never
//      touches a child being destroyed. The runtime lists every actor the
//      same way, to drop their script values at shutdown (cycles through
//      handlers and states would otherwise outlive the program).
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

  // --- for the running activation (rule 1) ------------------------------
  enum class Next : std::uint8_t { Message, Yield, Linger, Idle };
  // Loads the next message; Yield when a batch is spent (the message is
  // loaded, the task yields first); Linger the first time the mailbox is
  // empty (the task yields, then asks again: mailbox.h rule 3); Idle when
  // there is none (the activation ends; if the actor is finished,
  // finish() has run).
  // `may_linger`: the caller can yield and call again. `activation` holds
  // the activation's own counters: nothing of the actor may be written
  // after take() gave Idle, since the next activation may run already.
  Next next(bool may_linger, ActorContext& activation);
  const Value& handler() const { return handler_; }
  const Value& message() const { return current_.message; }
  const Value& state() const { return state_; }
  // The handler returned `state`.
  void handled(Value state);
  // `(ctx .reply v)`; false when already replied or nothing to reply to.
  bool reply(Value value);
  // The handler threw `exception`: restarts under a supervisor, or stops.
  void failed(Value exception);

  // Called by a supervisor (rule 2, rule 5).
  void request_restart() { restart_pending_.store(true, std::memory_order_release); }
  // Stops the actor because of `reason` from outside its activation (a
  // supervisor that gave up): queued messages are dropped.
  void halt(Value reason);
  // Drops every script value it holds (runtime shutdown, rule 5).
  void release_script_values();

  void release_children(DestroyWorklist& worklist) override;

 private:
  void start_activation();
  void finish();
  void drop_queued(const std::string& why);

  Runtime& runtime_;
  Mailbox<Envelope> mailbox_;
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
};

// The `ctx` of a handler: the actor, for `.reply` and `/.self`. One per
// activation; the activation's task binds it at its first message, and
// only that task may use it for `.reply` (rule 1: the reply state belongs
// to the running activation; a ctx kept and used by another task must not
// touch it).
class ActorContext final : public Obj {
 public:
  explicit ActorContext(Value actor) : Obj(ObjType::ActorContext), actor_(std::move(actor)) {}
  Actor& actor() const { return *actor_.as<Actor>(); }
  const Value& actor_value() const { return actor_; }
  // The activation's task, at its first message (relaxed: only that task
  // compares equal, and it wrote the value itself).
  void bind(const void* task) {
    const void* unbound = nullptr;
    (void)owner_.compare_exchange_strong(unbound, task, std::memory_order_relaxed);
  }
  [[nodiscard]] bool owned_by(const void* task) const {
    return task != nullptr && owner_.load(std::memory_order_relaxed) == task;
  }
  void release_children(DestroyWorklist& worklist) override { release_into(actor_, worklist); }

  // Touched only by the activation's task (Actor::next).
  bool lingered = false;
  unsigned batch = 0;

 private:
  Value actor_;
  std::atomic<const void*> owner_{nullptr};
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

}  // namespace weft
