#include "engine/task_scope.h"

#include <mutex>

#include "engine/future.h"

namespace weft {

void TaskScope::add_child(const Value& future) {
  future.as<Future>()->mark_handled();  // the scope reports its failures
  std::lock_guard guard(lock_);
  children_.push_back(future);
  ++live_;
}

void TaskScope::child_ended(bool failed, const Value& exception) {
  std::vector<Value> to_cancel;
  Value join;
  Value join_result;
  bool settle_join = false;
  {
    std::lock_guard guard(lock_);
    --live_;
    if (failed && first_failure_.is_nil() && !aborted_) {
      first_failure_ = exception;  // rule 3
      to_cancel = children_;
    }
    if (closed_ && live_ == 0 && !join_.is_nil()) {
      settle_join = true;
      join = join_;
      join_result = aborted_ ? Value() : first_failure_;
    }
  }
  for (Value& child : to_cancel) (void)child.as<Future>()->cancel();
  if (settle_join) {
    Future* f = join.as<Future>();
    if (join_result.is_nil()) {
      (void)f->complete(Value());
    } else {
      (void)f->fail(join_result);
    }
  }
}

Value TaskScope::close_locked_then_settle(bool aborting) {
  Value join = make_future(runtime_);
  std::vector<Value> to_cancel;
  Value result;
  bool settle_now = false;
  {
    std::lock_guard guard(lock_);
    closed_ = true;
    if (aborting) {
      aborted_ = true;
      to_cancel = children_;
    }
    join_ = join;
    if (live_ == 0) {
      settle_now = true;
      result = aborted_ ? Value() : first_failure_;
    }
  }
  for (Value& child : to_cancel) (void)child.as<Future>()->cancel();
  if (settle_now) {
    Future* f = join.as<Future>();
    if (result.is_nil()) {
      (void)f->complete(Value());
    } else {
      (void)f->fail(result);
    }
  }
  return join;
}

Value TaskScope::close() { return close_locked_then_settle(false); }
Value TaskScope::abort() { return close_locked_then_settle(true); }

}  // namespace weft
