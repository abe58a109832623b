// Micro-benchmarks of the scheduler core: the cost per task of spawning
// and completing, of settling a promise and resuming its waiter, and of
// the promise alone. Tasks here do no work, so the numbers are the
// scheduler's own overhead. The counters read "per task" (or per hop), as
// wall time divided by tasks, on the workers given as the argument.
//
//   build/release/bench/weft_microbench --benchmark_filter=Sched
//
// BM_SchedForkJoin compares WorkerSpawn::LocalDeque (task_group::run on
// the spawning worker's deque) with ::SharedQueue (task_arena::enqueue):
// "migrated" is the fraction of runs that happened on another worker than
// the spawner's; the local deque keeps a fork-join tree where it was made
// and lets idle workers steal whole subtrees.
//
// Measured on the 2-core development machine (Release, medians of 3, the
// machine shared with other builds: load average ~8, so wall times are
// ~2.5x the CPU cost; compare the rows with each other):
//
//   benchmark                       workers  per task / hop   migrated
//   ForkJoin, local deque           1        293 ns           0
//   ForkJoin, local deque           2        262 ns           0.006%
//   ForkJoin, shared queue          1        1.15 us          0
//   ForkJoin, shared queue          2        1.69 us          44%
//   SpawnFromWorker (flat fan-out)  1 / 2    0.91 / 1.41 us
//   SpawnFromOutside (enqueue)      1 / 2    1.95 / 1.65 us
//   SettleResumeChain (on workers)  1 / 2    424 / 505 ns per hop
//   SettleFromOutside               1 / 2    1.61 / 2.07 us
//   PromiseAddWaiterSettle          -        47 ns CPU
//   PromiseSettleNoWaiter           -        35 ns CPU
//
// Raw oneTBB on the same machine and load: task_arena::enqueue of an empty
// lambda from outside ~1.0-1.8 us, task_group::run from a worker ~0.4-0.6
// us; the paths from outside the arena are dominated by TBB's enqueue.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "scheduler/promise.h"
#include "scheduler/scheduler.h"
#include "scheduler/task.h"
#include "scheduler/task_waker.h"

namespace {

using weft::AddWaiterResult;
using weft::Outcome;
using weft::PromiseCore;
using weft::RunResult;
using weft::Scheduler;
using weft::SchedulerOptions;
using weft::Task;
using weft::TaskWaker;
using weft::WorkerSpawn;

benchmark::Counter per_unit(double units) {
  return benchmark::Counter(units, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ------------------------------------------------------------ spawn

class EmptyTask final : public Task {
 public:
  RunResult run(std::uint32_t) override { return RunResult::Completed; }
};

// A node of a complete binary fork-join tree; inner nodes spawn two
// children from the worker and complete.
class ForkTask final : public Task {
 public:
  explicit ForkTask(std::uint32_t levels_left) : levels_left_(levels_left) {}
  RunResult run(std::uint32_t) override {
    if (levels_left_ > 0) {
      Scheduler* scheduler = Scheduler::current();
      for (int child = 0; child < 2; ++child) {
        auto* task = new ForkTask(levels_left_ - 1);
        scheduler->spawn(*task);
        task->unref();
      }
    }
    return RunResult::Completed;
  }

 private:
  std::uint32_t levels_left_;
};

// Args: workers, policy (0 LocalDeque, 1 SharedQueue).
void BM_SchedForkJoin(benchmark::State& state) {
  constexpr std::uint32_t kDepth = 15;  // 65,535 tasks per iteration
  constexpr double kTasks = (2u << kDepth) - 1;
  const SchedulerOptions options{
      .workers = static_cast<unsigned>(state.range(0)),
      .worker_spawn = state.range(1) == 0 ? WorkerSpawn::LocalDeque : WorkerSpawn::SharedQueue};
  Scheduler scheduler(options);
  for (auto _ : state) {
    auto* root = new ForkTask(kDepth);
    scheduler.spawn(*root);
    root->unref();
    scheduler.wait_for_all_tasks_ended();
  }
  const auto stats = scheduler.stats();
  state.counters["per_task"] = per_unit(kTasks * static_cast<double>(state.iterations()));
  state.counters["migrated"] =
      static_cast<double>(stats.migrated) / static_cast<double>(stats.runs);
  state.SetLabel(state.range(1) == 0 ? "local deque" : "shared queue");
}
BENCHMARK(BM_SchedForkJoin)
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->ArgNames({"workers", "shared"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// A task spawns N empty tasks from the worker (a flat fan-out).
void BM_SchedSpawnFromWorker(benchmark::State& state) {
  constexpr int kTasks = 50'000;
  Scheduler scheduler(static_cast<unsigned>(state.range(0)));
  class FanOut final : public Task {
   public:
    RunResult run(std::uint32_t) override {
      for (int i = 0; i < kTasks; ++i) {
        auto* task = new EmptyTask();
        Scheduler::current()->spawn(*task);
        task->unref();
      }
      return RunResult::Completed;
    }
  };
  for (auto _ : state) {
    auto* root = new FanOut();
    scheduler.spawn(*root);
    root->unref();
    scheduler.wait_for_all_tasks_ended();
  }
  state.counters["per_task"] = per_unit(kTasks * static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SchedSpawnFromWorker)->Arg(1)->Arg(2)->ArgName("workers")->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The main thread (outside the arena) spawns N empty tasks: the path of a
// host thread or the I/O thread (task_arena::enqueue).
void BM_SchedSpawnFromOutside(benchmark::State& state) {
  constexpr int kTasks = 50'000;
  Scheduler scheduler(static_cast<unsigned>(state.range(0)));
  for (auto _ : state) {
    for (int i = 0; i < kTasks; ++i) {
      auto* task = new EmptyTask();
      scheduler.spawn(*task);
      task->unref();
    }
    scheduler.wait_for_all_tasks_ended();
  }
  state.counters["per_task"] = per_unit(kTasks * static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SchedSpawnFromOutside)->Arg(1)->Arg(2)->ArgName("workers")->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ------------------------------------------------------------ settle + resume

// Link i of a chain: waits on promises[i]; once resumed, settles
// promises[i + 1] (waking the next link from this worker) and completes.
struct Chain {
  std::unique_ptr<PromiseCore[]> promises;
  int length;
};

class ChainTask final : public Task {
 public:
  ChainTask(Chain* chain, int index) : chain_(chain), index_(index) {}
  RunResult run(std::uint32_t) override {
    if (!resumed_) {
      resumed_ = true;
      if (waker_.register_on(chain_->promises[index_], *this) == AddWaiterResult::Registered) {
        return RunResult::Suspended;
      }
    }
    if (index_ + 1 < chain_->length) {
      (void)chain_->promises[index_ + 1].try_settle(Outcome::Success);
    }
    return RunResult::Completed;
  }

 private:
  Chain* chain_;
  int index_;
  bool resumed_ = false;
  TaskWaker waker_;
};

// Per hop: settle a promise with one waiter on a worker, wake the task
// (task_group::run), run it. The setup (spawning and parking the chain) is
// not timed.
void BM_SchedSettleResumeChain(benchmark::State& state) {
  constexpr int kLength = 20'000;
  Scheduler scheduler(static_cast<unsigned>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    Chain chain{std::make_unique<PromiseCore[]>(kLength), kLength};
    for (int i = 0; i < kLength; ++i) {
      auto* task = new ChainTask(&chain, i);
      scheduler.spawn(*task);
      task->unref();
    }
    scheduler.wait_until_quiescent();
    state.ResumeTiming();
    (void)chain.promises[0].try_settle(Outcome::Success);
    scheduler.wait_for_all_tasks_ended();
  }
  state.counters["per_hop"] = per_unit(kLength * static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SchedSettleResumeChain)->Arg(1)->Arg(2)->ArgName("workers")->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// A parked task per promise; the main thread (outside the arena, as the
// I/O thread would) settles them all: per task, settle + wake through
// task_arena::enqueue + run to completion.
class AwaitOnce final : public Task {
 public:
  explicit AwaitOnce(PromiseCore* promise) : promise_(promise) {}
  RunResult run(std::uint32_t) override {
    if (!resumed_) {
      resumed_ = true;
      if (waker_.register_on(*promise_, *this) == AddWaiterResult::Registered) {
        return RunResult::Suspended;
      }
    }
    return RunResult::Completed;
  }

 private:
  PromiseCore* promise_;
  bool resumed_ = false;
  TaskWaker waker_;
};

void BM_SchedSettleFromOutside(benchmark::State& state) {
  constexpr int kTasks = 20'000;
  Scheduler scheduler(static_cast<unsigned>(state.range(0)));
  for (auto _ : state) {
    state.PauseTiming();
    auto promises = std::make_unique<PromiseCore[]>(kTasks);
    for (int i = 0; i < kTasks; ++i) {
      auto* task = new AwaitOnce(&promises[i]);
      scheduler.spawn(*task);
      task->unref();
    }
    scheduler.wait_until_quiescent();
    state.ResumeTiming();
    for (int i = 0; i < kTasks; ++i) (void)promises[i].try_settle(Outcome::Success);
    scheduler.wait_for_all_tasks_ended();
  }
  state.counters["per_task"] = per_unit(kTasks * static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SchedSettleFromOutside)->Arg(1)->Arg(2)->ArgName("workers")->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ------------------------------------------------------------ promise alone

struct NoopWaiter final : weft::Waiter {
  std::uint64_t calls = 0;
  void on_settled(Outcome) noexcept override { ++calls; }
};

// One thread: register one waiter, settle, call it; no scheduler.
void BM_PromiseAddWaiterSettle(benchmark::State& state) {
  NoopWaiter waiter;
  for (auto _ : state) {
    PromiseCore promise;
    (void)promise.add_waiter(waiter);
    benchmark::DoNotOptimize(promise.try_settle(Outcome::Success));
  }
  benchmark::DoNotOptimize(waiter.calls);
}
BENCHMARK(BM_PromiseAddWaiterSettle);

void BM_PromiseSettleNoWaiter(benchmark::State& state) {
  for (auto _ : state) {
    PromiseCore promise;
    benchmark::DoNotOptimize(promise.try_settle(Outcome::Success));
  }
}
BENCHMARK(BM_PromiseSettleNoWaiter);

}  // namespace
