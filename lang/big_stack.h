// Runs a function on a thread of its own with a large stack, and waits.
//
// The compiler is recursive over the syntax tree. The reader bounds the
// tree's depth (kMaxNesting), but a thousand nested functions, each with
// its compiler state on the stack, need more than a default 8 MB stack
// (more still under sanitizers). A dedicated stack makes the bound hold
// for every caller: the CLI's main thread, a worker, a host's thread.
#pragma once

#include <cstddef>
#include <functional>

namespace weft {

inline constexpr size_t kCompilerStackBytes = size_t{512} << 20;  // address space, not memory

// Exceptions thrown by `fn` are rethrown in the caller.
void run_with_big_stack(const std::function<void()>& fn, size_t stack_bytes = kCompilerStackBytes);

}  // namespace weft
