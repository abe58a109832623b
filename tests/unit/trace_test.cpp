// The trace recorder on a real Scheduler: tasks spawned, suspended and
// woken from workers and from an outside thread (also under
// ThreadSanitizer in CI); the JSON parses and its counts are exact.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "scheduler/promise.h"
#include "scheduler/scheduler.h"
#include "scheduler/task.h"
#include "scheduler/task_waker.h"
#include "scheduler/trace_recorder.h"
#include "temp_dir.h"

namespace {

using weft::AddWaiterResult;
using weft::Outcome;
using weft::PromiseCore;
using weft::RunResult;
using weft::Scheduler;
using weft::SchedulerOptions;
using weft::Task;
using weft::TaskRef;
using weft::TaskWaker;
using weft::TraceRecorder;
using weft::TraceTag;

// Suspends once on `gate`, then completes.
class TracedTask final : public Task {
 public:
  explicit TracedTask(PromiseCore& gate) : gate_(gate) {}
  TraceTag* trace_tag(TraceRecorder& recorder) noexcept override {
    if (tag_.name == 0) tag_.name = recorder.intern("traced task");
    return &tag_;
  }
  RunResult run(std::uint32_t) override {
    if (runs_++ == 0 && waker_.register_on(gate_, *this) == AddWaiterResult::Registered) {
      return RunResult::Suspended;
    }
    return RunResult::Completed;
  }

 private:
  PromiseCore& gate_;
  TraceTag tag_;
  int runs_ = 0;
  TaskWaker waker_;
};

// Writes the recorder's JSON to a temporary file and parses it back.
rapidjson::Document written_trace(const TraceRecorder& recorder) {
  weft::testing::TempDir dir;
  const std::string path = dir.path() + "/trace.json";
  std::string error;
  EXPECT_TRUE(recorder.write_json(path, error)) << error;
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  rapidjson::Document document;
  document.Parse(text.str().c_str());
  EXPECT_FALSE(document.HasParseError());
  return document;
}

TEST(Trace, SegmentsAndFlowsOfARealSchedulerAreExact) {
  constexpr int kTasks = 500;
  TraceRecorder recorder(2);
  PromiseCore gate;
  {
    SchedulerOptions options;
    options.workers = 2;
    options.trace = &recorder;
    Scheduler scheduler(options);
    std::vector<TaskRef> tasks;
    for (int i = 0; i < kTasks; ++i) {
      tasks.push_back(weft::make_task<TracedTask>(gate));
      scheduler.spawn(tasks.back());
    }
    scheduler.wait_until_quiescent();
    std::thread settler([&] { ASSERT_TRUE(gate.try_settle(Outcome::Success)); });
    settler.join();
    scheduler.wait_for_all_tasks_ended();
  }
  rapidjson::Document document = written_trace(recorder);
  const auto& events = document["traceEvents"];
  int segments = 0;
  std::map<std::uint64_t, int> flow_starts;
  std::map<std::uint64_t, int> flow_ends;
  std::map<int, std::string> tracks;
  for (const auto& e : events.GetArray()) {
    std::string ph = e["ph"].GetString();
    if (ph == "X") {
      ++segments;
      EXPECT_STREQ(e["name"].GetString(), "traced task");
      EXPECT_GE(e["dur"].GetDouble(), 0.0);
    } else if (ph == "s") {
      ++flow_starts[e["id"].GetUint64()];
    } else if (ph == "f") {
      ++flow_ends[e["id"].GetUint64()];
    } else if (ph == "M" && std::string(e["name"].GetString()) == "thread_name") {
      tracks[e["tid"].GetInt()] = e["args"]["name"].GetString();
    }
  }
  // Each task: a spawn flow and a first segment, a wake flow and a second.
  EXPECT_EQ(segments, 2 * kTasks);
  EXPECT_EQ(flow_starts.size(), static_cast<std::size_t>(2 * kTasks));
  EXPECT_EQ(flow_starts, flow_ends);
  for (const auto& [flow, count] : flow_starts) EXPECT_EQ(count, 1) << flow;
  EXPECT_EQ(tracks[0], "worker 0");
  EXPECT_EQ(tracks[static_cast<int>(recorder.io_track())], "I/O");
}

TEST(Trace, IoSlicesAndNamesAreEscaped) {
  TraceRecorder recorder(2);
  std::uint32_t name = recorder.intern("read \"a\\b\"\n");
  EXPECT_EQ(recorder.intern("read \"a\\b\"\n"), name);
  recorder.io_slice(name, 10, 2010);
  rapidjson::Document document = written_trace(recorder);
  bool found = false;
  for (const auto& e : document["traceEvents"].GetArray()) {
    if (std::string(e["ph"].GetString()) != "X") continue;
    found = true;
    EXPECT_STREQ(e["name"].GetString(), "read \"a\\b\"\n");
    EXPECT_EQ(e["tid"].GetUint(), recorder.io_track());
    EXPECT_DOUBLE_EQ(e["dur"].GetDouble(), 2.0);
  }
  EXPECT_TRUE(found);
  weft::testing::TempDir dir;
  std::string error;
  EXPECT_FALSE(recorder.write_json(dir.path() + "/missing/trace.json", error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
