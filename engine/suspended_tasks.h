// SuspendedTasks: the script tasks that are suspended right now, listed so
// that the deadlock report and the task dump (kill -QUIT,
// --dump-tasks-after) can say what each waits for and show its stack,
// without stopping the world.
//
// Protocol
// --------
//   1. A task is listed between its suspension and its next run: the worker
//      in ScriptTask::run() adds it after the task's state is final for
//      this suspension (its frames, what it waits for) and before run()
//      returns Suspended; the next run() removes it first thing, before it
//      touches any of that state; the destructor removes it if it is still
//      listed (a suspended task nobody can wake any more is deleted
//      without running again). Task rule 1 orders one run after the
//      previous, so add and remove of one task never race.
//   2. Both take the task's shard lock (a std::mutex: a dump may hold it
//      for as long as formatting that shard's tasks takes; a resuming
//      task then waits, a sleep in the kernel, not a spin).
//   3. for_each() visits each shard under its lock. A visited task can
//      neither resume (its next run must remove it first) nor be freed
//      (its destructor must remove it first), so the visitor may read its
//      frames and what it waits for from any thread. The visitor must not
//      take another shard's lock, wake a task or run script code.
//   4. The shard is chosen by the task's address: a task stays in one
//      shard for its life, and tasks suspending on different workers
//      rarely share a lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

namespace weft {

class ScriptTask;

// The links a ScriptTask carries for its list. Touched only under the
// shard lock of that task (rule 2).
struct SuspendedLink {
  ScriptTask* prev = nullptr;
  ScriptTask* next = nullptr;
  bool listed = false;
};

class SuspendedTasks {
 public:
  SuspendedTasks() = default;
  SuspendedTasks(const SuspendedTasks&) = delete;
  SuspendedTasks& operator=(const SuspendedTasks&) = delete;

  void add(ScriptTask& task);
  // No-op when the task is not listed.
  void remove(ScriptTask& task);
  // Calls `visit` for every listed task, one shard at a time (rule 3).
  void for_each(const std::function<void(ScriptTask&)>& visit);

 private:
  static constexpr std::size_t kShards = 64;
  struct alignas(64) Shard {
    std::mutex lock;
    ScriptTask* head = nullptr;
  };
  static Shard& shard_of(std::array<Shard, kShards>& shards, const ScriptTask& task);

  std::array<Shard, kShards> shards_;
};

}  // namespace weft
