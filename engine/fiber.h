// The interpreter state of one task: its register stack, its call frames
// and its exception handlers. A fiber is owned by exactly one task and is
// touched only by the worker currently running that task; the scheduler's
// hand-off (issue: concurrency core) is what orders one worker's writes
// before the next worker's reads.
//
// Script-to-script calls push a Frame here and never recurse on the C++
// stack, so a fiber can stop at any call depth and resume on any thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/array_cursor.h"
#include "engine/function.h"
#include "engine/inline_vector.h"
#include "engine/value.h"

namespace weft {

struct Frame {
  Closure* closure;   // borrowed: the register below `base` holds it
  const Instr* pc;    // next instruction (saved when another frame runs)
  uint32_t base;      // index of R[0] in the fiber's stack
  uint32_t handlers;  // handler-stack height when the frame was entered
};

struct Handler {
  uint32_t frame;   // index of the frame that pushed it
  uint32_t target;  // instruction index to continue at
  uint16_t exception_register;
};

class Fiber {
 public:
  static constexpr uint32_t kMaxFrames = 200000;
  static constexpr uint32_t kMaxStackSlots = 1u << 24;

  std::vector<Value> stack;
  InlineVector<Frame, 1> frames;  // the entry frame needs no allocation
  std::vector<Handler> handlers;

  Value result;     // set when the fiber completes
  Value exception;  // set when it fails

  Fiber() = default;
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
  ~Fiber() { settle_open_frames(); }

  // Engine/array_cursor.h rule 4: the registers of `frame` are about to be
  // left (unwound, or dropped with the fiber).
  void settle_lent_items(const Frame& frame) {
    const std::size_t end =
        std::min<std::size_t>(stack.size(), frame.base + frame.closure->proto()->num_registers);
    if (frame.base < end) {
      settle_lent_loop_variables(stack.data() + frame.base, stack.data() + end);
    }
  }
  // The same for every frame still open (a task that ends or is dropped
  // midway).
  void settle_open_frames() {
    for (std::size_t i = 0; i < frames.size(); ++i) settle_lent_items(frames[i]);
  }

  // Drops the references that the stack slots [first, end) hold. Other
  // values stay: no code reads a register before writing it, since a
  // call's registers above its arguments hold what earlier calls left.
  void drop_references(std::size_t first, std::size_t end) {
    Value* const stop = stack.data() + end;
    for (Value* slot = stack.data() + first; slot < stop; ++slot) {
      if (slot->is_object()) *slot = Value();
    }
  }

  // Frees all of it: the task has ended, and its future may keep it long.
  void release() {
    settle_open_frames();
    std::vector<Value>().swap(stack);
    frames.reset();
    std::vector<Handler>().swap(handlers);
    result = Value();
    exception = Value();
  }
};

}  // namespace weft
