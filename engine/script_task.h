// A script task: a scheduler Task (scheduler/task.h) that runs a fiber of
// the interpreter, settles a future with the result, and belongs to the
// scopes that were open in its creator when it was started.
//
// Protocol (on top of the scheduler's, task.h rules 1-7):
//   1. Everything here except what the Task base holds is touched only by
//      the worker currently inside run(); the scheduler's state word orders
//      one run's writes before the next run's reads.
//   2. Awaiting (engine/vm.cpp, AWAIT): the fiber is saved to re-execute the
//      AWAIT, then the task registers `waker_` on the future (or, when the
//      embedded waker is still registered elsewhere after a spurious run, a
//      detachable one) and run() returns Suspended. When run() is entered
//      again, AWAIT runs again and finds the future settled (or a
//      cancellation, or a spurious wake: it then suspends again without a
//      second registration).
//   3. Cancellation: Future::cancel sets the base's cancel flag and wakes
//      the task; at its next await or preemption point the interpreter
//      raises CancellationException in the fiber, once. A point inside a
//      shielded range (a finally body, a scope's wait for its children:
//      Proto::shielded_ranges) does not count: the cancellation waits for
//      the first point outside all of them.
//   4. Parking (scheduler/parker.h), for channels and select: a native
//      that cannot go on arms a park (begin_park), leaves its tickets in
//      the wait lists, records what it parked on (parked) and asks the
//      interpreter to suspend; the call is then run again from the start
//      when the task resumes. The next run's entry calls end_park first:
//      it disarms, drops the select's future wakers, and passes on a wake
//      the task will not use (parker.h rule 3, channel.h rule 6).
//   5. While suspended the task is listed in the runtime's SuspendedTasks
//      (engine/suspended_tasks.h): run() lists it, after recording what it
//      waits for, just before returning Suspended, and unlists it first
//      thing when it runs again; the destructor unlists it too. What
//      describe_wait() and stack() read is then stable (that file's rule 3).
//   6. On completion the task settles its future (no-op if cancelled
//      already), tells its scopes, and drops its fiber and its reference to
//      the future (which breaks the task <-> future reference cycle).
//   7. An actor's activation task (make_activation) has no future; it
//      calls its actor's handler message after message in the same fiber
//      (engine/actor.h rule 6). Its handlers share the run's budget, as
//      Erlang's processes share their reductions: each handler spends it
//      like any task (loops, calls) and each message costs one unit more;
//      the run yields when it is spent, so an actor takes about the share
//      of its worker that a task does, however its work is cut into
//      messages, and drains its mailbox about as fast as a sending task's
//      loop fills it.
//      a. The run that begins an activation finds `activated_` set (and
//         clears it): it adopts the reference to the actor that its
//         activator took, and puts it in the task's ctx.
//      b. A dormant task run without that (a stale waker of an earlier
//         handler's await, task.h rule 3d) touches nothing and stays
//         dormant: its actor may be gone.
//      c. When the mailbox is empty it may linger once (scheduler.h,
//         Locality; see worth_lingering); then the mailbox goes idle and
//         the run returns Dormant (task.h rule 8): it clears the fiber's
//         registers and drops the actor reference last, since that may
//         free the actor.
//      d. A handler's failure goes to Actor::failed; a cancellation of the
//         task itself (the program is ending) ends the task.
//      e. `activated_` is set only by make_activation and by an activator
//         that got Activate, and cleared only by the run that begins the
//         activation (7a). The next Activate needs the mailbox idle, which
//         only that activation's own take makes, after the clear and under
//         the mailbox lock; so every set is ordered after the clear before
//         it, none can fall between a run's load and its clear, and the
//         clear is a plain store rather than an exchange.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/fiber.h"
#include "engine/runtime.h"
#include "engine/suspended_tasks.h"
#include "engine/value.h"
#include "scheduler/channel.h"
#include "scheduler/parker.h"
#include "scheduler/task.h"
#include "scheduler/task_waker.h"

namespace weft {

class Actor;
class Future;
class TaskScope;
class Vm;

// What a parked task waits for on its wait lists (rule 4).
enum class ParkKind : std::uint8_t { Send, Receive, Select };

class ScriptTask final : public Task {
 public:
  // Starts `callable` with `args` on the runtime's scheduler; gives the
  // task's future. `origin_proto`/`origin_pc` say where it was started.
  static Value spawn(Runtime& runtime, Value callable, std::vector<Value> args, bool has_keywords,
                     const Proto* origin_proto, uint32_t origin_pc,
                     std::vector<std::shared_ptr<TaskScope>> scopes);
  // Starts a task the runtime begins on its own (an actor monitor, a
  // connection's handler): it runs `callable` with `args`, and reports
  // name the definition of `function` (a closure; else no place).
  static Value spawn_callback(Runtime& runtime, Value callable, std::vector<Value> args,
                              const Value& function);
  // Starts the task that keeps a service (`kind`: "HttpServer",
  // "TcpListener") and so the program alive until the service stops: it
  // runs `callable` with `args`, and reports name the service.
  static Value spawn_service_keeper(Runtime& runtime, Value callable, std::vector<Value> args,
                                    const char* kind);
  // The activation task of `actor` (rule 7), not yet spawned; its first
  // run begins an activation.
  static TaskRef make_activation(Runtime& runtime, Actor& actor);
  // Begins the next activation of a made activation task (rule 7), after
  // the caller took the activation's reference to the actor. Any thread.
  void activate() {
    // Release: pairs with the acquire load of the run that begins the
    // activation, with the reference taken before it.
    activated_.store(true, std::memory_order_release);
    wake();
  }

  Runtime& runtime() { return runtime_; }

  // --- for the interpreter, on this task's worker -------------------------
  // Registers this task to be woken when `future` settles (rule 2).
  [[nodiscard]] AddWaiterResult wait_for(Future& future);
  // Cancellation requested and not yet raised in the fiber. The
  // interpreter raises it once, at an await or preemption point outside
  // any shielded range, and then marks it delivered.
  [[nodiscard]] bool cancellation_pending() const {
    return !cancellation_delivered_ && cancel_requested();
  }
  void mark_cancellation_delivered() { cancellation_delivered_ = true; }
  // The fiber no longer waits for the future it awaited (an interrupt was
  // raised in it): its wakers are withdrawn, so a long-lived future does
  // not keep them (task_waker.h rule 4).
  void abandon_wait();
  std::vector<std::shared_ptr<TaskScope>>& open_scopes() { return open_scopes_; }

  // --- parking on wait lists (rule 4) ------------------------------------
  // Arms a new park; what to hand to the wait lists.
  [[nodiscard]] Parking begin_park() {
    return Parking{*this, parker_, park_epoch_ = parker_.arm()};
  }
  // The operation left tickets: `on` is the Channel, or for a select the
  // Array of its channels, to pass a claimed wake on to.
  void parked(Value on, ParkKind kind) {
    parked_on_ = std::move(on);
    park_kind_ = kind;
  }
  // A select also resumes when `future` settles. AlreadySettled: it has.
  [[nodiscard]] AddWaiterResult wake_on_settle(Future& future);
  // At the entry of the run after a park; `leaving`: the fiber will not
  // run the parked operation again (an interrupt is being raised).
  void end_park(bool leaving);

  // --- reports, while listed in SuspendedTasks (rule 5), any thread -------
  // "file:line" where the task, or the actor it activates, was started
  // ("" when unknown).
  [[nodiscard]] std::string origin() const;
  // The future's Future::origin_description, or the service the task keeps
  // running (spawn_service_keeper); "" for an activation.
  [[nodiscard]] std::string origin_description() const;
  [[nodiscard]] bool is_activation() const { return actor_ != nullptr; }
  // What it waits for, e.g. "the task started at a.weft:7" or "a receive
  // from a channel (capacity 1, 0 queued)".
  [[nodiscard]] std::string describe_wait() const;
  // Its call stack, innermost first ("f (a.weft:3:5)").
  [[nodiscard]] std::vector<std::string> stack() const;
  [[nodiscard]] std::chrono::steady_clock::time_point suspended_since() const {
    return suspended_since_;
  }
  SuspendedLink& suspended_link() { return suspended_link_; }

  // --trace: named "function file:line" after where it was started.
  TraceTag* trace_tag(TraceRecorder& recorder) noexcept override;
  // The task's future (nil once it has finished).
  [[nodiscard]] Value future() const { return future_; }

 protected:
  RunResult run(std::uint32_t budget) override;

 private:
  ScriptTask(Runtime& runtime, Actor* actor, Value callable, std::vector<Value> args,
             bool has_keywords, Value future);
  // What the spawns have in common, once `future` has its origin.
  static Value start(Runtime& runtime, Value future, Value callable, std::vector<Value> args,
                     bool has_keywords, std::vector<std::shared_ptr<TaskScope>> scopes,
                     const char* kept_service = nullptr);
  ~ScriptTask() override;
  // Rule 7.
  RunResult run_activation(Vm& vm, std::uint32_t budget);
  // Whether an activation whose mailbox is empty lingers once (a partner
  // that answers it at once, as in ping-pong, finds it still active)
  // rather than going dormant: yes while the last linger found a message,
  // else one time in 16 (an actor of a ring never gets an answer from the
  // one it wakes).
  bool worth_lingering();
  void start_handler(Vm& vm);
  void end_handler(bool failed);
  RunResult go_dormant();
  void finish(bool failed, Value result);
  void drop_extra_waker();
  // Records what the task waits for and lists it (rule 5).
  void list_as_suspended();

  Runtime& runtime_;
  Actor* const actor_;  // rule 7; null for other tasks
  Value actor_context_;
  Value callable_;
  std::vector<Value> args_;
  // The small fields sit together (a million suspended tasks keep them).
  bool has_keywords_ = false;
  bool started_ = false;
  bool cancellation_delivered_ = false;
  // Rule 7, for an activation task: a handler's call is in the fiber; the
  // ctx holds the activation's reference to the actor; this run lingered;
  // the last linger found a message (see worth_lingering).
  bool handling_ = false;
  bool holds_actor_ = false;
  bool lingered_ = false;
  bool linger_paid_ = true;
  std::uint8_t lingers_skipped_ = 0;
  std::atomic<bool> activated_{false};      // rule 7a
  ParkKind park_kind_ = ParkKind::Receive;  // rule 4
  // Rule 5: what the suspension waits for, recorded by run() while the
  // awaited future is surely alive (the origin of a task's future; null
  // for other futures), and since when.
  enum class WaitKind : std::uint8_t { Future, Park, Wake };
  WaitKind wait_kind_ = WaitKind::Wake;
  bool awaited_scope_join_ = false;
  const char* kept_service_ = nullptr;  // set before the task is spawned
  uint32_t awaited_origin_pc_ = 0;
  const Proto* awaited_origin_proto_ = nullptr;
  std::chrono::steady_clock::time_point suspended_since_;
  Fiber fiber_;
  Value future_;
  TaskWaker waker_;
  Future* waiting_on_ = nullptr;             // the future waker_ is registered on
  DetachableWaiter* extra_waker_ = nullptr;  // see wait_for
  Future* extra_waiting_on_ = nullptr;
  // Scopes this task belongs to (as a child), told when it ends.
  std::vector<std::shared_ptr<TaskScope>> member_of_;
  // Scopes this task has opened and not yet closed, innermost last.
  std::vector<std::shared_ptr<TaskScope>> open_scopes_;
  // Rule 4.
  Parker parker_;
  std::uint64_t park_epoch_ = 0;
  Value parked_on_;
  std::unique_ptr<std::vector<DetachableWaiter*>> select_wakers_;
  SuspendedLink suspended_link_;
  // --trace only (scheduler/trace_recorder.h rule 3).
  std::unique_ptr<TraceTag> trace_tag_;
};

}  // namespace weft
