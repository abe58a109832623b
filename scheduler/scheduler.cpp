// The Scheduler's queues, counts and waits. The protocol (routes, the run
// of one entry, the count word, shutdown rules) is in scheduler.h; this
// file gives each memory ordering its reason.
#include "scheduler/scheduler.h"

#include <tbb/task_scheduler_observer.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <utility>
#include <vector>

#include "scheduler/trace_recorder.h"

namespace weft {

// Set by run_task for the length of one run, so that spawn and wake can
// tell "a worker of this arena" (use its deque and its statistics slot)
// from every other thread. Per-thread context rather than global state:
// several schedulers may coexist, each sees only its own workers.
struct Scheduler::WorkerContext {
  Scheduler* scheduler;
  unsigned slot;  // TBB arena slot, < arena_slots_ (else the shared slot)
  // Locality (scheduler.h): run on this worker before it goes back to
  // oneTBB. Each holds the queue reference of its task. Only this thread
  // touches them: the context lives on its stack.
  Task* run_next = nullptr;
  std::array<Task*, kLingerSlots> lingering{};  // oldest first
  unsigned lingering_count = 0;
  // Count netting (scheduler.h, "Task counts"): the decrements of this
  // entry's runs not yet taken off counts_, as a delta of the word (live
  // field >= active field). Only this thread touches it; run_entry flushes
  // it before it returns or carries the context away.
  std::uint64_t uncounted = 0;

  bool has_local() const noexcept { return run_next != nullptr || lingering_count != 0; }
  Task* take_local() noexcept {
    // Locality rule 2: the oldest lingering task first while the FIFO is full.
    if (run_next != nullptr && lingering_count < kLingerSlots) {
      return std::exchange(run_next, nullptr);
    }
    if (lingering_count == 0) return nullptr;
    Task* oldest = lingering[0];
    std::copy(lingering.begin() + 1, lingering.begin() + lingering_count, lingering.begin());
    --lingering_count;
    return oldest;
  }
};

// SchedulerOptions::on_worker_entry, called by oneTBB on the worker
// itself each time it joins the arena.
class Scheduler::WorkerEntryObserver final : public tbb::task_scheduler_observer {
 public:
  WorkerEntryObserver(tbb::task_arena& arena, std::function<void()> hook)
      : tbb::task_scheduler_observer(arena), hook_(std::move(hook)) {
    observe(true);
  }
  ~WorkerEntryObserver() override { observe(false); }
  WorkerEntryObserver(const WorkerEntryObserver&) = delete;
  WorkerEntryObserver& operator=(const WorkerEntryObserver&) = delete;

  void on_scheduler_entry(bool is_worker) override {
    if (is_worker) hook_();
  }

 private:
  const std::function<void()> hook_;
};

namespace {
thread_local constinit void* tls_context = nullptr;

// An outside thread's batch (Batches in scheduler.h): the tasks it queued
// for `scheduler` since its last flush. Only its own thread touches it.
struct OutsideBatch {
  const Scheduler* scheduler = nullptr;
  std::vector<Task*> tasks;
};
thread_local OutsideBatch tls_batch;

unsigned resolve_workers(unsigned requested) {
  if (requested == 0) requested = std::thread::hardware_concurrency();
  return std::max(requested, 1u);
}
}  // namespace

Scheduler::Scheduler(unsigned workers) : Scheduler(SchedulerOptions{.workers = workers}) {}

Scheduler::Scheduler(const SchedulerOptions& options)
    : workers_(resolve_workers(options.workers)),
      budget_(options.budget),
      worker_spawn_(options.worker_spawn),
      fair_wake_interval_(options.fair_wake_interval),
      trace_(options.trace),
      parallelism_(tbb::global_control::max_allowed_parallelism, workers_ + 1),
      arena_(static_cast<int>(workers_), /*reserved_for_masters=*/0),
      arena_slots_(std::max(workers_, 2u)),
      stats_(std::make_unique<StatsSlot[]>(arena_slots_ + 1)) {
  arena_.initialize();
  if (options.on_worker_entry) {
    entry_observer_ = std::make_unique<WorkerEntryObserver>(arena_, options.on_worker_entry);
  }
}

Scheduler::~Scheduler() {
  // Shutdown rules 2 and 4 (scheduler.h).
  assert(live_tasks() == 0 && "destroying a scheduler with live tasks");
  // Rule 3: wait for the closures whose tasks already ended but that have
  // not returned yet. task_group::wait must run inside the arena.
  arena_.execute([this] { group_.wait(); });
  entry_observer_.reset();
  arena_.terminate();
}

Scheduler* Scheduler::current() noexcept {
  auto* context = static_cast<WorkerContext*>(tls_context);
  return context != nullptr ? context->scheduler : nullptr;
}

Scheduler::WorkerContext* Scheduler::this_worker() const noexcept {
  auto* context = static_cast<WorkerContext*>(tls_context);
  return context != nullptr && context->scheduler == this ? context : nullptr;
}

void Scheduler::count(WorkerContext* worker, Counter counter) noexcept {
  if (worker != nullptr && worker->slot < arena_slots_) {
    // Relaxed load + store, not an RMW: only the thread in this arena slot
    // writes it (slot hand-overs are ordered inside oneTBB), and the
    // counter publishes nothing; stats() reads it relaxed.
    std::atomic<std::uint64_t>& c = stats_[worker->slot].counters[counter];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  } else {
    // Relaxed RMW: many outside threads share this slot; a statistic only.
    stats_[arena_slots_].counters[counter].fetch_add(1, std::memory_order_relaxed);
  }
}

std::uint64_t Scheduler::add_counts(std::uint64_t delta) noexcept {
  // Relaxed: an increment publishes nothing. It precedes the matching
  // decrement through the queue hand-off (it is made before the entry is
  // queued, or for a hold before the outside work can complete), and the
  // waits act only on the decrements' releases.
  return counts_.fetch_add(delta, std::memory_order_relaxed) + delta;
}

bool Scheduler::net_increment(WorkerContext* worker, std::uint64_t delta) noexcept {
  // Count netting: an increment this worker owes to counts_ may instead
  // cancel a decrement it has not yet made there. The word then stays where
  // it is, and it was at least the true count before, so it still is.
  // `uncounted` holds (live, active) pairs and takes away active-only
  // deltas, so its live field is never below its active field: a delta of
  // kActiveOne or kLiveOne | kActiveOne fits whenever the active field does.
  if (worker == nullptr || (worker->uncounted & kActiveMask) == 0) return false;
  assert((worker->uncounted >> 32) >= (worker->uncounted & kActiveMask));
  worker->uncounted -= delta;
  return true;
}

void Scheduler::flush_uncounted(WorkerContext& context) noexcept {
  if (context.uncounted == 0) return;
  (void)sub_counts(std::exchange(context.uncounted, 0));
}

std::uint64_t Scheduler::sub_counts(std::uint64_t delta) noexcept {
  // Release: a waiter that reads the result (acquire in wait_for and the
  // accessors) sees everything the ended or suspended task did. Later
  // decrements by other threads continue the release sequence, so a waiter
  // that reads zero synchronizes with every earlier decrement.
  const std::uint64_t now = counts_.fetch_sub(delta, std::memory_order_release) - delta;
  // Active reaching zero covers "live reached zero" too, except while
  // something holds (live may then reach zero with active above it).
  if ((now & kActiveMask) == 0 || (now >> 32) == 0) {
    // Release: pairs with the acquire load of zero_epoch_ in wait_for, so
    // a waiter that sees the new epoch also sees this decrement.
    zero_epoch_.fetch_add(1, std::memory_order_release);
    // A 32-bit wait: libstdc++ notifies through the futex and skips the
    // system call when nobody waits.
    zero_epoch_.notify_all();
  }
  return now;
}

void Scheduler::record_peak(WorkerContext* worker, Counter peak, std::uint64_t value) noexcept {
  if (worker != nullptr && worker->slot < arena_slots_) {
    // Relaxed load + store: only this slot's thread writes it (see count).
    std::atomic<std::uint64_t>& p = stats_[worker->slot].counters[peak];
    if (value > p.load(std::memory_order_relaxed)) p.store(value, std::memory_order_relaxed);
    return;
  }
  // Relaxed CAS loop: outside threads share the last slot; a statistic.
  std::atomic<std::uint64_t>& p = stats_[arena_slots_].counters[peak];
  std::uint64_t seen = p.load(std::memory_order_relaxed);
  while (value > seen && !p.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

void Scheduler::hold() noexcept {
  // Relaxed: holds_ only corrects the peak-suspended statistic.
  holds_.fetch_add(1, std::memory_order_relaxed);
  add_counts(kActiveOne);
}

void Scheduler::release() noexcept {
  sub_counts(kActiveOne);
  // Relaxed: as in hold().
  holds_.fetch_sub(1, std::memory_order_relaxed);
}

void Scheduler::count_client_event(unsigned which) noexcept {
  assert(which < kClientCounters);
  count(static_cast<Counter>(kClientFirst + which));
}

std::uint64_t Scheduler::client_event_total(unsigned which) const noexcept {
  assert(which < kClientCounters);
  std::uint64_t total = 0;
  for (unsigned slot = 0; slot < stats_slots(); ++slot) {
    // Relaxed: a statistic (see slot_stats).
    total += stats_[slot].counters[kClientFirst + which].load(std::memory_order_relaxed);
  }
  return total;
}

std::uint64_t Scheduler::live_tasks() const noexcept {
  // Acquire: pairs with sub_counts' release (see there).
  return counts_.load(std::memory_order_acquire) >> 32;
}

std::uint64_t Scheduler::active_tasks() const noexcept {
  // Acquire: as live_tasks().
  return counts_.load(std::memory_order_acquire) & kActiveMask;
}

template <class Done>
void Scheduler::wait_for(Done done) {
  assert(this_worker() == nullptr && "a worker cannot wait for its own scheduler");
  for (;;) {
    // Epoch first, then the counts. Acquire pairs with the release bump in
    // sub_counts: if this load already sees a bump, the counts load below
    // sees that bump's decrement; if not, wait() returns once it happens.
    // So no zero is missed, and no busy polling is needed.
    const std::uint32_t epoch = zero_epoch_.load(std::memory_order_acquire);
    if (done(counts_.load(std::memory_order_acquire))) return;
    zero_epoch_.wait(epoch, std::memory_order_acquire);
  }
}

void Scheduler::wait_until_quiescent() {
  wait_for([](std::uint64_t counts) { return (counts & kActiveMask) == 0; });
}

void Scheduler::wait_for_all_tasks_ended() {
  wait_for([](std::uint64_t counts) { return (counts >> 32) == 0; });
}

EndOfWork Scheduler::wait_until_ended_or_stalled() {
  EndOfWork outcome = EndOfWork::AllEnded;
  // One load of the word decides (see "Holds" in scheduler.h): live and
  // active are read at the same instant.
  wait_for([&outcome](std::uint64_t counts) {
    if ((counts >> 32) == 0) return true;
    if ((counts & kActiveMask) != 0) return false;
    outcome = EndOfWork::Stalled;
    return true;
  });
  return outcome;
}

namespace {

SchedulerStats& operator+=(SchedulerStats& a, const SchedulerStats& b) {
  a.spawned += b.spawned;
  a.completed += b.completed;
  a.abandoned += b.abandoned;
  a.runs += b.runs;
  a.suspended += b.suspended;
  a.notified_reruns += b.notified_reruns;
  a.preempted += b.preempted;
  a.dormant += b.dormant;
  a.wakes += b.wakes;
  a.migrated += b.migrated;
  a.external_submits += b.external_submits;
  a.peak_live = std::max(a.peak_live, b.peak_live);
  a.peak_suspended = std::max(a.peak_suspended, b.peak_suspended);
  return a;
}

}  // namespace

SchedulerStats Scheduler::slot_stats(unsigned slot) const noexcept {
  assert(slot < stats_slots());
  // Relaxed: statistics; exact once quiescent, since the waits acquire the
  // decrements that follow every update.
  const auto get = [&](Counter c) {
    return stats_[slot].counters[c].load(std::memory_order_relaxed);
  };
  SchedulerStats s;
  s.spawned = get(kSpawned);
  s.completed = get(kCompleted);
  s.abandoned = get(kAbandoned);
  s.runs = get(kRuns);
  s.suspended = get(kSuspended);
  s.notified_reruns = get(kNotifiedReruns);
  s.preempted = get(kPreempted);
  s.dormant = get(kDormant);
  s.wakes = get(kWakes);
  s.migrated = get(kMigrated);
  s.external_submits = get(kExternalSubmits);
  s.peak_live = get(kPeakLive);
  s.peak_suspended = get(kPeakSuspended);
  return s;
}

SchedulerStats Scheduler::stats() const noexcept {
  SchedulerStats total;
  for (unsigned slot = 0; slot < stats_slots(); ++slot) total += slot_stats(slot);
  return total;
}

void Scheduler::spawn(Task& task) {
  assert(task.scheduler_ == nullptr && "a task is spawned once");
  // Task rule 6: written before transition_to_spawned publishes it.
  task.scheduler_ = this;
  WorkerContext* worker = this_worker();
  // "Peaks": the word's live field after the spawn, less what this worker
  // has not yet taken off it.
  std::uint64_t word;
  if (net_increment(worker, kLiveOne | kActiveOne)) {
    // Relaxed: a statistic; the word did not change, but the live tasks
    // did, so the peak is read again.
    word = counts_.load(std::memory_order_relaxed);
  } else {
    word = add_counts(kLiveOne | kActiveOne);
  }
  const std::uint64_t uncounted_live = worker != nullptr ? worker->uncounted >> 32 : 0;
  record_peak(worker, kPeakLive, (word >> 32) - uncounted_live);
  count(worker, kSpawned);
  if (trace_ != nullptr) trace_flow_to(task, worker, /*first=*/true);
  task.state_.transition_to_spawned();
  submit(task, Route::Ready, worker);
}

void Scheduler::trace_flow_to(Task& task, WorkerContext* worker, bool first) noexcept {
  TraceTag* tag = task.trace_tag(*trace_);
  if (tag == nullptr) return;
  try {
    if (first) tag->id = trace_->next_id();
    tag->pending_flow = trace_->next_id();
    const unsigned track = worker != nullptr && worker->slot < trace_->outside_track()
                               ? worker->slot
                               : trace_->track_of_other_thread();
    trace_->flow_start(track, tag->pending_flow, trace_->now());
  } catch (...) {
    tag->pending_flow = 0;  // out of memory: this flow goes unrecorded
  }
}

void Scheduler::submit_woken(Task& task, WakeAction action) {
  WorkerContext* worker = this_worker();
  // A revived task is live again before it is queued (task.h rule 8).
  const std::uint64_t delta = action == WakeAction::Revive ? kLiveOne | kActiveOne : kActiveOne;
  if (!net_increment(worker, delta)) (void)add_counts(delta);
  count(worker, kWakes);
  if (trace_ != nullptr) trace_flow_to(task, worker, /*first=*/false);
  submit(task, wake_route(worker), worker);
}

Scheduler::Route Scheduler::wake_route(WorkerContext* worker) noexcept {
  if (worker == nullptr || fair_wake_interval_ == 0) return Route::Ready;
  // "Why yields go Behind": a wake into an empty run-next slot pushes
  // nothing into the deque, and Locality rule 3 bounds its chain.
  if (worker->run_next == nullptr && worker_spawn_ == WorkerSpawn::LocalDeque) {
    return Route::Ready;
  }
  std::atomic<std::uint32_t>& n = stats_[worker->slot].wakes_queued;
  std::uint32_t queued;
  if (worker->slot < arena_slots_) {
    // Relaxed load + store: only this slot's thread writes it (see count).
    queued = n.load(std::memory_order_relaxed) + 1;
    n.store(queued, std::memory_order_relaxed);
  } else {
    // Relaxed RMW: the shared slot; only a fairness heuristic.
    queued = n.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  return queued % fair_wake_interval_ == 0 ? Route::Behind : Route::Ready;
}

void Scheduler::submit(Task& task, Route route, WorkerContext* worker) {
  const int origin = worker != nullptr ? static_cast<int>(worker->slot) : -1;
  Task* queued = &task;
  if (worker != nullptr && route == Route::Ready && worker_spawn_ == WorkerSpawn::LocalDeque) {
    // Locality rule 1: the newest runs next here; the one it displaces
    // goes to the deque, where idle workers can steal it.
    queued = std::exchange(worker->run_next, queued);
    if (queued == nullptr) return;
    group_.run([this, queued, origin] { run_task(*queued, origin); });
    return;
  }
  if (worker == nullptr) {
    count(worker, kExternalSubmits);
    if (tls_batch.scheduler == this) {  // Batches rule 1
      tls_batch.tasks.push_back(queued);
      if (tls_batch.tasks.size() >= kBatchLimit) flush_batch();
      return;
    }
  }
  arena_.enqueue(group_.defer([this, queued, origin] { run_task(*queued, origin); }));
}

void Scheduler::start_batching_here() {
  assert(this_worker() == nullptr && "a worker queues into its own deque");
  assert(tls_batch.scheduler == nullptr && "one batch per thread");
  tls_batch.scheduler = this;
  tls_batch.tasks.reserve(kBatchLimit);
}

void Scheduler::flush_batch() {
  if (tls_batch.scheduler != this) return;
  std::vector<Task*>& tasks = tls_batch.tasks;
  for (std::size_t first = 0; first < tasks.size(); first += kBatchChunk) {
    BatchChunk chunk{};
    chunk.count = static_cast<unsigned>(std::min<std::size_t>(kBatchChunk, tasks.size() - first));
    std::copy_n(tasks.begin() + static_cast<std::ptrdiff_t>(first), chunk.count,
                chunk.tasks.begin());
    arena_.enqueue(group_.defer([this, chunk] { run_chunk(chunk); }));
  }
  tasks.clear();
}

void Scheduler::stop_batching_here() {
  if (tls_batch.scheduler != this) return;
  flush_batch();
  tls_batch.scheduler = nullptr;
  tls_batch.tasks = {};
}

void Scheduler::run_chunk(const BatchChunk& chunk) noexcept {
  // Batches rule 2. Pushed last first, so that this worker (which pops its
  // deque's newest end) runs them in the order they were woken.
  for (unsigned i = chunk.count; i-- > 1;) {
    Task* task = chunk.tasks[i];
    group_.run([this, task] { run_task(*task, -1); });
  }
  run_task(*chunk.tasks[0], -1);
}

void Scheduler::task_abandoned() noexcept {
  count(kAbandoned);
  sub_counts(kLiveOne);
}

namespace {

// This thread's arena slot as oneTBB numbers it, and the statistics slot
// for it: oneTBB gives every arena at least two slots, so even a one-worker
// arena may run on slot 1; anything unexpected uses the shared slot.
unsigned stats_slot_of(int index, unsigned arena_slots) {
  return index >= 0 && static_cast<unsigned>(index) < arena_slots ? static_cast<unsigned>(index)
                                                                  : arena_slots;
}

}  // namespace

void Scheduler::run_task(Task& task, int origin) noexcept {
  run_entry(task, origin, WorkerContext{this, 0});
}

void Scheduler::run_entry(Task& first, int origin, WorkerContext context) noexcept {
  const int index = tbb::this_task_arena::current_thread_index();
  context.slot = stats_slot_of(index, arena_slots_);
  void* const outer = std::exchange(tls_context, &context);
  run_one(first, origin, index, context);
  // Locality rules 2 and 3: what the runs left to run here, then, after
  // kLocalRunLimit runs and kLocalRunTime, back to oneTBB with the rest
  // carried together in one entry behind all queued work (queued one by
  // one, two tasks that hand work to each other could land on different
  // workers and stay there, each lingering on its own).
  std::chrono::steady_clock::time_point limit_reached{};
  for (unsigned runs = 1; context.has_local(); ++runs) {
    const bool look = runs % kLocalRunLimit == 0;
    const auto now = look ? std::chrono::steady_clock::now() : limit_reached;
    if (runs == kLocalRunLimit) limit_reached = now;
    if (look && now - limit_reached >= kLocalRunTime) {
      flush_uncounted(context);  // the uncounted ends are this worker's, not the carried tasks'
      WorkerContext carried = std::exchange(context, WorkerContext{this, context.slot});
      const int from = static_cast<int>(carried.slot);
      arena_.enqueue(group_.defer([this, carried, from] {
        WorkerContext resumed = carried;
        Task* next = resumed.take_local();
        run_entry(*next, from, resumed);
      }));
      break;
    }
    run_one(*context.take_local(), index, index, context);
  }
  // Count netting: before oneTBB may put this worker to sleep.
  flush_uncounted(context);
  tls_context = outer;
}

void Scheduler::run_one(Task& task, int origin, int index, WorkerContext& context) noexcept {
  count(&context, kRuns);
  if (origin >= 0 && origin != index) count(&context, kMigrated);

  task.state_.transition_to_running();
  // --trace: what the segment needs is read before run(); after it the
  // task may run elsewhere or be freed.
  TraceTag* tag = trace_ != nullptr ? task.trace_tag(*trace_) : nullptr;
  std::uint64_t task_id = 0;
  std::uint32_t task_name = 0;
  std::uint64_t started = 0;
  unsigned track = 0;
  if (tag != nullptr) {
    track = context.slot < trace_->outside_track() ? context.slot : trace_->outside_track();
    task_id = tag->id;
    task_name = tag->name;
    started = trace_->now();
    if (tag->pending_flow != 0) {
      try {
        trace_->flow_end(track, tag->pending_flow, started);
      } catch (...) {
        // Out of memory while tracing: this flow end goes unrecorded.
      }
      tag->pending_flow = 0;
    }
  }
  const RunResult result = task.run(budget_);
  if (tag != nullptr) {
    try {
      trace_->segment(track, task_id, task_name, started, trace_->now());
    } catch (...) {
      // Out of memory while tracing: the segment goes unrecorded.
    }
  }

  // From here on the task may be running elsewhere or deleted as soon as
  // it leaves this thread's hands: each branch touches it last.
  switch (result) {
    case RunResult::Completed:
      count(&context, kCompleted);
      if (task.state_.transition_to_complete()) delete &task;
      context.uncounted += kLiveOne | kActiveOne;  // count netting
      break;
    case RunResult::Suspended:
      switch (task.state_.transition_to_idle()) {
        case IdleAction::Reschedule:
          // Task rule 2: woken while running. Same route as any wake.
          count(&context, kNotifiedReruns);
          submit(task, wake_route(&context), &context);
          break;
        case IdleAction::Idle: {
          count(&context, kSuspended);
          // With this worker's uncounted ends, which the same RMW takes
          // off: the peak below is then read from a word they do not skew.
          const std::uint64_t now = sub_counts(kActiveOne + std::exchange(context.uncounted, 0));
          const std::uint64_t live = now >> 32;
          // Relaxed: a statistic; a hold taken or released at this very
          // moment may make it one off.
          const std::uint64_t holds = holds_.load(std::memory_order_relaxed);
          const std::uint64_t active = now & kActiveMask;
          const std::uint64_t tasks_active = active > holds ? active - holds : 0;
          if (live > tasks_active) record_peak(&context, kPeakSuspended, live - tasks_active);
          break;
        }
        case IdleAction::IdleLastRef:
          count(&context, kSuspended);
          count(&context, kAbandoned);
          delete &task;
          context.uncounted += kLiveOne | kActiveOne;  // count netting
          break;
      }
      break;
    case RunResult::Dormant:
      switch (task.state_.transition_to_idle(/*dormant=*/true)) {
        case IdleAction::Reschedule:
          count(&context, kNotifiedReruns);
          submit(task, wake_route(&context), &context);
          break;
        case IdleAction::Idle:
          count(&context, kDormant);
          context.uncounted += kLiveOne | kActiveOne;  // count netting
          break;
        case IdleAction::IdleLastRef:
          // Nobody can revive it; it was done with its work.
          count(&context, kDormant);
          delete &task;
          context.uncounted += kLiveOne | kActiveOne;  // count netting
          break;
      }
      break;
    case RunResult::Yielded:
      count(&context, kPreempted);
      task.state_.transition_to_yielded();
      submit(task, Route::Behind, &context);
      break;
    case RunResult::Lingered:
      task.state_.transition_to_yielded();
      if (context.lingering_count < kLingerSlots) {
        context.lingering[context.lingering_count++] = &task;  // locality rule 2
      } else {
        submit(task, Route::Behind, &context);
      }
      break;
  }
}

}  // namespace weft
