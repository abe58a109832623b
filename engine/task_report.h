// Reports of what the suspended script tasks are doing: the deadlock
// report ("deadlock: N tasks waiting forever", Go's rule) and the task dump
// of kill -QUIT and --dump-tasks-after. Both read the runtime's
// SuspendedTasks (engine/suspended_tasks.h) and may run on any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "engine/runtime.h"
#include "engine/value.h"

namespace weft {

struct SuspendedTaskReport {
  std::string text;       // one entry per task, oldest wait first
  std::size_t count = 0;  // tasks listed
};

// Every suspended task: where it was started, what it waits for, for how
// long, and its stack.
SuspendedTaskReport report_suspended_tasks(Runtime& runtime);

// Cancels every suspended task (through its future, or directly for an
// actor's activation, which has none), once they are known to wait for
// ever.
void cancel_suspended_tasks(Runtime& runtime);

// For kill -QUIT and --dump-tasks-after: the live, running and suspended
// counts, then report_suspended_tasks. The program goes on.
std::string dump_tasks(Runtime& runtime);

}  // namespace weft
