// The --stats table: what the scheduler, the runtime and the I/O thread
// counted during a run, with peak memory and time, formatted for stderr at
// exit. Counters are per worker and summed here (scheduler.h,
// "Statistics"), so the totals are exact once the program's tasks have
// ended.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "engine/runtime.h"

namespace weft {

struct RunStats {
  std::uint64_t tasks_spawned = 0;
  std::uint64_t tasks_completed = 0;
  std::uint64_t tasks_failed = 0;
  std::uint64_t tasks_cancelled = 0;
  std::uint64_t tasks_abandoned = 0;  // suspended when their last reference went
  std::uint64_t peak_live = 0;
  std::uint64_t peak_suspended = 0;
  std::uint64_t runs = 0;
  std::uint64_t steals = 0;  // runs on another worker than the one that queued them
  std::uint64_t preemptions = 0;
  std::uint64_t wakes = 0;
  std::uint64_t promises_settled = 0;
  std::uint64_t callbacks_run = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t timers = 0;
  std::uint64_t file_operations = 0;
  std::uint64_t processes = 0;
  std::uint64_t tcp_operations = 0;
  std::uint64_t http_requests_sent = 0;
  std::uint64_t http_requests_served = 0;
  std::uint64_t peak_resident_kb = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;
  unsigned workers = 0;
};

// Collects the counters now; `started` is when the run began.
RunStats collect_run_stats(Runtime& runtime, std::chrono::steady_clock::time_point started);

// The table, one line per group, every figure labelled.
std::string format_run_stats(const RunStats& stats);

}  // namespace weft
