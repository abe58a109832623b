#include "engine/task_scope.h"

#include <mutex>

#include "engine/future.h"

namespace weft {

namespace {

void settle_join(const Value& join, const Value& failure) {
  Future* f = join.as<Future>();
  if (failure.is_nil()) {
    (void)f->complete(Value());
  } else {
    (void)f->fail(failure);
  }
}

}  // namespace

bool TaskScope::add_child(const Value& future) {
  future.as<Future>()->mark_handled();  // the scope reports its failures
  std::lock_guard guard(lock_);
  children_.push_back(future);
  ++live_;
  return aborted_ || !first_failure_.is_nil();  // rule 5
}

void TaskScope::child_ended(bool failed, const Value& exception) {
  std::vector<Value> to_cancel;
  Value join;
  Value failure;
  bool settle = false;
  {
    std::lock_guard guard(lock_);
    --live_;
    if (failed && first_failure_.is_nil() && !aborted_) {
      first_failure_ = exception;  // rule 3
      to_cancel = children_;
    }
    if (closed_ && live_ == 0 && !join_.is_nil()) {
      settle = true;
      join = join_;
      failure = first_failure_;
    }
  }
  if (!to_cancel.empty()) {
    // release: pairs with take_interrupt's acquire (rule 6).
    interrupt_.store(true, std::memory_order_release);
    owner_->wake();
  }
  for (Value& child : to_cancel) (void)child.as<Future>()->cancel();
  if (settle) settle_join(join, failure);
}

Value TaskScope::close_or_abort(bool aborting) {
  std::vector<Value> to_cancel;
  Value join;
  Value failure;
  bool settle_now = false;
  {
    std::lock_guard guard(lock_);
    if (aborting && !aborted_) {
      aborted_ = true;
      to_cancel = children_;
    }
    if (join_.is_nil()) {
      join_ = make_future(runtime_);
      join_.as<Future>()->mark_scope_join();
      closed_ = true;
      settle_now = live_ == 0;
      failure = first_failure_;
    }
    join = join_;  // rule 4: a second call gives the same join
  }
  for (Value& child : to_cancel) (void)child.as<Future>()->cancel();
  if (settle_now) settle_join(join, failure);
  return join;
}

Value TaskScope::close() {
  return close_or_abort(false);
}
Value TaskScope::abort() {
  return close_or_abort(true);
}

}  // namespace weft
