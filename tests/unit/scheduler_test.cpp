// Task state transitions and the Scheduler: fork-join storms, suspension
// racing with wakes, fairness, cancellation, abandonment, the waits.
// Tests assert behaviour (exact counts, order), never time.

#include "scheduler/scheduler.h"

#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scheduler/promise.h"
#include "scheduler/task.h"
#include "scheduler/task_waker.h"

namespace {

using weft::AddWaiterResult;
using weft::DetachableTaskWaker;
using weft::EndOfWork;
using weft::IdleAction;
using weft::Outcome;
using weft::PromiseCore;
using weft::RunResult;
using weft::Scheduler;
using weft::SchedulerOptions;
using weft::SchedulerStats;
using weft::Task;
using weft::TaskRef;
using weft::TaskState;
using weft::TaskWaker;
using weft::WakeAction;
using weft::WorkerSpawn;

// ThreadSanitizer runs these ~10x slower: smaller storms there. Any
// sanitizer inflates resident memory, so the memory check is skipped.
#if defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kCheckMemory = false;
#else
constexpr bool kCheckMemory = true;
#endif

// A task whose run() is a closure; it checks that no two workers ever run
// it at once and counts its runs.
class FnTask final : public Task {
 public:
  using Body = std::function<RunResult(FnTask&)>;
  explicit FnTask(Body body) : body_(std::move(body)) {}

  RunResult run(std::uint32_t budget) override {
    budget_seen = budget;
    if (in_run_.exchange(true, std::memory_order_acquire)) overlapped.store(true);
    runs.fetch_add(1, std::memory_order_relaxed);
    const RunResult result = body_(*this);
    in_run_.store(false, std::memory_order_release);
    return result;
  }

  std::atomic<int> runs{0};
  std::atomic<bool> overlapped{false};
  std::uint32_t budget_seen = 0;
  TaskWaker waker;

 private:
  Body body_;
  std::atomic<bool> in_run_{false};
};

TaskRef spawn_fn(Scheduler& scheduler, FnTask::Body body) {
  TaskRef task = weft::make_task<FnTask>(std::move(body));
  scheduler.spawn(task);
  return task;
}

FnTask& as_fn(const TaskRef& ref) {
  return static_cast<FnTask&>(*ref);
}

// ------------------------------------------------------------ TaskState

TEST(TaskState, SpawnRunComplete) {
  TaskState state;
  EXPECT_TRUE(state.load().fresh());
  EXPECT_EQ(state.load().refs(), 1u);
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::DoNothing);  // NEW
  state.transition_to_spawned();
  EXPECT_TRUE(state.load().scheduled());
  EXPECT_EQ(state.load().refs(), 2u);
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::DoNothing);  // queued
  state.transition_to_running();
  EXPECT_TRUE(state.load().running());
  EXPECT_FALSE(state.transition_to_complete());
  EXPECT_TRUE(state.load().complete());
  EXPECT_EQ(state.load().refs(), 1u);
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::DoNothing);  // over
  EXPECT_EQ(state.ref_dec().refs(), 1u);
}

TEST(TaskState, WakeWhileRunningForcesReschedule) {
  TaskState state;
  state.transition_to_spawned();
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::DoNothing);
  EXPECT_TRUE(state.load().notified());
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::DoNothing);
  EXPECT_EQ(state.transition_to_idle(), IdleAction::Reschedule);
  EXPECT_TRUE(state.load().scheduled());
  EXPECT_FALSE(state.load().notified());
  EXPECT_EQ(state.load().refs(), 2u);  // the queue entry kept its reference
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_idle(), IdleAction::Idle);
  EXPECT_TRUE(state.load().idle());
  EXPECT_EQ(state.load().refs(), 1u);
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::Submit);
  EXPECT_TRUE(state.load().scheduled());
  EXPECT_EQ(state.load().refs(), 2u);
}

TEST(TaskState, CancelIsStickyAndWakes) {
  TaskState state;
  EXPECT_EQ(state.transition_to_notified(true), WakeAction::DoNothing);  // NEW
  EXPECT_TRUE(state.cancel_requested());
  state.transition_to_spawned();
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_idle(), IdleAction::Idle);
  EXPECT_EQ(state.transition_to_notified(true), WakeAction::Submit);
  EXPECT_TRUE(state.cancel_requested());
}

TEST(TaskState, YieldKeepsReferenceAndFoldsNotify) {
  TaskState state;
  state.transition_to_spawned();
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::DoNothing);
  state.transition_to_yielded();
  EXPECT_TRUE(state.load().scheduled());
  EXPECT_FALSE(state.load().notified());
  EXPECT_EQ(state.load().refs(), 2u);
}

TEST(TaskState, SuspendWithLastReferenceIsAbandoned) {
  TaskState state;
  state.transition_to_spawned();
  EXPECT_EQ(state.ref_dec().refs(), 2u);  // the creator lets go
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_idle(), IdleAction::IdleLastRef);
}

TEST(TaskState, DormantIdleIsRevivedByAWake) {
  TaskState state;
  state.transition_to_spawned();
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_idle(/*dormant=*/true), IdleAction::Idle);
  EXPECT_TRUE(state.load().idle());
  EXPECT_TRUE(state.load().dormant());
  EXPECT_EQ(state.load().refs(), 1u);
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::Revive);
  EXPECT_TRUE(state.load().scheduled());
  EXPECT_FALSE(state.load().dormant());
  EXPECT_EQ(state.load().refs(), 2u);
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::DoNothing);  // queued
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_idle(), IdleAction::Idle);  // an ordinary suspension
  EXPECT_FALSE(state.load().dormant());
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::Submit);
}

TEST(TaskState, DormantWokenWhileRunningIsRescheduledAndStaysLive) {
  TaskState state;
  state.transition_to_spawned();
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_notified(false), WakeAction::DoNothing);
  EXPECT_EQ(state.transition_to_idle(/*dormant=*/true), IdleAction::Reschedule);
  EXPECT_TRUE(state.load().scheduled());
  EXPECT_FALSE(state.load().dormant());
  EXPECT_EQ(state.load().refs(), 2u);
}

TEST(TaskState, CancelRevivesADormantTask) {
  TaskState state;
  state.transition_to_spawned();
  state.transition_to_running();
  EXPECT_EQ(state.transition_to_idle(/*dormant=*/true), IdleAction::Idle);
  EXPECT_EQ(state.transition_to_notified(true), WakeAction::Revive);
  EXPECT_TRUE(state.cancel_requested());
  EXPECT_FALSE(state.load().dormant());
}

TEST(Task, BaseIsSmall) {
  // vtable pointer, state word, scheduler pointer: a million suspended
  // tasks cost 24 MB of base plus what the engine adds.
  EXPECT_LE(sizeof(Task), 24u);
  EXPECT_LE(sizeof(TaskWaker), 32u);
  // The word, and the two 32-bit counters that decide when to prune
  // withdrawn waiters (promise.h rule 9).
  EXPECT_EQ(sizeof(PromiseCore), 2 * sizeof(void*));
}

// ------------------------------------------------------------ basics

TEST(Scheduler, RunsATaskAndReportsItEnded) {
  Scheduler scheduler(2);
  EXPECT_EQ(Scheduler::current(), nullptr);
  Scheduler* seen = nullptr;
  TaskRef task = spawn_fn(scheduler, [&](FnTask&) {
    seen = Scheduler::current();
    return RunResult::Completed;
  });
  scheduler.wait_for_all_tasks_ended();
  EXPECT_TRUE(task->is_complete());
  EXPECT_EQ(seen, &scheduler);
  EXPECT_EQ(as_fn(task).runs.load(), 1);
  EXPECT_EQ(as_fn(task).budget_seen, scheduler.budget());
  EXPECT_EQ(scheduler.live_tasks(), 0u);
  const auto stats = scheduler.stats();
  EXPECT_EQ(stats.spawned, 1u);
  EXPECT_EQ(stats.completed, 1u);
  EXPECT_EQ(stats.runs, 1u);
}

// A dormant task is not live: the scheduler sees every task ended while
// it sleeps; a wake from outside (holding the scheduler, as any outside
// waker must) counts it live again, and it runs, goes dormant once more,
// and completes at the third run. Dropping the last reference to a dormant
// task is not an abandonment.
TEST(Scheduler, ADormantTaskIsNotLiveUntilAWakeRevivesIt) {
  Scheduler scheduler(2);
  std::atomic<int> step{0};
  TaskRef task = spawn_fn(scheduler, [&](FnTask&) {
    return step.fetch_add(1, std::memory_order_relaxed) < 2 ? RunResult::Dormant
                                                             : RunResult::Completed;
  });
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(scheduler.live_tasks(), 0u);
  EXPECT_TRUE(task->state().dormant());
  EXPECT_EQ(as_fn(task).runs.load(), 1);

  scheduler.hold();
  task->wake();
  scheduler.release();
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(as_fn(task).runs.load(), 2);
  EXPECT_TRUE(task->state().dormant());

  scheduler.hold();
  task->wake();
  scheduler.release();
  scheduler.wait_for_all_tasks_ended();
  EXPECT_TRUE(task->is_complete());
  EXPECT_EQ(as_fn(task).runs.load(), 3);

  TaskRef dropped = spawn_fn(scheduler, [](FnTask&) { return RunResult::Dormant; });
  scheduler.wait_for_all_tasks_ended();
  dropped = TaskRef();  // deleted dormant: not counted a second time
  EXPECT_EQ(scheduler.live_tasks(), 0u);
  const auto stats = scheduler.stats();
  EXPECT_EQ(stats.dormant, 3u);
  EXPECT_EQ(stats.abandoned, 0u);
  EXPECT_EQ(stats.completed, 1u);
  EXPECT_EQ(stats.wakes, 2u);
}

// A dormant task woken while the run that went dormant is still returning
// (the wake sets NOTIFIED) runs again instead of sleeping through it: a
// wake is never lost, and no two runs of the task overlap.
TEST(Scheduler, AWakeRacingTheDormantReturnIsNeverLost) {
  Scheduler scheduler(2);
  constexpr int kRounds = 20000;
  std::atomic<int> wakes_seen{0};
  std::atomic<int> runs{0};
  TaskRef task = spawn_fn(scheduler, [&](FnTask&) {
    runs.fetch_add(1, std::memory_order_relaxed);
    return RunResult::Dormant;
  });
  scheduler.wait_for_all_tasks_ended();
  for (int round = 0; round < kRounds; ++round) {
    const int before = runs.load(std::memory_order_relaxed);
    scheduler.hold();
    task->wake();
    scheduler.release();
    // Each wake lands on IDLE+DOR (Revive) or on the run going dormant
    // (NOTIFIED, Reschedule); either way a run follows it.
    while (runs.load(std::memory_order_relaxed) == before) std::this_thread::yield();
    wakes_seen.fetch_add(1, std::memory_order_relaxed);
  }
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(wakes_seen.load(), kRounds);
  EXPECT_GE(runs.load(), kRounds + 1);
  EXPECT_EQ(scheduler.live_tasks(), 0u);
  EXPECT_FALSE(as_fn(task).overlapped.load());
}

// Count netting (scheduler.h, "Task counts"): a token passed around a ring
// of dormant tasks (as actors pass a message) revives each next one and
// goes dormant, so every hop's +1/+1 cancels a -1/-1 the worker has not
// yet made on the count word. The waits must still see exactly what is
// true: no stall while the ring runs, the stall when the last holder of
// the token suspends on a promise nobody settles, and the end after it.
TEST(SchedulerCountNetting, ARingOfDormantTasksIsNeitherEndedNorStalledEarly) {
  constexpr int kTasks = 100;
  const int hops = kSanitized ? 5'000 : 100'000;
  for (unsigned workers : {1u, 2u}) {
    Scheduler scheduler(workers);
    PromiseCore promise;
    std::atomic<int> hop{0};
    std::vector<TaskRef> ring(kTasks);
    std::vector<std::atomic<bool>> has_token(kTasks);
    for (int i = 0; i < kTasks; ++i) {
      ring[i] = weft::make_task<FnTask>([&, i](FnTask& self) {
        if (!has_token[i].exchange(false, std::memory_order_acq_rel)) return RunResult::Dormant;
        if (hop.fetch_add(1, std::memory_order_relaxed) + 1 == hops) {
          return self.waker.register_on(promise, self) == AddWaiterResult::Registered
                     ? RunResult::Suspended
                     : RunResult::Completed;
        }
        const int next = (i + 1) % kTasks;
        has_token[next].store(true, std::memory_order_release);
        ring[next]->wake();
        return RunResult::Dormant;
      });
      scheduler.spawn(ring[i]);
    }
    EXPECT_EQ(scheduler.wait_until_ended_or_stalled(), EndOfWork::AllEnded);
    scheduler.hold();  // the reviver is counted (task.h rule 8)
    has_token[0].store(true, std::memory_order_release);
    ring[0]->wake();
    scheduler.release();
    EXPECT_EQ(scheduler.wait_until_ended_or_stalled(), EndOfWork::Stalled) << workers;
    EXPECT_EQ(hop.load(), hops) << workers;
    EXPECT_EQ(scheduler.live_tasks(), 1u) << workers;
    EXPECT_EQ(scheduler.active_tasks(), 0u) << workers;
    ASSERT_TRUE(promise.try_settle(Outcome::Success));
    EXPECT_EQ(scheduler.wait_until_ended_or_stalled(), EndOfWork::AllEnded) << workers;
    EXPECT_EQ(scheduler.live_tasks(), 0u) << workers;
    const auto stats = scheduler.stats();
    EXPECT_EQ(stats.suspended, 1u) << workers;
    // Revivals record no peak, and a word above the truth never goes past
    // the spawns (each pending end had its increment there).
    EXPECT_LE(stats.peak_live, static_cast<std::uint64_t>(kTasks)) << workers;
    for (const TaskRef& task : ring) EXPECT_FALSE(as_fn(task).overlapped.load());
    ring.clear();
  }
}

// An outside thread that batches (the I/O thread does) keeps the tasks it
// spawns and wakes until it flushes: none runs before (they are in its
// thread-local list, nowhere a worker can look), each runs exactly once
// after, across several chunks (kBatchChunk is 16), and no task runs twice
// at once. After stop_batching_here() its spawns go out at once again.
TEST(SchedulerBatches, TasksQueuedByABatchingThreadRunOnceEachAfterTheFlush) {
  Scheduler scheduler(2);
  constexpr int kTasks = 100;  // below kBatchLimit (128)
  std::atomic<int> first_runs{0};
  std::atomic<int> second_runs{0};
  scheduler.start_batching_here();
  std::vector<TaskRef> tasks;
  for (int i = 0; i < kTasks; ++i) {
    tasks.push_back(spawn_fn(scheduler, [&](FnTask& self) {
      if (self.runs.load(std::memory_order_relaxed) == 1) {
        first_runs.fetch_add(1, std::memory_order_relaxed);
        return RunResult::Suspended;
      }
      second_runs.fetch_add(1, std::memory_order_relaxed);
      return RunResult::Completed;
    }));
  }
  EXPECT_EQ(first_runs.load(), 0);
  EXPECT_EQ(scheduler.live_tasks(), static_cast<std::uint64_t>(kTasks));
  scheduler.flush_batch();
  scheduler.wait_until_quiescent();
  EXPECT_EQ(first_runs.load(), kTasks);

  scheduler.hold();  // an outside waker holds the scheduler ("Holds")
  for (const TaskRef& task : tasks) task->wake();
  scheduler.release();
  EXPECT_EQ(second_runs.load(), 0);
  scheduler.flush_batch();
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(second_runs.load(), kTasks);
  for (const TaskRef& task : tasks) {
    EXPECT_EQ(as_fn(task).runs.load(), 2);
    EXPECT_FALSE(as_fn(task).overlapped.load());
  }

  scheduler.stop_batching_here();
  TaskRef after = spawn_fn(scheduler, [](FnTask&) { return RunResult::Completed; });
  scheduler.wait_for_all_tasks_ended();
  EXPECT_TRUE(after->is_complete());
  EXPECT_EQ(scheduler.stats().completed, static_cast<std::uint64_t>(kTasks + 1));
}

// A batch that reaches kBatchLimit (128) tasks goes out by itself, so a
// handler that wakes thousands does not keep the workers waiting for its
// end: of 1,000 spawns, the first 896 run without a flush; the flush sends
// the rest.
TEST(SchedulerBatches, ABatchAtItsLimitIsQueuedWithoutAFlush) {
  Scheduler scheduler(2);
  constexpr int kTasks = 1000;
  constexpr int kFlushedByThemselves = kTasks / 128 * 128;
  std::atomic<int> runs{0};
  scheduler.start_batching_here();
  for (int i = 0; i < kTasks; ++i) {
    spawn_fn(scheduler, [&](FnTask&) {
      runs.fetch_add(1, std::memory_order_relaxed);
      return RunResult::Completed;
    });
  }
  // The rest are in this thread's list: live cannot fall below them.
  const std::uint64_t kept = kTasks - kFlushedByThemselves;
  while (scheduler.live_tasks() > kept) std::this_thread::yield();
  EXPECT_EQ(runs.load(), kFlushedByThemselves);
  scheduler.stop_batching_here();
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(runs.load(), kTasks);
}

// ------------------------------------------------------------ fork-join

struct ForkJoin {
  Scheduler* scheduler;
  std::uint32_t depth;
  std::unique_ptr<std::atomic<std::uint8_t>[]> runs;
};

// Node `id` of a complete binary tree in heap order; inner nodes spawn
// their two children from the worker (the local deque) and complete.
class ForkTask final : public Task {
 public:
  ForkTask(ForkJoin* tree, std::uint32_t id, std::uint32_t level)
      : tree_(tree), id_(id), level_(level) {}
  RunResult run(std::uint32_t) override {
    tree_->runs[id_].fetch_add(1, std::memory_order_relaxed);
    if (level_ < tree_->depth) {
      Scheduler* scheduler = Scheduler::current();
      for (std::uint32_t child = 2 * id_ + 1; child <= 2 * id_ + 2; ++child) {
        auto* task = new ForkTask(tree_, child, level_ + 1);
        scheduler->spawn(*task);
        task->unref();  // the queue entry keeps it alive
      }
    }
    return RunResult::Completed;
  }

 private:
  ForkJoin* tree_;
  std::uint32_t id_, level_;
};

void run_fork_join(const SchedulerOptions& options, std::uint32_t depth) {
  const std::uint32_t nodes = (2u << depth) - 1;
  Scheduler scheduler(options);
  ForkJoin tree{&scheduler, depth, std::make_unique<std::atomic<std::uint8_t>[]>(nodes)};
  auto* root = new ForkTask(&tree, 0, 0);
  scheduler.spawn(*root);
  root->unref();
  scheduler.wait_for_all_tasks_ended();
  for (std::uint32_t id = 0; id < nodes; ++id) {
    ASSERT_EQ(tree.runs[id].load(std::memory_order_relaxed), 1) << "node " << id;
  }
  const auto stats = scheduler.stats();
  EXPECT_EQ(stats.spawned, nodes);
  EXPECT_EQ(stats.completed, nodes);
  EXPECT_EQ(stats.runs, nodes);
  EXPECT_EQ(scheduler.live_tasks(), 0u);
  std::printf(
      "  %u tasks on %u workers: %llu ran on another worker than their spawner; runs per slot "
      "(last: outside threads):",
      nodes, scheduler.workers(), static_cast<unsigned long long>(stats.migrated));
  std::uint64_t per_worker_total = 0;
  for (unsigned slot = 0; slot < scheduler.stats_slots(); ++slot) {
    const auto runs = scheduler.slot_stats(slot).runs;
    per_worker_total += runs;
    std::printf(" %llu", static_cast<unsigned long long>(runs));
  }
  std::printf("\n");
  EXPECT_EQ(per_worker_total, nodes);
}

TEST(SchedulerStress, MillionTaskForkJoinRunsEachOnce) {
  // 2^20 - 1 = 1,048,575 tasks (2^17 - 1 under TSan).
  run_fork_join(SchedulerOptions{.workers = 2}, kSanitized ? 16 : 19);
}

TEST(SchedulerStress, ForkJoinThroughSharedQueueRunsEachOnce) {
  run_fork_join(SchedulerOptions{.workers = 4, .worker_spawn = WorkerSpawn::SharedQueue},
                kSanitized ? 13 : 16);
}

// ------------------------------------------------------------ suspension

// A blocking queue of round numbers, from the tasks to the settler thread.
class RoundQueue {
 public:
  void push(int round) {
    {
      std::lock_guard lock(mutex_);
      rounds_.push_back(round);
    }
    ready_.notify_one();
  }
  int pop() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !rounds_.empty(); });
    const int round = rounds_.front();
    rounds_.pop_front();
    return round;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<int> rounds_;
};

// Each round: a task registers a waker on its own promise, tells the
// settler thread, and suspends; the settler settles, writing the value
// under the claim. Every third round the task waits inside run() until
// the promise is settled before returning Suspended: the wake then always
// lands on a RUNNING task (the wake-before-suspend race, forced). Every
// task runs exactly twice, never on two workers at once, and sees the
// value.
TEST(SchedulerStress, SuspendedTaskResumesExactlyOnce) {
  constexpr int kRoundCount = 10'000;
  Scheduler scheduler(2);
  auto promises = std::make_unique<PromiseCore[]>(kRoundCount);
  std::vector<int> values(kRoundCount, -1);
  std::vector<int> seen(kRoundCount, -2);
  RoundQueue registered;
  std::thread settler([&] {
    for (int n = 0; n < kRoundCount; ++n) {
      const int round = registered.pop();
      ASSERT_TRUE(promises[round].try_settle(Outcome::Success, [&] { values[round] = round; }));
    }
  });
  std::vector<TaskRef> tasks;
  tasks.reserve(kRoundCount);
  for (int round = 0; round < kRoundCount; ++round) {
    tasks.push_back(spawn_fn(scheduler, [&, round](FnTask& self) {
      PromiseCore& promise = promises[round];
      if (self.runs.load(std::memory_order_relaxed) == 1) {
        if (self.waker.register_on(promise, self) == AddWaiterResult::AlreadySettled) {
          seen[round] = -3;  // impossible: nobody settles before the push
          return RunResult::Completed;
        }
        registered.push(round);
        if (round % 3 == 0) {
          // Wait for the wake itself, not just the settle: the promise reads
          // settled (publish) a moment before its waiters are called, and a
          // task that returned in between would take the ordinary wake path.
          while (!self.state().notified()) std::this_thread::yield();
        }
        return RunResult::Suspended;
      }
      EXPECT_EQ(promise.outcome(), Outcome::Success);
      seen[round] = values[round];
      return RunResult::Completed;
    }));
  }
  scheduler.wait_for_all_tasks_ended();
  settler.join();
  int forced = 0;
  for (int round = 0; round < kRoundCount; ++round) {
    FnTask& task = as_fn(tasks[round]);
    ASSERT_EQ(task.runs.load(), 2) << "round " << round;
    ASSERT_FALSE(task.overlapped.load()) << "round " << round;
    ASSERT_EQ(seen[round], round);
    ASSERT_TRUE(task.is_complete());
    if (round % 3 == 0) ++forced;
  }
  const auto stats = scheduler.stats();
  EXPECT_EQ(stats.completed, static_cast<std::uint64_t>(kRoundCount));
  EXPECT_EQ(stats.runs, 2u * kRoundCount);
  // Each forced round took the RUNNING+NOTIFIED path.
  EXPECT_GE(stats.notified_reruns, static_cast<std::uint64_t>(forced));
  EXPECT_EQ(stats.notified_reruns + stats.wakes, static_cast<std::uint64_t>(kRoundCount));
}

// One worker; 10,000 tasks each wait on one promise that only the last
// task to arrive settles. No task blocks its worker, so all finish.
void run_last_one_settles(bool spawn_from_worker) {
  constexpr int kTasks = 10'000;
  Scheduler scheduler(1);
  PromiseCore promise;
  std::atomic<int> arrived{0};
  std::atomic<int> settled_by{-1};
  int value = 0;
  std::vector<std::unique_ptr<FnTask>> unused;
  std::atomic<int> finished{0};
  auto body = [&](int index) {
    return [&, index](FnTask& self) {
      if (self.runs.load(std::memory_order_relaxed) == 1) {
        if (arrived.fetch_add(1, std::memory_order_relaxed) + 1 == kTasks) {
          EXPECT_TRUE(promise.try_settle(Outcome::Success, [&] { value = 7; }));
          settled_by.store(index, std::memory_order_relaxed);
          finished.fetch_add(1, std::memory_order_relaxed);
          return RunResult::Completed;
        }
        if (self.waker.register_on(promise, self) == AddWaiterResult::Registered) {
          return RunResult::Suspended;
        }
      }
      EXPECT_EQ(value, 7);
      finished.fetch_add(1, std::memory_order_relaxed);
      return RunResult::Completed;
    };
  };
  std::vector<TaskRef> tasks(kTasks);
  if (spawn_from_worker) {
    TaskRef root = spawn_fn(scheduler, [&](FnTask&) {
      for (int i = 0; i < kTasks; ++i) {
        tasks[i] = weft::make_task<FnTask>(body(i));
        Scheduler::current()->spawn(tasks[i]);
      }
      return RunResult::Completed;
    });
    scheduler.wait_for_all_tasks_ended();
  } else {
    for (int i = 0; i < kTasks; ++i) tasks[i] = spawn_fn(scheduler, body(i));
    scheduler.wait_for_all_tasks_ended();
  }
  EXPECT_EQ(finished.load(), kTasks);
  ASSERT_GE(settled_by.load(), 0);
  for (int i = 0; i < kTasks; ++i) {
    const int runs = as_fn(tasks[i]).runs.load();
    EXPECT_EQ(runs, i == settled_by.load() ? 1 : 2) << "task " << i;
    ASSERT_FALSE(as_fn(tasks[i]).overlapped.load());
  }
}

TEST(SchedulerStress, OneWorkerTenThousandWaitersOnTheLastOne) {
  run_last_one_settles(/*spawn_from_worker=*/false);
}

TEST(SchedulerStress, OneWorkerTenThousandWaitersSpawnedByATask) {
  run_last_one_settles(/*spawn_from_worker=*/true);
}

// A million tasks suspended at once on one promise, then woken by a
// settle from outside the arena. Also reports the memory they held.
long resident_kib() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return n == 2 ? resident * 4 : 0;
}

TEST(SchedulerStress, MillionSuspendedTasksResumeOnOneSettle) {
  const int count = kSanitized ? 100'000 : 1'000'000;
  Scheduler scheduler(2);
  PromiseCore promise;
  std::atomic<int> resumed{0};
  const long before = resident_kib();
  for (int i = 0; i < count; ++i) {
    TaskRef task = spawn_fn(scheduler, [&](FnTask& self) {
      if (self.runs.load(std::memory_order_relaxed) == 1 &&
          self.waker.register_on(promise, self) == AddWaiterResult::Registered) {
        return RunResult::Suspended;
      }
      resumed.fetch_add(1, std::memory_order_relaxed);
      return RunResult::Completed;
    });
    // Dropped here: each task lives on through its waker's reference.
  }
  scheduler.wait_until_quiescent();
  EXPECT_EQ(scheduler.live_tasks(), static_cast<std::uint64_t>(count));
  EXPECT_EQ(scheduler.active_tasks(), 0u);
  const long held = resident_kib() - before;
  std::printf("  %d suspended tasks (FnTask, %zu bytes + std::function state): %ld KiB resident\n",
              count, sizeof(FnTask), held);
  if (kCheckMemory) {
    EXPECT_LT(held, 1024L * 1024L);  // well under 1 GiB
  }
  ASSERT_TRUE(promise.try_settle(Outcome::Success));
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(resumed.load(), count);
  EXPECT_EQ(scheduler.stats().completed, static_cast<std::uint64_t>(count));
}

// ------------------------------------------------------------ fairness

// One worker; a busy task that yields whenever its budget is spent must
// let tasks queued after it run; it finishes only once they all have.
void run_yield_fairness(bool others_from_worker) {
  constexpr int kOthers = 100;
  constexpr int kGiveUp = 1'000'000;
  Scheduler scheduler(SchedulerOptions{.workers = 1, .budget = 100});
  std::atomic<int> others_done{0};
  std::atomic<bool> busy_started{false};
  int yields = 0;
  auto other = [&](FnTask&) {
    others_done.fetch_add(1, std::memory_order_relaxed);
    return RunResult::Completed;
  };
  TaskRef busy = spawn_fn(scheduler, [&](FnTask& self) {
    if (self.runs.load(std::memory_order_relaxed) == 1) {
      if (others_from_worker) {
        for (int i = 0; i < kOthers; ++i) {
          TaskRef t = weft::make_task<FnTask>(other);
          Scheduler::current()->spawn(t);
        }
      }
      busy_started.store(true, std::memory_order_release);
    }
    // "Spend the budget", then yield until everyone else has run.
    if (others_done.load(std::memory_order_relaxed) == kOthers || ++yields == kGiveUp) {
      return RunResult::Completed;
    }
    return RunResult::Yielded;
  });
  if (!others_from_worker) {
    while (!busy_started.load(std::memory_order_acquire)) std::this_thread::yield();
    for (int i = 0; i < kOthers; ++i) TaskRef t = spawn_fn(scheduler, other);
  }
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(others_done.load(), kOthers);
  EXPECT_LT(yields, kGiveUp);
  EXPECT_EQ(scheduler.stats().preempted, static_cast<std::uint64_t>(as_fn(busy).runs.load() - 1));
}

TEST(SchedulerFairness, YieldingTaskDoesNotStarveTasksQueuedFromOutside) {
  run_yield_fairness(/*others_from_worker=*/false);
}

TEST(SchedulerFairness, YieldingTaskDoesNotStarveTasksItSpawned) {
  run_yield_fairness(/*others_from_worker=*/true);
}

// One worker; two tasks keep waking each other (each wake goes to the
// worker's own deque), which would starve a task queued from outside if
// every wake stayed local. fair_wake_interval sends some wakes behind.
TEST(SchedulerFairness, PingPongWakesDoNotStarveOutsideWork) {
  constexpr int kGiveUp = 2'000'000;
  Scheduler scheduler(SchedulerOptions{.workers = 1, .fair_wake_interval = 32});
  std::atomic<bool> outside_ran{false};
  std::atomic<bool> started{false};
  std::atomic<int> bounces{0};
  TaskRef a, b;
  auto bounce = [&](TaskRef* other) {
    return [&, other](FnTask&) {
      started.store(true, std::memory_order_release);
      if (outside_ran.load(std::memory_order_relaxed) ||
          bounces.fetch_add(1, std::memory_order_relaxed) >= kGiveUp) {
        (*other)->wake();  // let the partner see the end too
        return RunResult::Completed;
      }
      (*other)->wake();
      return RunResult::Suspended;
    };
  };
  a = weft::make_task<FnTask>(bounce(&b));
  b = weft::make_task<FnTask>(bounce(&a));
  scheduler.spawn(a);
  scheduler.spawn(b);
  while (!started.load(std::memory_order_acquire)) std::this_thread::yield();
  TaskRef outside = spawn_fn(scheduler, [&](FnTask&) {
    outside_ran.store(true, std::memory_order_relaxed);
    return RunResult::Completed;
  });
  scheduler.wait_for_all_tasks_ended();
  EXPECT_TRUE(outside_ran.load());
  EXPECT_LT(bounces.load(), kGiveUp);
  a = TaskRef();
  b = TaskRef();
}

// ------------------------------------------------------------ locality

// Two workers; two tasks pass a token back and forth 20,000 times the way
// two actors do: each run takes the token from its inbox, puts it in the
// partner's and wakes the partner, then lingers once on its empty inbox
// before it suspends. The first side starts the second (as a message starts
// an actor's activation), so both begin on one worker. The woken partner
// runs next on that worker (rule 1) and the lingering task after it (rule
// 2); after kLocalRunLimit runs and kLocalRunTime both go back to oneTBB
// together, as one entry (rule 3). So a hop changes worker at most once
// per such entry, whichever worker takes it, while a third task keeps the
// other worker awake and taking work from the shared stream. Queued back
// one by one, the two could land on different workers and stay there,
// each lingering on its own (2,273 of 20,000 hops crossed under TSan).
TEST(SchedulerLocality, TwoTasksHandingATokenBackAndForthStayOnOneWorker) {
  constexpr int kHops = 20'000;
  Scheduler scheduler(SchedulerOptions{.workers = 2, .fair_wake_interval = 0});
  struct Side {
    std::atomic<int> inbox{0};
    bool lingered = false;  // touched only by this side's runs
    TaskRef task;
  };
  Side sides[2];
  std::atomic<int> hops{0};
  std::atomic<bool> done{false};
  std::atomic<int> last_worker{-1};
  std::atomic<int> hops_between_workers{0};
  bool second_started = false;  // touched only by side 0's runs
  auto side = [&](int me) {
    return [&, me](FnTask&) {
      Side& self = sides[me];
      Side& partner = sides[1 - me];
      if (self.inbox.load(std::memory_order_acquire) > 0) {
        self.inbox.fetch_sub(1, std::memory_order_relaxed);
        self.lingered = false;
        const int here = tbb::this_task_arena::current_thread_index();
        // Relaxed: the token orders the hops (acquire above, release below).
        if (last_worker.exchange(here, std::memory_order_relaxed) != here) {
          hops_between_workers.fetch_add(1, std::memory_order_relaxed);
        }
        if (hops.fetch_add(1, std::memory_order_relaxed) + 1 >= kHops) {
          done.store(true, std::memory_order_release);
        } else {
          partner.inbox.fetch_add(1, std::memory_order_release);
        }
        if (me == 0 && !second_started) {
          second_started = true;
          scheduler.spawn(partner.task);
        } else {
          partner.task->wake();
        }
        return RunResult::Lingered;
      }
      if (done.load(std::memory_order_acquire)) return RunResult::Completed;
      if (!self.lingered) {
        self.lingered = true;
        return RunResult::Lingered;
      }
      self.lingered = false;
      return RunResult::Suspended;
    };
  };
  sides[0].task = weft::make_task<FnTask>(side(0));
  sides[1].task = weft::make_task<FnTask>(side(1));
  // Keeps the second worker awake and taking work from the shared stream,
  // where lingering tasks would go without rule 2.
  TaskRef spinner = spawn_fn(scheduler, [&](FnTask&) {
    return done.load(std::memory_order_acquire) ? RunResult::Completed : RunResult::Yielded;
  });
  sides[0].inbox.store(1, std::memory_order_relaxed);
  scheduler.spawn(sides[0].task);
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(hops.load(), kHops);
  EXPECT_FALSE(as_fn(sides[0].task).overlapped.load());
  EXPECT_FALSE(as_fn(sides[1].task).overlapped.load());
  EXPECT_LE(hops_between_workers.load(), kHops / 16);
  sides[0].task = TaskRef();
  sides[1].task = TaskRef();
}

// One worker. A task that lingers runs again after the task its run woke,
// and a task that lingers forever still lets a task queued from outside
// run: the local runs go back to oneTBB after kLocalRunTime.
TEST(SchedulerLocality, LingeringTaskRunsAfterWhatItWokeAndStarvesNobody) {
  constexpr int kGiveUp = 2'000'000;
  Scheduler scheduler(SchedulerOptions{.workers = 1});
  std::vector<char> order;  // one worker: the runs never overlap
  TaskRef woken = weft::make_task<FnTask>([&](FnTask&) {
    order.push_back('w');
    return RunResult::Completed;
  });
  std::atomic<bool> outside_ran{false};
  std::atomic<int> lingers{0};
  TaskRef lingerer = spawn_fn(scheduler, [&](FnTask& self) {
    order.push_back('l');
    if (self.runs.load(std::memory_order_relaxed) == 1) scheduler.spawn(woken);
    if (outside_ran.load(std::memory_order_relaxed) ||
        lingers.fetch_add(1, std::memory_order_relaxed) >= kGiveUp) {
      return RunResult::Completed;
    }
    return RunResult::Lingered;
  });
  while (lingers.load(std::memory_order_relaxed) < 2) std::this_thread::yield();
  TaskRef outside = spawn_fn(scheduler, [&](FnTask&) {
    outside_ran.store(true, std::memory_order_relaxed);
    return RunResult::Completed;
  });
  scheduler.wait_for_all_tasks_ended();
  EXPECT_TRUE(outside_ran.load());
  EXPECT_LT(lingers.load(), kGiveUp);
  ASSERT_GE(order.size(), 3u);
  EXPECT_EQ(std::string(order.begin(), order.begin() + 3), "lwl");
}

// ------------------------------------------------------------ waits

// All tasks suspend on a promise settled later by the main thread:
// wait_until_quiescent returns while they are suspended (and live), and
// wait_for_all_tasks_ended returns only once the last one has ended.
TEST(Scheduler, WaitsTrackSuspendedAndEndedTasks) {
  constexpr int kTasks = 100;
  Scheduler scheduler(2);
  PromiseCore promise;
  std::atomic<int> ended{0};
  for (int i = 0; i < kTasks; ++i) {
    TaskRef t = spawn_fn(scheduler, [&](FnTask& self) {
      if (self.runs.load(std::memory_order_relaxed) == 1 &&
          self.waker.register_on(promise, self) == AddWaiterResult::Registered) {
        return RunResult::Suspended;
      }
      ended.fetch_add(1, std::memory_order_relaxed);
      return RunResult::Completed;
    });
  }
  scheduler.wait_until_quiescent();
  EXPECT_EQ(scheduler.live_tasks(), static_cast<std::uint64_t>(kTasks));
  EXPECT_EQ(scheduler.active_tasks(), 0u);
  EXPECT_EQ(ended.load(), 0);

  std::atomic<bool> returned{false};
  int ended_at_return = -1;
  std::thread waiter([&] {
    scheduler.wait_for_all_tasks_ended();
    ended_at_return = ended.load(std::memory_order_relaxed);
    returned.store(true, std::memory_order_release);
  });
  EXPECT_FALSE(returned.load(std::memory_order_acquire));
  ASSERT_TRUE(promise.try_settle(Outcome::Success));
  waiter.join();
  EXPECT_EQ(ended_at_return, kTasks);
  EXPECT_EQ(scheduler.live_tasks(), 0u);
  const auto stats = scheduler.stats();
  EXPECT_EQ(stats.suspended, static_cast<std::uint64_t>(kTasks));
  EXPECT_EQ(stats.wakes, static_cast<std::uint64_t>(kTasks));
}

// ------------------------------------------------------------ cancellation

// A suspended task is woken by cancel(), sees the flag, withdraws its
// interest in the promise (which never settles) and ends.
TEST(Scheduler, CancelWakesASuspendedTask) {
  Scheduler scheduler(2);
  PromiseCore never;
  bool detached_before_fire = false;
  DetachableTaskWaker* waker = nullptr;
  TaskRef task = spawn_fn(scheduler, [&](FnTask& self) {
    if (self.runs.load(std::memory_order_relaxed) == 1) {
      waker = DetachableTaskWaker::create(self);
      if (waker->arm(never) == AddWaiterResult::Registered) return RunResult::Suspended;
    }
    EXPECT_TRUE(self.cancel_requested());
    detached_before_fire = waker->detach();
    return RunResult::Completed;
  });
  scheduler.wait_until_quiescent();
  EXPECT_EQ(scheduler.live_tasks(), 1u);
  task->cancel();
  scheduler.wait_for_all_tasks_ended();
  EXPECT_TRUE(detached_before_fire);
  EXPECT_EQ(as_fn(task).runs.load(), 2);
  EXPECT_TRUE(task->cancel_requested());
}

// cancel() on a running task marks it NOTIFIED: it runs again even if it
// suspends without registering anywhere.
TEST(Scheduler, CancelWhileRunningForcesARerun) {
  Scheduler scheduler(2);
  std::atomic<bool> running{false};
  TaskRef task = spawn_fn(scheduler, [&](FnTask& self) {
    if (self.runs.load(std::memory_order_relaxed) == 1) {
      running.store(true, std::memory_order_release);
      while (!self.cancel_requested()) std::this_thread::yield();
      return RunResult::Suspended;
    }
    return RunResult::Completed;
  });
  while (!running.load(std::memory_order_acquire)) std::this_thread::yield();
  task->cancel();
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(as_fn(task).runs.load(), 2);
  EXPECT_EQ(scheduler.stats().notified_reruns, 1u);
}

// Other threads cancel and wake one suspended task at once while its
// promise settles. The task treats any rerun as cancellation and
// completes, even while its waker is still registered: the waker keeps the
// task alive until the settle calls it. Each round the task completes
// exactly once, never runs on two workers, and the waker ends up free.
TEST(SchedulerStress, CancelRacesSettleAndWake) {
  const int rounds = kSanitized ? 300 : 3000;
  Scheduler scheduler(2);
  for (int round = 0; round < rounds; ++round) {
    auto promise = std::make_unique<PromiseCore>();
    std::atomic<bool> registered{false};
    std::atomic<int> completions{0};
    TaskRef task = spawn_fn(scheduler, [&](FnTask& self) {
      if (self.runs.load(std::memory_order_relaxed) == 1 &&
          self.waker.register_on(*promise, self) == AddWaiterResult::Registered) {
        registered.store(true, std::memory_order_release);
        return RunResult::Suspended;
      }
      completions.fetch_add(1, std::memory_order_relaxed);
      return RunResult::Completed;
    });
    while (!registered.load(std::memory_order_acquire)) std::this_thread::yield();
    std::atomic<bool> go{false};
    std::thread canceller([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      task->cancel();
    });
    std::thread waker([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      task->wake();
    });
    go.store(true, std::memory_order_release);
    if (round % 2 == 0) {
      // Let the cancel end the task first: it completes with its waker
      // still in the promise's list, and stays alive through it.
      scheduler.wait_for_all_tasks_ended();
      ASSERT_TRUE(task->is_complete());
      ASSERT_TRUE(as_fn(task).waker.in_use());
      ASSERT_EQ(task->state().refs(), 2u);  // our handle and the waker's
    }
    ASSERT_TRUE(promise->try_settle(Outcome::Success));
    canceller.join();
    waker.join();
    scheduler.wait_for_all_tasks_ended();
    ASSERT_FALSE(as_fn(task).overlapped.load());
    ASSERT_EQ(completions.load(), 1);
    ASSERT_EQ(as_fn(task).runs.load(), 2);
    ASSERT_TRUE(task->is_complete());
    ASSERT_TRUE(task->cancel_requested());
    ASSERT_FALSE(as_fn(task).waker.in_use());
    ASSERT_EQ(task->state().refs(), 1u);  // only our handle is left
  }
}

// ------------------------------------------------------------ abandonment

class DestructorFlag final : public Task {
 public:
  explicit DestructorFlag(std::atomic<bool>* destroyed) : destroyed_(destroyed) {}
  ~DestructorFlag() override { destroyed_->store(true, std::memory_order_relaxed); }
  RunResult run(std::uint32_t) override { return RunResult::Suspended; }

 private:
  std::atomic<bool>* destroyed_;
};

// A task that suspends with no waker and no other reference can never run
// again: it is deleted and counted as ended.
TEST(Scheduler, SuspendedTaskNobodyHoldsIsAbandoned) {
  Scheduler scheduler(1);
  std::atomic<bool> destroyed{false};
  {
    TaskRef task = weft::make_task<DestructorFlag>(&destroyed);
    scheduler.spawn(task);
  }
  scheduler.wait_for_all_tasks_ended();
  EXPECT_TRUE(destroyed.load());
  EXPECT_EQ(scheduler.stats().abandoned, 1u);
}

// The same when the creator's handle is the last reference and is dropped
// after the task suspended.
TEST(Scheduler, DroppingTheLastHandleOfASuspendedTaskEndsIt) {
  Scheduler scheduler(1);
  std::atomic<bool> destroyed{false};
  TaskRef task = weft::make_task<DestructorFlag>(&destroyed);
  scheduler.spawn(task);
  scheduler.wait_until_quiescent();
  EXPECT_EQ(scheduler.live_tasks(), 1u);
  EXPECT_FALSE(destroyed.load());
  task = TaskRef();
  EXPECT_TRUE(destroyed.load());
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(scheduler.stats().abandoned, 1u);
}

// A completed task stays readable through its handle until released.
TEST(Scheduler, HandleKeepsACompletedTaskAlive) {
  Scheduler scheduler(2);
  TaskRef task = spawn_fn(scheduler, [](FnTask&) { return RunResult::Completed; });
  scheduler.wait_for_all_tasks_ended();
  EXPECT_TRUE(task->is_complete());
  EXPECT_EQ(task->state().refs(), 1u);
  task->wake();  // a wake after completion does nothing
  EXPECT_EQ(scheduler.active_tasks(), 0u);
}

// ------------------------------------------------------------ stalls, holds, peaks

// Tasks suspended on a promise nobody holds can never run again: the wait
// says so instead of hanging. Settling the promise then ends them.
TEST(Scheduler, StallIsReportedWhenNothingCanWakeTheSuspendedTasks) {
  Scheduler scheduler(2);
  PromiseCore promise;
  for (int i = 0; i < 10; ++i) {
    TaskRef t = spawn_fn(scheduler, [&](FnTask& self) {
      if (self.runs.load(std::memory_order_relaxed) == 1 &&
          self.waker.register_on(promise, self) == AddWaiterResult::Registered) {
        return RunResult::Suspended;
      }
      return RunResult::Completed;
    });
  }
  EXPECT_EQ(scheduler.wait_until_ended_or_stalled(), EndOfWork::Stalled);
  EXPECT_EQ(scheduler.live_tasks(), 10u);
  ASSERT_TRUE(promise.try_settle(Outcome::Success));
  EXPECT_EQ(scheduler.wait_until_ended_or_stalled(), EndOfWork::AllEnded);
  EXPECT_EQ(scheduler.live_tasks(), 0u);
}

// Outside work that holds the scheduler (as the I/O thread does) keeps
// its waiting tasks from counting as stalled. Each round: a task takes a
// hold while it runs, hands a promise to an "I/O" thread and suspends; the
// thread settles the promise, which wakes the task, and only then
// releases. The woken task may start the next operation at once, so holds
// and wakes race in every order the protocol allows; the wait must only
// ever see the end.
TEST(SchedulerStress, HoldsKeepWaitingTasksFromCountingAsStalled) {
  constexpr int kRounds = kSanitized ? 50 : 400;
  constexpr int kOperationsPerTask = 20;
  constexpr int kTasks = 4;
  Scheduler scheduler(2);
  for (int round = 0; round < kRounds; ++round) {
    std::mutex lock;
    std::condition_variable ready;
    std::deque<PromiseCore*> inbox;
    bool quit = false;
    std::thread io([&] {
      for (;;) {
        PromiseCore* promise = nullptr;
        {
          std::unique_lock guard(lock);
          ready.wait(guard, [&] { return quit || !inbox.empty(); });
          if (inbox.empty()) return;
          promise = inbox.front();
          inbox.pop_front();
        }
        ASSERT_TRUE(promise->try_settle(Outcome::Success));
        scheduler.release();  // after the wake it caused
      }
    });
    std::vector<std::unique_ptr<PromiseCore>> promises;
    for (int i = 0; i < kTasks * kOperationsPerTask; ++i) {
      promises.push_back(std::make_unique<PromiseCore>());
    }
    std::atomic<int> next_promise{0};
    for (int t = 0; t < kTasks; ++t) {
      TaskRef task = spawn_fn(scheduler, [&](FnTask& self) {
        if (self.runs.load(std::memory_order_relaxed) > kOperationsPerTask) {
          return RunResult::Completed;
        }
        PromiseCore* promise = promises[next_promise.fetch_add(1)].get();
        if (self.waker.in_use()) self.waker.withdraw();
        scheduler.hold();  // while this task runs: active never passes zero
        {
          std::lock_guard guard(lock);
          inbox.push_back(promise);
        }
        ready.notify_one();
        if (self.waker.register_on(*promise, self) == AddWaiterResult::Registered) {
          return RunResult::Suspended;
        }
        return RunResult::Yielded;
      });
    }
    ASSERT_EQ(scheduler.wait_until_ended_or_stalled(), EndOfWork::AllEnded) << "round " << round;
    {
      std::lock_guard guard(lock);
      quit = true;
    }
    ready.notify_one();
    io.join();
  }
  EXPECT_EQ(scheduler.active_tasks(), 0u);
}

// Peaks are exact: the most tasks alive at once and the most suspended.
TEST(Scheduler, PeakLiveAndSuspendedAreExact) {
  constexpr int kTasks = 100;
  Scheduler scheduler(2);
  PromiseCore promise;
  for (int i = 0; i < kTasks; ++i) {
    TaskRef t = spawn_fn(scheduler, [&](FnTask& self) {
      if (self.runs.load(std::memory_order_relaxed) == 1 &&
          self.waker.register_on(promise, self) == AddWaiterResult::Registered) {
        return RunResult::Suspended;
      }
      return RunResult::Completed;
    });
  }
  scheduler.wait_until_quiescent();
  ASSERT_TRUE(promise.try_settle(Outcome::Success));
  scheduler.wait_for_all_tasks_ended();
  const SchedulerStats stats = scheduler.stats();
  EXPECT_EQ(stats.peak_live, static_cast<std::uint64_t>(kTasks));
  EXPECT_EQ(stats.peak_suspended, static_cast<std::uint64_t>(kTasks));
}

// Client events counted on workers and outside threads all reach the total.
TEST(Scheduler, ClientEventsAreSummedOverAllThreads) {
  constexpr int kTasks = 200;
  Scheduler scheduler(2);
  for (int i = 0; i < kTasks; ++i) {
    TaskRef t = spawn_fn(scheduler, [&](FnTask&) {
      for (int n = 0; n < 5; ++n) scheduler.count_client_event(3);
      return RunResult::Completed;
    });
  }
  std::thread outside([&] {
    for (int n = 0; n < 500; ++n) scheduler.count_client_event(3);
  });
  outside.join();
  scheduler.wait_for_all_tasks_ended();
  EXPECT_EQ(scheduler.client_event_total(3), static_cast<std::uint64_t>(kTasks * 5 + 500));
  EXPECT_EQ(scheduler.client_event_total(2), 0u);
}

}  // namespace
