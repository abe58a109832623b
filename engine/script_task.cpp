#include "engine/script_task.h"

#include <cstdio>
#include <exception>
#include <new>

#include "engine/actor.h"
#include "engine/array.h"
#include "engine/channel.h"
#include "engine/exception.h"
#include "engine/future.h"
#include "engine/task_scope.h"
#include "engine/vm.h"
#include "scheduler/scheduler.h"
#include "scheduler/trace_recorder.h"

namespace weft {

ScriptTask::ScriptTask(Runtime& runtime, Actor* actor, Value callable, std::vector<Value> args,
                       bool has_keywords, Value future)
    : runtime_(runtime),
      actor_(actor),
      callable_(std::move(callable)),
      args_(std::move(args)),
      has_keywords_(has_keywords),
      future_(std::move(future)) {}

ScriptTask::~ScriptTask() {
  // Rule 5: a suspended task nobody can wake any more is deleted listed.
  if (suspended_link_.listed) runtime_.suspended_tasks().remove(*this);
}

Value ScriptTask::spawn(Runtime& runtime, Value callable, std::vector<Value> args,
                        bool has_keywords, const Proto* origin_proto, uint32_t origin_pc,
                        std::vector<std::shared_ptr<TaskScope>> scopes) {
  Value future = make_future(runtime);
  future.as<Future>()->set_origin(origin_proto, origin_pc);
  return start(runtime, std::move(future), std::move(callable), std::move(args), has_keywords,
               std::move(scopes));
}

Value ScriptTask::spawn_callback(Runtime& runtime, Value callable, std::vector<Value> args,
                                 const Value& function) {
  Value future = make_future(runtime);
  if (function.is(ObjType::Closure)) {
    future.as<Future>()->set_origin_definition(function.as<Closure>()->proto());
  } else if (function.is(ObjType::Native)) {
    const int64_t index = runtime.find_builtin(function.as<Native>()->name());
    if (index >= 0) future.as<Future>()->set_origin_builtin(static_cast<uint32_t>(index));
  }
  return start(runtime, std::move(future), std::move(callable), std::move(args), false, {});
}

Value ScriptTask::spawn_service_keeper(Runtime& runtime, Value callable, std::vector<Value> args,
                                       const char* kind) {
  return start(runtime, make_future(runtime), std::move(callable), std::move(args), false, {},
               kind);
}

Value ScriptTask::start(Runtime& runtime, Value future, Value callable, std::vector<Value> args,
                        bool has_keywords, std::vector<std::shared_ptr<TaskScope>> scopes,
                        const char* kept_service) {
  Future* f = future.as<Future>();
  TaskRef task = TaskRef::adopt(
      new ScriptTask(runtime, nullptr, std::move(callable), std::move(args), has_keywords, future));
  auto* script = static_cast<ScriptTask*>(task.get());
  script->kept_service_ = kept_service;
  f->set_task(task);  // rule 4 of future.h: before the future is shared
  bool cancel_at_once = false;
  for (auto& scope : scopes) cancel_at_once |= scope->add_child(future);
  script->member_of_ = std::move(scopes);
  runtime.scheduler().spawn(*task);
  // After the spawn: a cancel wakes the task, which must be scheduled.
  if (cancel_at_once) (void)f->cancel();
  return future;
}

TaskRef ScriptTask::make_activation(Runtime& runtime, Actor& actor) {
  auto* task = new ScriptTask(runtime, &actor, Value(), {}, false, Value());
  // Relaxed: the spawn that follows publishes it to the first run.
  task->activated_.store(true, std::memory_order_relaxed);
  return TaskRef::adopt(task);
}

AddWaiterResult ScriptTask::wait_for(Future& future) {
  if (waker_.in_use() && waiting_on_ == &future && !waker_.withdrawn()) {
    return AddWaiterResult::Registered;  // a spurious run (rule 2)
  }
  if (extra_waker_ != nullptr) {
    // Only an armed node is still in its promise's list, so only then is
    // its promise alive and the address comparison meaningful (a fired
    // node's future may be freed and its address reused by this one).
    if (!extra_waker_->armed()) {
      drop_extra_waker();
    } else if (extra_waiting_on_ == &future) {
      return AddWaiterResult::Registered;  // a spurious run
    }
  }
  if (!waker_.in_use()) {
    waiting_on_ = &future;
    return waker_.register_on(future.core(), *this);
  }
  // The embedded node still belongs to a promise that has not settled (the
  // task was cancelled while waiting on it, and withdrew it; a withdrawn
  // node may be dropped by a pruner at any time, so it cannot be taken
  // back, even to await the same future again): wait with a node of its
  // own.
  drop_extra_waker();
  DetachableTaskWaker* node = DetachableTaskWaker::create(*this);
  AddWaiterResult result = node->arm(future.core());
  if (result == AddWaiterResult::AlreadySettled) {
    (void)node->detach();
    return result;
  }
  extra_waker_ = node;
  extra_waiting_on_ = &future;
  return result;
}

void ScriptTask::abandon_wait() {
  if (waker_.in_use()) waker_.withdraw();
  drop_extra_waker();
}

void ScriptTask::drop_extra_waker() {
  if (extra_waker_ == nullptr) return;
  (void)extra_waker_->detach();  // promise.h rule 8: exactly once
  extra_waker_ = nullptr;
  extra_waiting_on_ = nullptr;
}

AddWaiterResult ScriptTask::wake_on_settle(Future& future) {
  DetachableTaskWaker* node = DetachableTaskWaker::create(*this);
  AddWaiterResult result = node->arm(future.core());
  if (result == AddWaiterResult::AlreadySettled) {
    (void)node->detach();  // promise.h rule 8: exactly once
    return result;
  }
  if (!select_wakers_) select_wakers_ = std::make_unique<std::vector<DetachableWaiter*>>();
  select_wakers_->push_back(node);
  return result;
}

void ScriptTask::end_park(bool leaving) {
  if (parked_on_.is_nil()) return;
  bool claimed = !parker_.disarm(park_epoch_);
  if (select_wakers_) {
    for (DetachableWaiter* node : *select_wakers_) (void)node->detach();
    select_wakers_->clear();
  }
  Value on = std::move(parked_on_);
  parked_on_ = Value();
  if (!claimed || !(leaving || park_kind_ == ParkKind::Select)) return;
  // Rule 4: a wake meant to hand over an item or a slot goes to the next
  // waiter, since this task will not (or may not) take it.
  if (on.is(ObjType::Channel)) {
    on.as<Channel>()->core().pass_on();
    return;
  }
  if (on.is(ObjType::Array)) {
    for (const Value& item : on.as<Array>()->snapshot()) {
      if (item.is(ObjType::Channel)) item.as<Channel>()->core().pass_on();
    }
  }
}

std::string ScriptTask::origin_description() const {
  if (kept_service_ != nullptr)
    return "task that keeps the " + std::string(kept_service_) + " running";
  return future_.is(ObjType::Future) ? future_.as<Future>()->origin_description() : std::string();
}

namespace {

bool is_out_of_memory(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::bad_alloc&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

RunResult ScriptTask::run(std::uint32_t budget) {
  // Rule 5: before anything a report reads can change.
  if (suspended_link_.listed) runtime_.suspended_tasks().remove(*this);
  try {
    Vm vm(runtime_);
    if (actor_ != nullptr) return run_activation(vm, budget);
    if (!started_) {
      started_ = true;
      vm.start(fiber_, callable_, std::move(args_), has_keywords_);
      callable_ = Value();
      args_.clear();
    }
    switch (vm.run(fiber_, budget, this)) {
      case RunStatus::Completed:
        finish(false, std::move(fiber_.result));
        return RunResult::Completed;
      case RunStatus::Failed:
        finish(true, std::move(fiber_.exception));
        return RunResult::Completed;
      case RunStatus::Yielded:
        return RunResult::Yielded;
      case RunStatus::Suspended:
        runtime_.flush_out_if_pending();  // output before a wait shows now
        list_as_suspended();
        return RunResult::Suspended;
    }
  } catch (const ExitRequest& exit) {
    runtime_.request_exit(exit.code);
    finish(true, make_exception(ExcClass::CancellationException, "the program exited"));
  } catch (...) {
    // run() must not throw (task.h rule 7): anything unexpected (memory
    // running out outside the interpreter's own handlers) fails the task
    // rather than taking the process down; if even that cannot be done,
    // the process ends with a message, its output written.
    try {
      const bool out_of_memory = is_out_of_memory(std::current_exception());
      finish(true, make_exception(ExcClass::RuntimeException,
                                  out_of_memory ? "out of memory" : "internal error in task"));
    } catch (...) {
      runtime_.fail_fatally("weft: out of memory; the program stops\n");
    }
  }
  return RunResult::Completed;
}

namespace {

// A dormant activation keeps a register stack this small for its next
// message, and frees a larger one.
constexpr std::size_t kDormantStackSlots = 32;

bool is_cancellation(const Value& exception) {
  return exception.is(ObjType::Exception) &&
         exception.as<Exception>()->cls() == ExcClass::CancellationException;
}

}  // namespace

RunResult ScriptTask::run_activation(Vm& vm, std::uint32_t budget) {
  if (!holds_actor_) {
    // Rule 7a/b: a spurious run finds nothing and stays dormant. Acquire:
    // pairs with the activator's release store (and the reference it took
    // before). A load that misses a store being made now is not lost: the
    // activator's wake, which follows its store, finds this run RUNNING and
    // has the task run again (task.h rule 2), and that run's
    // transition_to_running acquires the store.
    if (!activated_.load(std::memory_order_acquire)) return RunResult::Dormant;
    // Rule 7e: a plain store, not an exchange (a locked instruction per
    // activation). Relaxed: it publishes nothing; the next run of this task
    // sees it through the state word, and the next activator's store
    // follows it through the mailbox lock.
    activated_.store(false, std::memory_order_relaxed);
    // The reference the activator took (actor.h rule 6).
    Value actor = Value::adopt(actor_);
    holds_actor_ = true;
    if (actor_context_.is_nil()) {
      actor_context_ = Value::adopt(new ActorContext(std::move(actor), this));
    } else {
      actor_context_.as<ActorContext>()->attach_actor(std::move(actor));
    }
  }
  // One budget for the run's handlers (rule 7): a handler's loops and
  // calls spend it as a task's do, and each message costs one more unit.
  auto left = static_cast<int64_t>(budget);
  for (;;) {
    if (handling_) {
      switch (vm.run(fiber_, left, this)) {
        case RunStatus::Yielded:
          return RunResult::Yielded;
        case RunStatus::Suspended:
          runtime_.flush_out_if_pending();
          list_as_suspended();
          return RunResult::Suspended;
        case RunStatus::Completed:
          end_handler(false);
          break;
        case RunStatus::Failed:
          if (cancel_requested() && is_cancellation(fiber_.exception)) {
            // The program is ending (its tasks are being cancelled): the
            // activation ends with the cancellation, not as a failure.
            finish(false, Value());
            return RunResult::Completed;
          }
          end_handler(true);
          break;
      }
      left = vm.budget_left() - 1;
      if (left <= 0) return RunResult::Yielded;
    }
    switch (actor_->next(/*may_idle=*/lingered_ || !worth_lingering())) {
      case Actor::Next::Message:
        if (lingered_) linger_paid_ = true;
        lingered_ = false;
        start_handler(vm);
        break;
      case Actor::Next::Empty:
        lingered_ = true;
        return RunResult::Lingered;
      case Actor::Next::Idle:
        if (lingered_) linger_paid_ = false;
        lingered_ = false;
        return go_dormant();
      case Actor::Next::Finished:
        finish(false, Value());
        return RunResult::Completed;
    }
  }
}

bool ScriptTask::worth_lingering() {
  // Every 16th time regardless, to notice when lingering pays again.
  return linger_paid_ || (++lingers_skipped_ & 15) == 0;
}

void ScriptTask::start_handler(Vm& vm) {
  // The ctx stays in its register from one message to the next (and comes
  // back in args[0]), so passing it costs no reference count.
  Value args[] = {std::move(actor_context_), actor_->take_message(), actor_->take_state()};
  vm.start_again(fiber_, actor_->handler(), args);
  actor_context_ = args[0].is_nil() ? fiber_.stack[1] : std::move(args[0]);
  handling_ = true;
}

void ScriptTask::end_handler(bool failed) {
  handling_ = false;
  if (!failed) {
    actor_->handled(std::move(fiber_.result));
    return;
  }
  // What the failed call left open is closed, as at the end of a task.
  for (auto& scope : open_scopes_) (void)scope->abort();
  open_scopes_.clear();
  abandon_wait();
  end_park(true);
  actor_->failed(std::move(fiber_.exception));
}

RunResult ScriptTask::go_dormant() {
  // An idle actor keeps no message or state of its last call alive; the
  // handler and the ctx stay in their registers for the next message
  // (Vm::start_again then counts neither again). A small stack is cleared
  // in place, so that the next message finds its registers made.
  std::vector<Value>& stack = fiber_.stack;
  if (stack.capacity() > kDormantStackSlots) {
    stack.clear();
    stack.shrink_to_fit();
  } else {
    fiber_.drop_references(2, stack.size());
  }
  fiber_.result = Value();
  fiber_.exception = Value();
  auto* context = actor_context_.as<ActorContext>();
  const bool in_register =
      stack.size() >= 2 && stack[1].is(ObjType::ActorContext) && stack[1].as_object() == context;
  Value actor;
  if (context->held_only_by(in_register ? 2 : 1)) {
    actor = context->detach_actor();
  } else {
    // Kept elsewhere: it stays with the actor and can no longer reply.
    context->disown();
    if (in_register) stack[1] = Value();
    actor_context_ = Value();
  }
  holds_actor_ = false;
  actor = Value();  // rule 7c: last, since it may free the actor
  return RunResult::Dormant;
}

void ScriptTask::list_as_suspended() {
  // The futures are alive here: the fiber's AWAIT holds the one it waits
  // for in a register, and a select's wakers keep theirs.
  const Future* awaited = nullptr;
  if (!parked_on_.is_nil()) {
    wait_kind_ = WaitKind::Park;
  } else if (extra_waker_ != nullptr && extra_waker_->armed()) {
    awaited = extra_waiting_on_;
  } else if (waker_.in_use() && !waker_.withdrawn()) {
    awaited = waiting_on_;
  }
  if (awaited != nullptr) {
    wait_kind_ = WaitKind::Future;
    awaited_origin_proto_ = awaited->origin_proto();
    awaited_origin_pc_ = awaited->origin_pc();
    awaited_scope_join_ = awaited->is_scope_join();
  } else if (parked_on_.is_nil()) {
    wait_kind_ = WaitKind::Wake;
  }
  suspended_since_ = std::chrono::steady_clock::now();
  runtime_.suspended_tasks().add(*this);
}

TraceTag* ScriptTask::trace_tag(TraceRecorder& recorder) noexcept {
  if (trace_tag_) return trace_tag_.get();
  try {
    // First call: by the spawner, while callable_ is still here.
    auto tag = std::make_unique<TraceTag>();
    std::string name = "task";
    if (actor_ != nullptr) {
      name = "actor " + actor_->origin();
    } else if (callable_.is(ObjType::Closure)) {
      const Proto* proto = callable_.as<Closure>()->proto();
      std::string where = origin();
      if (where.empty() && proto->source) where = proto->source->name;
      name = proto->name + " " + where;
    } else if (callable_.is(ObjType::Native)) {
      name = callable_.as<Native>()->name();
    }
    tag->name = recorder.intern(name);
    trace_tag_ = std::move(tag);
  } catch (...) {
    return nullptr;  // out of memory: this task goes untraced
  }
  return trace_tag_.get();
}

std::string ScriptTask::origin() const {
  // An activation is listed only while it holds its actor (rule 7).
  if (actor_ != nullptr) return actor_->origin();
  return future_.is(ObjType::Future) ? future_.as<Future>()->origin() : std::string();
}

namespace {

std::string describe_channel(Channel& channel) {
  ChannelCore<Value>& core = channel.core();
  std::string capacity = core.capacity() == 0 ? std::string("unbounded")
                                              : "capacity " + std::to_string(core.capacity());
  return "a channel (" + capacity + ", " + std::to_string(core.size()) + " queued)";
}

}  // namespace

std::string ScriptTask::describe_wait() const {
  if (kept_service_ != nullptr) return "its .stop";
  switch (wait_kind_) {
    case WaitKind::Future: {
      if (awaited_scope_join_) return "the tasks of its scope to end";
      if (awaited_origin_proto_ == nullptr) {
        return "a future no task computes (a timer, I/O, a promise or an actor reply)";
      }
      SourceLoc loc = awaited_origin_proto_->location_at(awaited_origin_pc_);
      return "the task started at " +
             (awaited_origin_proto_->source ? awaited_origin_proto_->source->name
                                            : std::string("?")) +
             ":" + std::to_string(loc.line);
    }
    case WaitKind::Park:
      if (park_kind_ == ParkKind::Select) {
        std::size_t channels =
            parked_on_.is(ObjType::Array) ? parked_on_.as<Array>()->snapshot().size() : 0;
        return "a select over " + std::to_string(channels) + " channel(s)";
      }
      if (!parked_on_.is(ObjType::Channel)) return "a channel";
      return std::string(park_kind_ == ParkKind::Send ? "a send on " : "a receive from ") +
             describe_channel(*parked_on_.as<Channel>());
    case WaitKind::Wake:
      break;
  }
  return "a wake (it has been woken and not yet run)";
}

std::vector<std::string> ScriptTask::stack() const {
  return stack_lines(fiber_);
}

void ScriptTask::finish(bool failed, Value result) {
  if (future_.is(ObjType::Future)) {
    Future* f = future_.as<Future>();
    Value outcome = result;
    if (f->close_for_cancel()) {
      f->settle_cancelled();  // Future rule 6: whatever the task gave
    } else if (failed) {
      (void)f->fail(std::move(result));
    } else {
      (void)f->complete(std::move(result));
    }
    // A task whose future was cancelled has not failed (TaskScope rule 7).
    const Outcome settled = f->outcome();
    bool scope_failure = failed && settled == Outcome::Failure;
    if (scope_failure) runtime_.count(RuntimeEvent::TaskFailed);
    if (settled == Outcome::Cancelled) runtime_.count(RuntimeEvent::TaskCancelled);
    for (auto& scope : member_of_) scope->child_ended(scope_failure, outcome);
    member_of_.clear();
  }
  // Scopes this task opened but never closed (it ended by an exception
  // that skipped their finally, e.g. exit) are aborted so their children
  // are not left waiting for a join.
  for (auto& scope : open_scopes_) (void)scope->abort();
  open_scopes_.clear();
  abandon_wait();
  end_park(true);
  // The fiber's memory goes now, not when the last reference to the task
  // (its future may keep it for long) is dropped.
  fiber_.release();
  future_ = Value();
  handling_ = false;
  holds_actor_ = false;
  // Rule 7: last, since it may free the actor.
  actor_context_ = Value();
}

}  // namespace weft
