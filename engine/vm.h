// The interpreter loop: runs a fiber until it completes, fails, or spends
// its instruction budget.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/fiber.h"
#include "engine/runtime.h"

namespace weft {

enum class RunStatus : uint8_t {
  Completed,  // fiber.result holds the value
  Failed,     // fiber.exception holds an uncaught Exception
  Yielded,    // budget spent; call run() again to continue
  Suspended,  // awaiting a pending future; the task is registered as its waiter
};

class ScriptTask;

// The fiber's call stack, innermost first: "name (file:line:column)", with
// the middle of a very deep stack elided. What exception traces show.
std::vector<std::string> stack_lines(const Fiber& fiber);

class Vm {
 public:
  explicit Vm(Runtime& runtime) : runtime_(runtime) {}

  // Prepares `fiber` to call `callable` with `args` (a Closure or Native).
  // With `has_keywords`, the last of `args` is a map of keyword arguments.
  void start(Fiber& fiber, const Value& callable, std::vector<Value> args,
             bool has_keywords = false);
  // The same for a fiber that completed its last call and is used for
  // another (an actor's handler, message after message): its stack keeps
  // the memory it has. `args` are moved from, except one that is the same
  // value its register holds already (the caller keeps it).
  void start_again(Fiber& fiber, const Value& callable, std::span<Value> args);

  // Runs until the fiber completes or fails, until roughly `budget`
  // backward jumps and calls have happened, or until it awaits a pending
  // future (only when `task` runs it: the task is then its waiter).
  [[nodiscard]] RunStatus run(Fiber& fiber, int64_t budget, ScriptTask* task = nullptr);
  // After run() gave Completed or Failed: what was left of its budget, so
  // that an actor's activation runs handler after handler on one budget.
  [[nodiscard]] int64_t budget_left() const { return budget_left_; }

  // Convenience for single-threaded callers: runs to the end.
  [[nodiscard]] RunStatus run_to_end(Fiber& fiber);

 private:
  void enter(Fiber& fiber, const Value& callable, std::span<Value> args, bool has_keywords);
  // With the callable and its `count` arguments in place.
  void enter(Fiber& fiber, const Value& callable, uint32_t count, bool has_keywords);

  Runtime& runtime_;
  int64_t budget_left_ = 0;
};

}  // namespace weft
