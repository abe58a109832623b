// The interpreter loop: runs a fiber until it completes, fails, or spends
// its instruction budget.
#pragma once

#include <cstdint>

#include "engine/fiber.h"
#include "engine/runtime.h"

namespace weft {

enum class RunStatus : uint8_t {
  Completed,  // fiber.result holds the value
  Failed,     // fiber.exception holds an uncaught Exception
  Yielded,    // budget spent; call run() again to continue
};

class Vm {
 public:
  explicit Vm(Runtime& runtime) : runtime_(runtime) {}

  // Prepares `fiber` to call `callable` with `args` (a Closure or Native).
  void start(Fiber& fiber, const Value& callable, std::vector<Value> args);

  // Runs until the fiber completes or fails, or until roughly `budget`
  // backward jumps and calls have happened.
  [[nodiscard]] RunStatus run(Fiber& fiber, int64_t budget);

  // Convenience for single-threaded callers: runs to the end.
  [[nodiscard]] RunStatus run_to_end(Fiber& fiber);

 private:
  Runtime& runtime_;
};

}  // namespace weft
