#include "engine/actor.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/function.h"
#include "engine/future.h"
#include "engine/map.h"
#include "engine/runtime.h"
#include "engine/script_task.h"
#include "engine/stdlib/native_args.h"
#include "engine/string.h"
#include "scheduler/scheduler.h"

namespace weft {

namespace {

Value actor_exception(const std::string& message) {
  return make_exception(ExcClass::ActorException, message);
}

}  // namespace

// ---- MonitorList -------------------------------------------------------------

bool MonitorList::add(Value callback) {
  std::lock_guard guard(lock_);
  if (ended_) return false;
  callbacks_.push_back(std::move(callback));
  return true;
}

std::vector<Value> MonitorList::end(Value reason) {
  std::lock_guard guard(lock_);
  if (ended_) return {};
  ended_ = true;
  reason_ = std::move(reason);
  return std::exchange(callbacks_, {});
}

Value MonitorList::reason() {
  std::lock_guard guard(lock_);
  return reason_;
}

void run_monitor(Runtime& runtime, const Value& callback, const Value& subject,
                 const Value& reason) {
  std::vector<Value> args;
  if (callback.is(ObjType::Closure) && callback.as<Closure>()->proto()->num_positional >= 2) {
    args.push_back(subject);
  }
  args.push_back(reason);
  (void)ScriptTask::spawn_callback(runtime, callback, std::move(args), callback);
}

// ---- Actor -------------------------------------------------------------------

Actor::Actor(Runtime& runtime, Value handler, Value initial_state, Value supervisor)
    : Obj(ObjType::Actor),
      runtime_(runtime),
      handler_(std::move(handler)),
      // The actor's own copy: a restart starts again from the state as it
      // was at the spawn, whatever the spawner changed in it since.
      initial_state_(copy_message(initial_state)),
      supervisor_(std::move(supervisor)),
      stopped_(make_future(runtime)) {
  stopped_.as<Future>()->mark_handled();
  state_ = copy_message(initial_state_);
  runtime_.register_actor(this);
  if (supervisor_.is(ObjType::Supervisor)) supervisor_.as<Supervisor>()->add_child(this);
}

Actor::~Actor() = default;

void Actor::release_children(DestroyWorklist& worklist) {
  // Rule 5: the count is zero, so the weak lists can no longer retain it.
  runtime_.unregister_actor(this);
  if (supervisor_.is(ObjType::Supervisor)) supervisor_.as<Supervisor>()->remove_child(this);
  // No activation runs (it would hold a reference): its batch is left too.
  std::vector<Envelope> queued = mailbox_.take_all();
  std::vector<Envelope> batch = mailbox_.take_batch();
  for (std::vector<Envelope>* left : {&queued, &batch}) {
    for (Envelope& envelope : *left) {
      release_into(envelope.message, worklist);
      release_into(envelope.reply, worklist);
    }
  }
  release_into(handler_, worklist);
  release_into(initial_state_, worklist);
  release_into(supervisor_, worklist);
  release_into(stopped_, worklist);
  release_into(state_, worklist);
  release_into(current_.message, worklist);
  release_into(current_.reply, worklist);
  release_into(failure_, worklist);
  release_into(failure_reply_, worklist);
  for (Value& callback : monitors_.end(Value())) release_into(callback, worklist);
  // Dormant or complete (rule 6: an active one holds this actor); the
  // handler and the ctx it keeps in its registers go with it.
  activation_ = TaskRef();
}

void Actor::release_script_values() {
  if (supervisor_.is(ObjType::Supervisor)) supervisor_.as<Supervisor>()->remove_child(this);
  supervisor_ = Value();
  // Every task has ended: a dormant activation keeps the handler in a
  // register, and goes with it.
  activation_ = TaskRef();
  (void)mailbox_.take_all();
  (void)mailbox_.take_batch();
  handler_ = Value();
  initial_state_ = Value();
  state_ = Value();
  current_ = Envelope{};
  failure_ = Value();
  failure_reply_ = Value();
  (void)monitors_.end(Value());
}

bool Actor::post(Value message, Value reply) {
  Envelope envelope{std::move(message), std::move(reply)};
  switch (mailbox_.push(envelope)) {
    case MailboxPush::Queued:
      runtime_.count(RuntimeEvent::MessageSent);
      return true;
    case MailboxPush::Activate:
      runtime_.count(RuntimeEvent::MessageSent);
      activate();
      return true;
    case MailboxPush::Refused:
      break;
  }
  if (envelope.reply.is(ObjType::Future)) {
    (void)envelope.reply.as<Future>()->fail(actor_exception("the actor has stopped"));
  }
  return false;
}

Value Actor::stop() {
  if (mailbox_.close() == MailboxPush::Activate) activate();
  return stopped_;
}

void Actor::activate() {
  retain();  // rule 6: the activation's reference, adopted by its run
  if (activation_) {
    static_cast<ScriptTask&>(*activation_).activate();
    return;
  }
  // Kept before the spawn: once it runs, the next Activate may come.
  activation_ = ScriptTask::make_activation(runtime_, *this);
  runtime_.scheduler().spawn(*activation_);
}

std::string Actor::origin() const {
  if (origin_proto_ == nullptr) return "";
  return (origin_proto_->source ? origin_proto_->source->name : std::string("?")) + ":" +
         std::to_string(origin_proto_->location_at(origin_pc_).line);
}

Actor::Next Actor::next(bool may_idle) {
  // A halt drops what is queued; the batch this activation took from the
  // mailbox before it (mailbox.h rule 3) goes the same way. Acquire pairs
  // with halt's exchange; a halt this load misses is ordered after the
  // take below, like one that came after a take under the lock.
  if (halted_.load(std::memory_order_acquire)) {
    fail_replies(mailbox_.take_batch(), "the actor stopped after a failure");
  }
  Envelope envelope;
  switch (mailbox_.take(envelope, may_idle)) {
    case MailboxTake::Item:
      // Rule 2: a one-for-all restart of a sibling restarts this one here.
      // The relaxed load spares the exchange (a locked instruction) on
      // every message; a request it misses is taken at a later message.
      if (restart_pending_.load(std::memory_order_relaxed) &&
          restart_pending_.exchange(false, std::memory_order_acq_rel)) {
        state_ = copy_message(initial_state_);
      }
      current_ = std::move(envelope);
      replied_ = false;
      return Next::Message;
    case MailboxTake::Empty:
      return Next::Empty;
    case MailboxTake::Idle:
      return Next::Idle;
    case MailboxTake::Finished:
      finish();
      return Next::Finished;
  }
  return Next::Idle;
}

void Actor::handled(Value state) {
  state_ = std::move(state);
  if (current_.reply.is(ObjType::Future) && !replied_) {
    (void)current_.reply.as<Future>()->complete(Value());
  }
  current_ = Envelope{};
}

bool Actor::reply(Value value) {
  if (replied_ || !current_.reply.is(ObjType::Future)) return false;
  replied_ = true;
  return current_.reply.as<Future>()->complete(copy_message(value));
}

void Actor::failed(Value exception) {
  Value reply;
  if (current_.reply.is(ObjType::Future) && !replied_) {
    (void)current_.reply.as<Future>()->fail(exception);
    reply = std::move(current_.reply);
  }
  current_ = Envelope{};
  if (supervisor_.is(ObjType::Supervisor)) {
    // The failure is delivered to the supervision; the caller's reply
    // future is not reported again.
    if (reply.is(ObjType::Future)) reply.as<Future>()->mark_handled();
    Supervisor::Decision decision = supervisor_.as<Supervisor>()->child_failed(*this, exception);
    if (decision == Supervisor::Decision::Restart) {
      state_ = copy_message(initial_state_);
      return;
    }
  }
  halt(std::move(exception), std::move(reply));
}

void Actor::halt(Value reason, Value reply) {
  if (halted_.exchange(true, std::memory_order_acq_rel)) return;
  {
    // Rule 4, written before the close that the finishing activation
    // observes under the mailbox lock.
    std::lock_guard guard(failure_lock_);
    failure_ = std::move(reason);
    failure_reply_ = std::move(reply);
  }
  drop_queued("the actor stopped after a failure");
  if (mailbox_.close() == MailboxPush::Activate) activate();
}

void Actor::drop_queued(const std::string& why) {
  fail_replies(mailbox_.take_all(), why);
}

void Actor::fail_replies(std::vector<Envelope> dropped, const std::string& why) {
  for (Envelope& envelope : dropped) {
    if (envelope.reply.is(ObjType::Future)) {
      (void)envelope.reply.as<Future>()->fail(actor_exception(why));
    }
  }
}

void Actor::finish() {
  Value reason;
  Value reply;
  {
    std::lock_guard guard(failure_lock_);
    reason = failure_;
    reply = std::move(failure_reply_);
  }
  alive_.store(false, std::memory_order_release);
  std::vector<Value> callbacks = monitors_.end(reason);
  const bool watched = !callbacks.empty() || supervisor_.is(ObjType::Supervisor);
  if (reply.is(ObjType::Future)) {
    // A watched actor's failure goes to its watchers; an unwatched one's
    // reached the caller, whose future reports it if nobody awaits it.
    if (watched) reply.as<Future>()->mark_handled();
  } else if (reason.is(ObjType::Exception) && !watched) {
    std::string where = origin().empty() ? "actor" : "actor started at " + origin();
    runtime_.report_unhandled("unhandled failure in " + where + ": " + describe_failure(reason));
  }
  Value self = Value::share(this);
  for (const Value& callback : callbacks) run_monitor(runtime_, callback, self, reason);
  (void)stopped_.as<Future>()->complete(Value());
  // No activation runs again (mailbox.h rule 4): what the handler and the
  // state refer to is let go now, which also breaks the cycles a handler
  // that captures its own actor makes.
  handler_ = Value();
  initial_state_ = Value();
  state_ = Value();
}

// ---- Supervisor --------------------------------------------------------------

void Supervisor::add_child(Actor* child) {
  std::lock_guard guard(lock_);
  children_.push_back(child);
}

void Supervisor::remove_child(Actor* child) {
  std::lock_guard guard(lock_);
  std::erase(children_, child);
}

std::vector<Value> Supervisor::children_retained() {
  std::vector<Value> children;
  std::lock_guard guard(lock_);
  for (Actor* child : children_) {
    if (child->try_retain()) children.push_back(Value::adopt(child));
  }
  return children;
}

std::int64_t Supervisor::restarts() {
  std::lock_guard guard(lock_);
  return restarts_;
}

Supervisor::Decision Supervisor::child_failed(Actor& child, const Value& exception) {
  bool give_up = false;
  {
    std::lock_guard guard(lock_);
    if (gave_up_) return Decision::GaveUp;
    auto now = std::chrono::steady_clock::now();
    auto window = std::chrono::duration<double>(within_);
    recent_.push_back(now);
    while (!recent_.empty() && now - recent_.front() > window) recent_.pop_front();
    if (static_cast<int>(recent_.size()) > max_restarts_) {
      gave_up_ = true;
      give_up = true;
    } else {
      ++restarts_;
    }
  }
  if (!give_up) {
    if (strategy_ == Strategy::OneForAll) {
      for (const Value& sibling : children_retained()) {
        if (sibling.as<Actor>() != &child) sibling.as<Actor>()->request_restart();
      }
    }
    return Decision::Restart;
  }
  for (const Value& sibling : children_retained()) sibling.as<Actor>()->halt(exception);
  std::vector<Value> callbacks = monitors_.end(exception);
  if (callbacks.empty()) {
    runtime_.report_unhandled(
        "unhandled failure in supervised actor (the supervisor gave up after " +
        std::to_string(max_restarts_) + " restarts): " + describe_failure(exception));
  }
  Value self = Value::share(this);
  for (const Value& callback : callbacks) run_monitor(runtime_, callback, self, exception);
  return Decision::GaveUp;
}

// ---- copy_message ------------------------------------------------------------

namespace {

bool copied_by_value(const Value& v) {
  return !(v.is(ObjType::Array) || v.is(ObjType::Map)) || v.as_object()->is_frozen();
}

}  // namespace

Value adopt_fresh_message(Value& fresh) {
  if (fresh.is(ObjType::Array) && !fresh.as_object()->is_frozen() &&
      fresh.as_object()->refcount() == 1 && fresh.as<Array>()->every(copied_by_value)) {
    return std::move(fresh);
  }
  return copy_message(fresh);
}

Value copy_message(const Value& message) {
  if (copied_by_value(message)) return message;
  if (message.is(ObjType::Array)) {
    // The common message, a flat array such as ["meet" id color]: one
    // snapshot, no bookkeeping for shared parts.
    std::vector<Value> items = message.as<Array>()->snapshot();
    if (std::all_of(items.begin(), items.end(), copied_by_value)) {
      return make_array(std::move(items));
    }
  }
  // Iterative: a message nested a million deep must not recurse (object.h
  // rule 5). `copies` keeps shared parts and cycles shared in the copy.
  std::unordered_map<Obj*, Value> copies;
  std::vector<std::pair<Value, Value>> pending;  // (original, empty copy)
  auto copy_of = [&](const Value& original) -> Value {
    if (copied_by_value(original)) return original;
    auto [it, fresh] = copies.try_emplace(original.as_object());
    if (fresh) {
      it->second = original.is(ObjType::Array) ? make_array() : make_map();
      pending.emplace_back(original, it->second);
    }
    return it->second;
  };
  Value root = copy_of(message);
  while (!pending.empty()) {
    auto [original, copy] = std::move(pending.back());
    pending.pop_back();
    if (original.is(ObjType::Array)) {
      std::vector<Value> items = original.as<Array>()->snapshot();
      for (Value& item : items) item = copy_of(item);
      copy.as<Array>()->replace_all(std::move(items));
    } else {
      Map& target = *copy.as<Map>();
      for (auto& [key, value] : original.as<Map>()->entries()) target.set(key, copy_of(value));
    }
  }
  return root;
}

}  // namespace weft
