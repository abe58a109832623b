#include "engine/run_stats.h"

#include <sys/resource.h>

#include <cstdio>

#include "scheduler/scheduler.h"

namespace weft {

namespace {

// 1234567 -> "1,234,567": the counts of a large run are read at a glance.
std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

double seconds_of(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

}  // namespace

RunStats collect_run_stats(Runtime& runtime, std::chrono::steady_clock::time_point started) {
  RunStats out;
  Scheduler& scheduler = runtime.scheduler();
  const SchedulerStats s = scheduler.stats();
  const auto event = [&](RuntimeEvent e) {
    return scheduler.client_event_total(static_cast<unsigned>(e));
  };
  out.tasks_spawned = s.spawned;
  out.tasks_completed = s.completed;
  out.tasks_abandoned = s.abandoned;
  out.tasks_failed = event(RuntimeEvent::TaskFailed);
  out.tasks_cancelled = event(RuntimeEvent::TaskCancelled);
  out.peak_live = s.peak_live;
  out.peak_suspended = s.peak_suspended;
  out.runs = s.runs;
  out.steals = s.migrated;
  out.preemptions = s.preempted;
  out.wakes = s.wakes;
  out.promises_settled = event(RuntimeEvent::PromiseSettled);
  out.callbacks_run = event(RuntimeEvent::CallbackRun);
  out.messages_sent = event(RuntimeEvent::MessageSent);
  out.timers = event(RuntimeEvent::TimerStarted);
  out.file_operations = event(RuntimeEvent::FileOperation);
  out.processes = event(RuntimeEvent::ProcessStarted);
  out.tcp_operations = event(RuntimeEvent::TcpOperation);
  out.http_requests_sent = event(RuntimeEvent::HttpRequestSent);
  out.http_requests_served = event(RuntimeEvent::HttpRequestServed);
  out.workers = scheduler.workers();
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    out.peak_resident_kb = static_cast<std::uint64_t>(usage.ru_maxrss);  // KB on Linux
    out.cpu_seconds = seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
  }
  out.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return out;
}

std::string format_run_stats(const RunStats& s) {
  std::string out = "weft stats (" + std::to_string(s.workers) + " workers)\n";
  out += "  tasks     spawned " + grouped(s.tasks_spawned) + "  completed " +
         grouped(s.tasks_completed) + "  failed " + grouped(s.tasks_failed) + "  cancelled " +
         grouped(s.tasks_cancelled) + "  abandoned " + grouped(s.tasks_abandoned) + "\n";
  out += "  peak      live " + grouped(s.peak_live) + "  suspended " + grouped(s.peak_suspended) +
         "\n";
  out += "  workers   runs " + grouped(s.runs) + "  steals " + grouped(s.steals) +
         "  preemptions " + grouped(s.preemptions) + "  wakes " + grouped(s.wakes) + "\n";
  out += "  promises  settled " + grouped(s.promises_settled) + "  callbacks run " +
         grouped(s.callbacks_run) + "\n";
  out += "  messages  sent " + grouped(s.messages_sent) + "\n";
  out += "  I/O       timers " + grouped(s.timers) + "  files " + grouped(s.file_operations) +
         "  processes " + grouped(s.processes) + "  tcp " + grouped(s.tcp_operations) +
         "  http sent " + grouped(s.http_requests_sent) + "  http served " +
         grouped(s.http_requests_served) + "\n";
  char line[160];
  std::snprintf(line, sizeof line, "  memory    peak resident %.1f MB\n",
                static_cast<double>(s.peak_resident_kb) / 1024.0);
  out += line;
  std::snprintf(line, sizeof line, "  time      wall %.3f s  cpu %.3f s\n", s.wall_seconds,
                s.cpu_seconds);
  out += line;
  return out;
}

}  // namespace weft
