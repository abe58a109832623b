#include "engine/task_report.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/future.h"
#include "engine/script_task.h"
#include "scheduler/scheduler.h"

namespace weft {

namespace {

struct Entry {
  std::chrono::steady_clock::time_point since;
  std::string text;
};

std::string format_seconds(std::chrono::steady_clock::duration waited) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s", std::chrono::duration<double>(waited).count());
  return buffer;
}

// "the ... waits for ...": who the task is and what it waits for.
std::string describe_waiting_task(const ScriptTask& task) {
  if (task.is_activation()) {
    return "the actor started at " + task.origin() + " waits for " + task.describe_wait();
  }
  const std::string origin = task.origin_description();
  return (origin.empty() ? "the main program" : "the " + origin) + " waits for " +
         task.describe_wait();
}

}  // namespace

SuspendedTaskReport report_suspended_tasks(Runtime& runtime) {
  const auto now = std::chrono::steady_clock::now();
  std::vector<Entry> entries;
  // suspended_tasks.h rule 3: only reads of the listed tasks in here.
  runtime.suspended_tasks().for_each([&](ScriptTask& task) {
    std::string text = describe_waiting_task(task);
    text += " (for " + format_seconds(now - task.suspended_since()) + ")\n";
    for (const std::string& line : task.stack()) text += "    at " + line + "\n";
    entries.push_back(Entry{task.suspended_since(), std::move(text)});
  });
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.since < b.since; });
  SuspendedTaskReport report;
  report.count = entries.size();
  for (const Entry& entry : entries) report.text += "  " + entry.text;
  return report;
}

void cancel_suspended_tasks(Runtime& runtime) {
  std::vector<Value> futures;
  std::vector<TaskRef> activations;  // an actor's task has no future
  runtime.suspended_tasks().for_each([&](ScriptTask& task) {
    Value future = task.future();
    if (!future.is_nil()) {
      futures.push_back(std::move(future));
    } else if (task.is_activation()) {
      activations.push_back(TaskRef::share(&task));
    }
  });
  // Outside the list's lock: a cancel wakes the task, which unlists itself.
  for (Value& future : futures) (void)future.as<Future>()->cancel();
  for (TaskRef& task : activations) task->cancel();
}

std::string dump_tasks(Runtime& runtime) {
  Scheduler& scheduler = runtime.scheduler();
  const std::uint64_t live = scheduler.live_tasks();
  SuspendedTaskReport suspended = report_suspended_tasks(runtime);
  // Read at slightly different moments: a task may move between the two.
  const std::uint64_t other = live > suspended.count ? live - suspended.count : 0;
  std::string out = "weft: task dump: " + std::to_string(live) +
                    (live == 1 ? " live task: " : " live tasks: ") + std::to_string(other) +
                    " running or ready, " + std::to_string(suspended.count) + " suspended\n";
  out += suspended.text;
  return out;
}

}  // namespace weft
