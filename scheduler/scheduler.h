// The Scheduler: runs Tasks on a oneTBB work-stealing arena of N worker
// threads, and knows how many tasks are alive.
//
// Implementation overview
// =======================
// A task enters a run queue as a small TBB closure [scheduler, task,
// origin] that calls run_task(). Each queue entry owns one task reference
// (task.h, rule 5). Where the entry goes:
//
//   caller                               route       TBB call
//   a worker of this arena: spawn, wake  Ready       the worker's run-next slot
//                                                    (Locality below); the task it
//                                                    displaces: task_group::run,
//                                                    the worker's own deque (LIFO,
//                                                    stolen FIFO)
//   a worker, every fair_wake_interval-  Behind      task_arena::enqueue: the
//     th wake that finds its run-next                arena's shared FIFO stream
//     slot taken; any Yielded task
//   any other thread (I/O, host, main)   either      task_arena::enqueue
//   an outside thread that batches       either      kept until its flush_batch(),
//     (the I/O thread, see Batches)                  then one task_arena::enqueue
//                                                    per kBatchChunk tasks
//
// Why task_group::run for work made on a worker: fork-join trees stay on
// the worker that made them and are stolen by idle workers from the cold
// end, instead of all going through one shared stream. bench/micro/
// scheduler_bench.cpp measures both policies (WorkerSpawn::LocalDeque and
// ::SharedQueue; "migrated" counts runs that changed worker) and records
// the numbers in its header: through the local deque a fork-join tree
// costs a quarter or less per task and almost never migrates (0.006% of
// runs on 2 workers); through the shared stream ~45% of runs move to
// another worker. Every closure, enqueued or spawned, belongs to one
// task_group, so the destructor can wait for the last closure to return
// (shutdown rule 3).
//
// Why yields go Behind: a TBB worker takes its own deque before the shared
// stream, so a yielding task put back on its deque would run again at once
// and starve the rest. In the shared stream it queues behind all ready
// work. For the same reason every fair_wake_interval-th wake made on a
// worker that finds the run-next slot taken (so that it would push a task
// into the deque) goes Behind too: two tasks that keep waking each other
// would otherwise keep their worker's deque non-empty forever and starve
// the tasks that the I/O thread enqueued. A wake into an empty run-next
// slot is not counted and always goes there: it adds nothing to the deque,
// and Locality rule 3 sends the tasks of the slot Behind after about
// kLocalRunTime. (An actor ring, each hop one such wake, would
// otherwise leave its worker's local run every fair_wake_interval hops,
// for a task_arena::enqueue, an allocation and a shared-stream take.)
//
// The run of one entry (run_task), by the worker that dequeued it:
//   1. transition_to_running (task.h rule 1), then task.run(budget).
//   2. Completed: transition_to_complete, delete the task if that was the
//      last reference, then count it ended.
//      Suspended: transition_to_idle; Reschedule means a wake arrived while
//      it ran (task.h rule 2): queue it again (Ready) with the same
//      reference; Idle: count it inactive; IdleLastRef: nobody can wake it:
//      delete it and count it ended (abandoned).
//      Yielded: transition_to_yielded and queue it Behind.
//      Lingered: transition_to_yielded and keep it for this worker
//      (Locality rule 2).
//      Dormant: transition_to_idle as for Suspended, but Idle counts it
//      ended (task.h rule 8), and IdleLastRef is not an abandonment.
//
// Locality
// --------
// A message or a wake hands work from one task to another; if the woken
// task runs on another worker, every hand-off moves the task's and the
// message's memory between cores (and the allocator's blocks with them).
// Go's and Tokio's schedulers keep a "run next" slot per worker for this;
// so does this one. The slots live in the run's WorkerContext, on the
// worker's stack: only that thread touches them.
//   1. A task that a run on a worker spawns or wakes (route Ready) goes to
//      that worker's run-next slot; the task it displaces goes to the
//      worker's deque, where idle workers can steal it. So only one task
//      per worker is out of the thieves' reach, and only until the
//      current run ends (at most one budget of instructions or one long
//      native call).
//   2. A task that lingers (RunResult::Lingered: an actor's activation
//      looking at its empty mailbox once more before it ends) is kept in
//      a FIFO of kLingerSlots on its worker, run after the run-next task:
//      two actors that message each other then alternate on one worker
//      without new activations. While the FIFO is full its oldest task
//      runs before the run-next task: it has waited kLingerSlots runs
//      since it lingered (in a chain of actors, where each run wakes the
//      next and the slot is never empty, nothing else would take it out
//      before the end of the entry, and each linger would cost a shared-
//      stream enqueue). So the FIFO has room after every run; should it
//      not (a carried context), the task goes Behind.
//   3. After the entry's own run, the worker runs its local tasks (run-next
//      first, then the lingering FIFO) in the same closure; once it has
//      made kLocalRunLimit runs and then run for kLocalRunTime more (it
//      reads the clock every kLocalRunLimit runs, so short entries never
//      do), it queues the rest Behind, together as one entry (so that two
//      tasks handing work to each other move to another worker together,
//      not one each), and returns to oneTBB, so tasks the I/O thread
//      enqueued (which oneTBB takes only when the local deque is empty)
//      wait at most about kLocalRunTime. The time, not a count alone: each
//      hand-back wakes an idle worker to take the entry, and an actor ring
//      (a run of a microsecond or less per hop) handed back every 64 runs
//      spent a sixth of its time at two workers on that.
//
// Batches
// -------
// The I/O thread completes many promises in one handler (every timer due
// at one instant: a hundred thousand sleeps of one length end within a
// few milliseconds) and each wakes a task. One task_arena::enqueue per
// wake costs the I/O thread an allocation (oneTBB's, with glibc's malloc
// for a thread outside the arena), a push on the arena's shared stream
// and a look for a sleeping worker: measured, nearly half of its time per
// timer, and the I/O thread then falls behind its timers. So:
//   1. An outside thread that calls start_batching_here() keeps the tasks
//      it queues (spawns and wakes; their counts are taken as for any
//      queueing, before they are kept) in a batch of its own, a
//      thread_local list, until it calls flush_batch(), or until the list
//      holds kBatchLimit tasks (then the submit flushes it: a handler that
//      wakes tens of thousands does not keep the workers idle until it
//      ends). It must flush before it waits or blocks (the I/O thread
//      flushes after every handler), or the tasks kept would never run.
//   2. flush_batch() queues the batch in chunks of up to kBatchChunk tasks,
//      one task_arena::enqueue each. The worker that runs a chunk's entry
//      puts all but its first task in its own deque (task_group::run,
//      where idle workers steal them) and runs the first: the tasks of a
//      chunk still run in parallel.
//   3. stop_batching_here() flushes and ends the batching; the thread's
//      later submits are enqueued one by one again.
//
// Task counts: counts_ is one 64-bit word,
//
//    63                              32 31                               0
//   +----------------------------------+----------------------------------+
//   | live: spawned, not yet ended     | active: SCHEDULED or RUNNING,    |
//   |                                  |   plus holds (see "Holds")       |
//   +----------------------------------+----------------------------------+
//
//   spawn            live+1, active+1   (before the task is queued)
//   wake -> Submit   active+1           (before the task is queued)
//   wake -> Revive   live+1, active+1   (before the task is queued)
//   Dormant, Idle    live-1, active-1   (after transition_to_idle; netted)
//   Suspended, Idle  active-1           (after transition_to_idle)
//   Completed        live-1, active-1   (after the task may be deleted; netted)
//   abandoned        live-1             (after the delete; netted when it is
//                                        the run's IdleLastRef)
//   hold / release   active+1 / active-1
// At most one read-modify-write per task event, on a line of its own; an
// increment always happens before the decrement it matches (it precedes
// the queueing that leads to the run), so the fields never underflow. A
// suspended task is live but not active. Each decrement that leaves a
// field at zero bumps zero_epoch_ and notifies it (std::atomic::wait, a
// futex: no polling); the waits re-check the counts after each wake-up.
//
// Count netting: a message passed along a chain of actors costs, per hop,
// a Revive (+1, +1) of the receiver and a Dormant (-1, -1) of the sender,
// on one worker; as two RMWs on a shared line they were a tenth of a hop.
// So the decrements marked "netted" above, made by a worker at the end of
// a run, are not made on counts_ at once:
//   1. They add up in the run's WorkerContext (`uncounted`, a delta of the
//      word). Only increments are made on counts_ at once, never deferred,
//      so the word is never below the true count in either field: a wait
//      may see zero later than it happens, never before.
//   2. An increment made on that worker (a spawn or a wake by its running
//      task) while `uncounted` holds an active unit takes the unit (both
//      fields for a spawn or a Revive) from `uncounted` instead of adding
//      to counts_: the word is left where it was, at or above the truth.
//   3. run_entry flushes `uncounted` (one sub_counts) before it returns to
//      oneTBB, which may put the worker to sleep, and before it carries its
//      local tasks to another entry (the context is copied there); a
//      Suspended run's decrement takes it along in the same RMW.
//   4. No zero is missed: between a run's end and the flush, the worker
//      either runs another task of its entry (scheduled, so counted live
//      and active until that run ends) or flushes at once, so the true
//      fields do not reach zero there; the flush's sub_counts bumps
//      zero_epoch_ if the word reaches zero, as any decrement does.
//   5. The release of the flush publishes the ended runs' writes to a
//      waiter as each decrement's release did (it comes later in this
//      thread's program order); a netted decrement never reaches the word,
//      and the waiter sees no zero until a later decrement does.
//   6. A word whose active field is zero is exact in both fields. Every
//      uncounted active unit is in the word's active field, so none is
//      pending anywhere; and `uncounted` holds live units without active
//      ones only after a Submit took the last active unit (2), which
//      happens while a task of the entry is still counted (the running
//      one, or the one whose end is being recorded: run_one deletes a
//      task before it adds its end); that end then adds an active unit
//      back, or a Suspended run's RMW flushes it all.
// So deadlock detection (Holds, below), which needs active == 0 with
// live > 0 in one load, sees no stall that is not there, and sees one at
// most one entry of runs after it begins (at the flush).
//
// Quiescence is a snapshot: an external thread may wake a task right after
// wait_until_quiescent() saw active == 0. Only wakes made by a running task
// cannot race with it, because the running task keeps active above zero.
//
// Holds: work outside the scheduler that will wake a task later (the I/O
// thread while it has operations in flight, a promise an embedding host
// completes from its own thread) counts in `active` too, one unit per
// hold(), until its release(). The holder must take the hold before the
// work can complete (while the task that starts it still runs, so active
// never passes through zero in between) and release it only after the
// wakes it causes (their active+1 precede its active-1). Then one load of
// counts_ that reads active == 0 with live > 0 proves that no task can
// ever run again: nothing runs, nothing is queued, and nothing outside
// holds a promise that could wake one. wait_until_ended_or_stalled() uses
// that to detect deadlocks without a lock or a second word to compare
// (a flag in another word would be read at a different instant).
//
// Peaks: each thread that makes counts_ reach a new value sees it in the
// result of its own read-modify-write; it records the live count after
// spawns, and the suspended count (live - active + holds) after
// suspensions, in its statistics slot (a max). Both subtract the
// recorder's own uncounted ends (Count netting): a spawn records the word
// less them (a spawn that nets changes no word, so it loads it), and a
// suspension's RMW takes them off first. So on one worker the peak live
// is exact; with several it may exceed the truth by the ends other
// workers have not flushed yet (at most a run entry's each), and so may
// the suspended peak by the active units their wakes took from those. A
// revived task is live again without a record (as it always was).
// holds_ is a separate word, so the suspended peak may also be one off
// while holds are taken or released.
//
// Statistics: per-worker slots, each on its own cache lines, written only
// by the thread that holds that TBB arena slot (load + store, no
// read-modify-write, no shared line; oneTBB makes at least two slots per
// arena); threads outside the arena use one extra slot with fetch_add.
// stats() sums them on demand, relaxed, so the totals are only exact once
// the scheduler is quiescent.
//
// Threads: the arena has max_concurrency N and no slot reserved for an
// external thread, so N TBB workers run tasks and no other thread needs to
// join. oneTBB's worker pool is process-wide and by default holds
// hardware_concurrency - 1 threads; each Scheduler therefore holds a
// tbb::global_control that allows N + 1 (the + 1 is TBB's count of the
// external thread). While several are alive the smallest limit wins and
// they share the pool: one Scheduler per process is the intended use.
//
// Shutdown rules
// --------------
//   1. The owner first stops every source of new work: the root task is
//      done, outside threads (the I/O thread) no longer wake or spawn.
//   2. wait_for_all_tasks_ended(): every spawned task has completed or been
//      abandoned (task.h rule 5). A task suspended on a promise that will
//      never settle is still live: settle or cancel the promise first (a
//      promise destroyed while pending wakes its waiters, promise.h).
//   3. The destructor waits (task_group::wait inside the arena) for the
//      closures still returning after their task's final count update,
//      then the arena and the global_control are released.
//   4. Destroying the scheduler while tasks are live is a bug (asserted):
//      a later wake would use it.
#pragma once

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "scheduler/task.h"

namespace weft {

// Where a worker of the arena puts the tasks it spawns and wakes.
enum class WorkerSpawn : std::uint8_t {
  LocalDeque,   // task_group::run: its own deque, stolen by idle workers
  SharedQueue,  // task_arena::enqueue: the shared FIFO stream
};

struct SchedulerOptions {
  unsigned workers = 0;           // 0: std::thread::hardware_concurrency()
  std::uint32_t budget = 10'000;  // handed to Task::run
  WorkerSpawn worker_spawn = WorkerSpawn::LocalDeque;
  // Every Nth wake made on a worker that finds its run-next slot taken goes
  // to the shared stream (fairness, see "Why yields go Behind"); 0
  // disables that.
  unsigned fair_wake_interval = 32;
  // --trace: run segments, spawn and wake flows go here (it must outlive
  // the scheduler, and have a track per arena slot: max(workers, 2)).
  // Null: nothing is recorded, one branch per event.
  TraceRecorder* trace = nullptr;
  // Called on each worker thread as it joins the pool, before it runs a
  // task, and again whenever it comes back after leaving it (so it must be
  // cheap to repeat). Empty: nothing is called. The weft command prepares
  // the thread's malloc arena there (cli/malloc_arena.h).
  std::function<void()> on_worker_entry{};
};

// Totals since construction. Exact once the scheduler is quiescent.
struct SchedulerStats {
  std::uint64_t spawned = 0;           // spawn() calls
  std::uint64_t completed = 0;         // run() returned Completed
  std::uint64_t abandoned = 0;         // last reference dropped before completion
  std::uint64_t runs = 0;              // run() calls
  std::uint64_t suspended = 0;         // Suspended and went idle
  std::uint64_t notified_reruns = 0;   // Suspended but woken while running
  std::uint64_t preempted = 0;         // Yielded (budget spent)
  std::uint64_t dormant = 0;           // Dormant and went idle (task.h rule 8)
  std::uint64_t wakes = 0;             // wakes that queued an idle task
  std::uint64_t migrated = 0;          // runs on another worker than the queuer
  std::uint64_t external_submits = 0;  // entries queued from outside the arena
  std::uint64_t peak_live = 0;         // most tasks alive at once
  // Most tasks alive and not active at once, read at each suspension as
  // live - (active - holds); a hold taken or released at that moment may
  // make it one off.
  std::uint64_t peak_suspended = 0;
};

// How wait_until_ended_or_stalled() returned.
enum class EndOfWork : std::uint8_t {
  AllEnded,  // every spawned task has ended
  Stalled,   // tasks are live, none is active and nothing holds: they wait forever
};

// The number of per-slot counters a client of the scheduler may use for
// its own events (Scheduler::count_client_event); the scheduler only sums them.
inline constexpr unsigned kClientCounters = 12;

class Scheduler {
 public:
  explicit Scheduler(unsigned workers = std::thread::hardware_concurrency());
  explicit Scheduler(const SchedulerOptions& options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Binds a NEW task to this scheduler and queues it; it counts as live
  // until it completes or is abandoned. The caller keeps its own reference.
  // Any thread.
  void spawn(Task& task);
  void spawn(const TaskRef& task) { spawn(*task); }

  [[nodiscard]] unsigned workers() const noexcept { return workers_; }
  [[nodiscard]] std::uint32_t budget() const noexcept { return budget_; }
  // Spawned and not yet ended (suspended tasks included).
  [[nodiscard]] std::uint64_t live_tasks() const noexcept;
  // SCHEDULED or RUNNING, plus outside holds (see "Holds").
  [[nodiscard]] std::uint64_t active_tasks() const noexcept;

  // Block until no task is scheduled or running (tasks may be suspended).
  // Not from a worker of this scheduler (it would wait for itself).
  void wait_until_quiescent();
  // Block until every spawned task has ended (live_tasks() == 0). Not from
  // a worker of this scheduler.
  void wait_for_all_tasks_ended();

  // Block until every spawned task has ended, or until tasks are live but
  // none is scheduled or running and nothing holds (see "Holds" above):
  // they can never run again. Not from a worker of this scheduler.
  [[nodiscard]] EndOfWork wait_until_ended_or_stalled();

  // Outside work that will wake a task later (see "Holds"). Any thread.
  void hold() noexcept;
  void release() noexcept;

  // Batches (above), for a thread outside the arena. flush_batch() and
  // stop_batching_here() are no-ops on a thread that does not batch.
  void start_batching_here();
  void flush_batch();
  void stop_batching_here();

  // Totals over all workers and outside threads.
  [[nodiscard]] SchedulerStats stats() const noexcept;
  // Counts one event of the client's own kind `which` (< kClientCounters)
  // in the calling thread's slot: no shared cache line on a worker.
  void count_client_event(unsigned which) noexcept;
  // The sum over all slots. Exact once the events' threads are done.
  [[nodiscard]] std::uint64_t client_event_total(unsigned which) const noexcept;
  // What happened on one arena slot (slot < stats_slots() - 1), or, for
  // the last slot, on threads outside the arena.
  [[nodiscard]] SchedulerStats slot_stats(unsigned slot) const noexcept;
  [[nodiscard]] unsigned stats_slots() const noexcept { return arena_slots_ + 1; }

  // The scheduler whose task the calling thread is running, or null.
  [[nodiscard]] static Scheduler* current() noexcept;

 private:
  friend class Task;

  enum class Route : std::uint8_t { Ready, Behind };
  enum Counter : unsigned {
    kSpawned,
    kCompleted,
    kAbandoned,
    kRuns,
    kSuspended,
    kNotifiedReruns,
    kPreempted,
    kDormant,
    kWakes,
    kMigrated,
    kExternalSubmits,
    kPeakLive,       // a max, not a count
    kPeakSuspended,  // a max, not a count
    kClientFirst,
    kCounterCount = kClientFirst + kClientCounters,
  };
  // Per-slot statistics; see "Statistics" above for who writes them.
  struct alignas(64) StatsSlot {
    std::atomic<std::uint64_t> counters[kCounterCount] = {};
    // Wakes queued by this worker into a taken run-next slot, for
    // fair_wake_interval.
    std::atomic<std::uint32_t> wakes_queued{0};
  };
  struct WorkerContext;
  class WorkerEntryObserver;
  // Locality: tasks that lingered kept for this worker, and runs of local
  // tasks before the worker goes back to oneTBB.
  static constexpr unsigned kLingerSlots = 4;
  static constexpr unsigned kLocalRunLimit = 64;
  static constexpr std::chrono::microseconds kLocalRunTime{500};
  // Batches rules 1 and 2: tasks per enqueued entry, and the most a batch
  // keeps before it is flushed.
  static constexpr unsigned kBatchChunk = 16;
  static constexpr unsigned kBatchLimit = 8 * kBatchChunk;
  struct BatchChunk {
    std::array<Task*, kBatchChunk> tasks;
    unsigned count;
  };

  static constexpr std::uint64_t kActiveOne = 1;
  static constexpr std::uint64_t kLiveOne = std::uint64_t{1} << 32;
  static constexpr std::uint64_t kActiveMask = kLiveOne - 1;

  // Queues a task that is SCHEDULED and whose queue reference is taken
  // (`worker`: this_worker()).
  void submit(Task& task, Route route, WorkerContext* worker);
  // Task::wake()/cancel() got Submit or Revive.
  void submit_woken(Task& task, WakeAction action);
  // Ready, or Behind for every fair_wake_interval-th wake on a worker that
  // finds its run-next slot taken (`worker`: this_worker()).
  [[nodiscard]] Route wake_route(WorkerContext* worker) noexcept;
  // --trace: a flow from here (spawn or wake) to the task's next run.
  void trace_flow_to(Task& task, WorkerContext* worker, bool first) noexcept;
  // Task::unref() deleted a spawned task that never completed.
  void task_abandoned() noexcept;
  // One queue entry (see the run of one entry above), then what it left to
  // run on this worker (Locality). noexcept: rule 7.
  void run_task(Task& task, int origin) noexcept;
  // One run of one task: steps 1 and 2 above. `index`: this thread's arena
  // slot as oneTBB numbers it.
  void run_one(Task& task, int origin, int index, WorkerContext& context) noexcept;
  // A queue entry: `first`, then the local tasks (those `context` carries
  // and those the runs leave), Locality rule 3.
  void run_entry(Task& first, int origin, WorkerContext context) noexcept;
  // The entry of a flushed chunk (Batches rule 2).
  void run_chunk(const BatchChunk& chunk) noexcept;

  // Both return the word after the change.
  std::uint64_t add_counts(std::uint64_t delta) noexcept;
  std::uint64_t sub_counts(std::uint64_t delta) noexcept;
  // Count netting ("Task counts"): true if the increment `delta` cancelled
  // against `worker`'s uncounted ends instead (`worker`: this_worker(),
  // null outside the arena: false).
  [[nodiscard]] bool net_increment(WorkerContext* worker, std::uint64_t delta) noexcept;
  // Takes the context's uncounted ends off counts_ (one RMW, if any).
  void flush_uncounted(WorkerContext& context) noexcept;
  // Raises the slot's `peak` to `value` if below (`worker`: this_worker()).
  void record_peak(WorkerContext* worker, Counter peak, std::uint64_t value) noexcept;
  template <class Done>
  void wait_for(Done done);

  // The calling thread's context if it is running a task of this scheduler.
  [[nodiscard]] WorkerContext* this_worker() const noexcept;
  void count(Counter counter) noexcept { count(this_worker(), counter); }
  void count(WorkerContext* worker, Counter counter) noexcept;

  const unsigned workers_;
  const std::uint32_t budget_;
  const WorkerSpawn worker_spawn_;
  const unsigned fair_wake_interval_;
  TraceRecorder* const trace_;
  // Declared before arena_ so that it is alive while the arena is.
  tbb::global_control parallelism_;
  tbb::task_arena arena_;
  tbb::task_group group_;
  // Calls SchedulerOptions::on_worker_entry; null without one. Made after
  // the arena is initialized and dropped before it is terminated.
  std::unique_ptr<WorkerEntryObserver> entry_observer_;

  // Written by spawn/wake/run_task on any thread (one RMW per task event);
  // read by the waits and live_tasks()/active_tasks().
  alignas(64) std::atomic<std::uint64_t> counts_{0};
  // Bumped and notified when a field of counts_ reaches zero; waited on by
  // wait_until_quiescent() and wait_for_all_tasks_ended().
  alignas(64) std::atomic<std::uint32_t> zero_epoch_{0};
  // Holds taken and not released, for the peak-suspended statistic only
  // (the deadlock check reads counts_ alone).
  std::atomic<std::uint64_t> holds_{0};
  // oneTBB's slot count for this arena: max(workers_, 2).
  const unsigned arena_slots_;
  // arena_slots_ slots indexed by TBB arena slot, then one for outside
  // threads (and any slot index out of range).
  std::unique_ptr<StatsSlot[]> stats_;
};

}  // namespace weft
