// A Task: one unit of work the Scheduler runs, suspends and resumes, with
// its whole life kept in one atomic word (the model is Tokio's
// runtime/task/state.rs).
//
// Implementation overview
// =======================
// The engine subclasses Task (a script task holds its frame stack and
// registers) and overrides run(budget), which returns Completed, Suspended
// or Yielded. The scheduler knows nothing else about it. Everything that
// other threads may touch is in TaskState::word_:
//
//    63                                    7   6   5   4   3   2   1   0
//   +---------------------------------------+---+---+---+---+---+---+---+
//   |       reference count (57 bits)       |DOR|NEW|CAN|CMP|NTF|RUN|SCH|
//   +---------------------------------------+---+---+---+---+---+---+---+
//
//   SCH  SCHEDULED  one queue entry exists for the task; it owns a reference
//   RUN  RUNNING    a worker is inside run(); the entry's reference became
//                   the run's
//   NTF  NOTIFIED   woken while RUNNING: the worker must run it again
//   CMP  COMPLETE   run() returned Completed; terminal
//   CAN  CANCELLED  cancel() was called (sticky); the engine polls it
//   NEW             constructed, not yet spawned; wakes only record CAN
//   DOR  DORMANT    idle and not counted as live (RunResult::Dormant): a
//                   task that waits for work without keeping the program
//                   alive (an idle actor's activation); a wake revives it
//
// Lifecycle states (the SCH/RUN/NTF/CMP/NEW bits; at most one of SCH, RUN,
// CMP, NEW is set, and NTF only with RUN):
//
//   NEW            --spawn-------------------> SCHEDULED
//   SCHEDULED      --a worker dequeues it-----> RUNNING
//   RUNNING        --wake---------------------> RUNNING+NTF
//   RUNNING        --run() Suspended----------> IDLE
//   RUNNING+NTF    --run() Suspended----------> SCHEDULED  (Reschedule)
//   RUNNING        --run() Dormant------------> IDLE+DOR
//   RUNNING+NTF    --run() Dormant------------> SCHEDULED  (Reschedule)
//   RUNNING(+NTF)  --run() Yielded------------> SCHEDULED  (queued behind)
//   RUNNING(+NTF)  --run() Completed----------> COMPLETE
//   IDLE           --wake---------------------> SCHEDULED  (Submit)
//   IDLE+DOR       --wake---------------------> SCHEDULED  (Revive)
//
//   transition              caller                 from -> to             result
//   transition_to_spawned   Scheduler::spawn       NEW -> SCHEDULED, +ref  -
//   transition_to_notified  wake()/cancel(), any   IDLE -> SCHEDULED, +ref Submit
//                           thread                 IDLE+DOR -> SCHED., +ref Revive
//                                                  RUNNING -> RUNNING+NTF  DoNothing
//                                                  SCHEDULED, RUNNING+NTF,
//                                                  COMPLETE, NEW: same     DoNothing
//   transition_to_running   worker, on dequeue     SCHEDULED -> RUNNING    -
//   transition_to_idle      worker, Suspended      RUNNING -> IDLE, -ref   Idle / IdleLastRef
//                           (Dormant: +DOR)
//                                                  RUNNING+NTF -> SCHED.   Reschedule
//   transition_to_yielded   worker, Yielded        RUNNING(+NTF) -> SCHED. -
//   transition_to_complete  worker, Completed      RUNNING(+NTF) -> CMP,   last reference?
//                                                  -ref
//
// Hand-off rules
// --------------
//   1. A queue entry is created only by spawn (from NEW), by the waker
//      that got Submit (from IDLE), or by the running worker itself after
//      run() returned (Reschedule, Yielded). RUNNING is entered only from
//      SCHEDULED, by the worker that dequeued the entry. So at most one
//      entry exists and a task is never run by two workers at once.
//   2. A wake is never lost. A wake that lands while the task runs sets NTF
//      and schedules nothing; transition_to_idle then refuses to go IDLE and
//      returns Reschedule, and the worker queues the task again. A wake that
//      lands after the IDLE transition finds IDLE and returns Submit.
//   3. Suspension, the engine's part (the subtle race): (a) save all of the
//      task's state (frames, registers, resume point) BEFORE publishing the
//      task as a waiter (PromiseCore::add_waiter), because the settler may
//      wake it at once; (b) after add_waiter returns Registered, touch no
//      task state: return Suspended; (c) if add_waiter returns
//      AlreadySettled, continue at once; (d) run() may be entered again for
//      another reason than the awaited settle (cancel, a stale or detached
//      waker): re-check what the task waits for, and do not register a
//      waker that is still in a promise's list (task_waker.h rule 3).
//   4. Cancellation: cancel() sets CAN and wakes in one read-modify-write.
//      The engine checks cancel_requested() at await and preemption points;
//      a suspended task is woken, so it notices.
//   5. References: the creator holds one (Task() starts at 1; TaskRef
//      adopts it), the queue entry or the run holds one, and every waker
//      registered on a promise holds one (TaskWaker). The last unref()
//      deletes the task; a spawned task that ends that way without
//      completing (a suspended task nobody can wake any more) is counted by
//      its scheduler as ended ("abandoned"), so waits do not hang on it; a
//      dormant one was counted as ended already when it went dormant.
//   8. Dormancy: run() returns Dormant when the task waits for work that
//      someone outside the scheduler's count will bring (a message to an
//      idle actor), so that it must not keep the program alive or be taken
//      for deadlocked. Going dormant counts the task ended (live-1), and
//      the wake that revives it counts it live again before queueing it,
//      as a spawn does. The reviver must itself be counted (a running
//      task, or a holder), or the scheduler may see every task ended just
//      before the revival: the same rule as for a spawn.
//   6. scheduler_ is written once, by spawn(), before transition_to_spawned
//      (release); wake() reads it after transition_to_notified (acquire),
//      which reads a value in that release sequence. It never changes.
//   7. run() must not throw: the worker calls it from a noexcept frame, so
//      an escaping exception terminates the process.
//
// Memory orderings are given, with their pairing, at each operation in
// task.cpp.
//
// Size: the base is a vtable pointer, the state word and the scheduler
// pointer, 24 bytes; a suspended script task is that plus the engine's
// frames. The unit tests park a million 128-byte test tasks (each with an
// embedded TaskWaker) on one promise: ~140 MB resident.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace weft {

class Scheduler;

enum class RunResult : std::uint8_t {
  Completed,  // the task is finished; the scheduler drops it
  Suspended,  // the task registered a waker and waits (rule 3)
  Yielded,    // the budget is spent; run me again after other ready work
  Lingered,   // nothing to do yet; run me again soon on this worker, after
              // what this run woke (scheduler.h, Locality)
  Dormant,    // idle until woken, and not live meanwhile (rule 8)
};

// Result of a wake: whether the caller must put the task in a run queue.
// Revive: the task was dormant, and counts as live again (rule 8).
enum class WakeAction : std::uint8_t { DoNothing, Submit, Revive };

// Result of transition_to_idle after run() returned Suspended.
enum class IdleAction : std::uint8_t {
  Idle,         // suspended; the run's reference was dropped
  IdleLastRef,  // suspended and the run held the last reference: abandoned
  Reschedule,   // woken while running (NTF): queue it again, reference kept
};

// The atomic state word of one task and its transitions. Separate from Task
// so that the transitions can be tested one by one.
class TaskState {
 public:
  static constexpr std::uint64_t kScheduled = 1u << 0;
  static constexpr std::uint64_t kRunning = 1u << 1;
  static constexpr std::uint64_t kNotified = 1u << 2;
  static constexpr std::uint64_t kComplete = 1u << 3;
  static constexpr std::uint64_t kCancelled = 1u << 4;
  static constexpr std::uint64_t kNew = 1u << 5;
  static constexpr std::uint64_t kDormant = 1u << 6;
  static constexpr int kRefShift = 7;
  static constexpr std::uint64_t kRefOne = std::uint64_t{1} << kRefShift;
  static constexpr std::uint64_t kFlagMask = kRefOne - 1;

  // A decoded copy of the word, for assertions, tests and debugging.
  struct Snapshot {
    std::uint64_t word;
    [[nodiscard]] bool scheduled() const { return word & kScheduled; }
    [[nodiscard]] bool running() const { return word & kRunning; }
    [[nodiscard]] bool notified() const { return word & kNotified; }
    [[nodiscard]] bool complete() const { return word & kComplete; }
    [[nodiscard]] bool cancelled() const { return word & kCancelled; }
    [[nodiscard]] bool fresh() const { return word & kNew; }
    [[nodiscard]] bool dormant() const { return word & kDormant; }
    [[nodiscard]] bool idle() const { return !(word & (kScheduled | kRunning | kComplete | kNew)); }
    [[nodiscard]] std::uint64_t refs() const { return word >> kRefShift; }
  };

  // NEW with one reference (the creator's).
  TaskState() noexcept : word_(kNew | kRefOne) {}
  TaskState(const TaskState&) = delete;
  TaskState& operator=(const TaskState&) = delete;

  // NEW -> SCHEDULED, adding the queue entry's reference.
  void transition_to_spawned() noexcept;
  // The wake; with `cancel`, also sets CAN in the same operation.
  [[nodiscard]] WakeAction transition_to_notified(bool cancel) noexcept;
  // SCHEDULED -> RUNNING.
  void transition_to_running() noexcept;
  // After Suspended (or Dormant, `dormant` true: rule 8): RUNNING -> IDLE,
  // or RUNNING+NTF -> SCHEDULED.
  [[nodiscard]] IdleAction transition_to_idle(bool dormant = false) noexcept;
  // After Yielded: RUNNING(+NTF) -> SCHEDULED (the reference is kept).
  void transition_to_yielded() noexcept;
  // After Completed: RUNNING(+NTF) -> COMPLETE, dropping the run's
  // reference. True if that was the last reference: the caller deletes.
  [[nodiscard]] bool transition_to_complete() noexcept;

  void ref_inc() noexcept;
  // Drops one reference; returns the word as it was before, so the caller
  // knows whether it was the last (refs() == 1) and whether it completed.
  [[nodiscard]] Snapshot ref_dec() noexcept;

  [[nodiscard]] Snapshot load() const noexcept;
  [[nodiscard]] bool cancel_requested() const noexcept;
  [[nodiscard]] bool is_complete() const noexcept;

 private:
  std::atomic<std::uint64_t> word_;
};

class TraceRecorder;
struct TraceTag;

class Task {
 public:
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  // Makes the task run again: schedules it if idle, marks it NOTIFIED if it
  // is running, does nothing if it is already scheduled or complete. Any
  // thread, any time after the task pointer was handed over by spawn().
  void wake() noexcept;
  // Requests cancellation and wakes the task (rule 4). Any thread.
  void cancel() noexcept;
  [[nodiscard]] bool cancel_requested() const noexcept { return state_.cancel_requested(); }
  // True once run() returned Completed; what the task wrote before that is
  // visible to the caller.
  [[nodiscard]] bool is_complete() const noexcept { return state_.is_complete(); }
  [[nodiscard]] TaskState::Snapshot state() const noexcept { return state_.load(); }
  // The scheduler it was spawned on; null before spawn().
  [[nodiscard]] Scheduler* scheduler() const noexcept { return scheduler_; }

  void ref() noexcept { state_.ref_inc(); }
  // Drops a reference; the last one deletes the task (rule 5).
  void unref() noexcept;

 protected:
  Task() noexcept = default;
  virtual ~Task() = default;

  // Its identity in a trace (trace_recorder.h), or null for a task that is
  // not traced. Called only while a recorder is attached, by the spawner,
  // the waker and the running worker (that file's rule 3).
  virtual TraceTag* trace_tag(TraceRecorder& /*recorder*/) noexcept { return nullptr; }

  // Runs until the task completes, suspends (rule 3) or spends `budget`
  // (the engine's unit: instructions at back-jumps and calls). Called by
  // one worker at a time (rule 1); must not throw (rule 7).
  virtual RunResult run(std::uint32_t budget) = 0;

 private:
  friend class Scheduler;

  TaskState state_;
  Scheduler* scheduler_ = nullptr;  // rule 6
};

// An owning handle: one reference, dropped by the destructor.
class TaskRef {
 public:
  TaskRef() noexcept = default;
  // Takes over a reference the caller already holds (e.g. a new task's).
  static TaskRef adopt(Task* task) noexcept { return TaskRef(task); }
  // Adds a reference.
  static TaskRef share(Task* task) noexcept {
    if (task != nullptr) task->ref();
    return TaskRef(task);
  }
  TaskRef(const TaskRef& other) noexcept : task_(other.task_) {
    if (task_ != nullptr) task_->ref();
  }
  TaskRef(TaskRef&& other) noexcept : task_(std::exchange(other.task_, nullptr)) {}
  TaskRef& operator=(TaskRef other) noexcept {
    std::swap(task_, other.task_);
    return *this;
  }
  ~TaskRef() {
    if (task_ != nullptr) task_->unref();
  }

  [[nodiscard]] Task* get() const noexcept { return task_; }
  Task* operator->() const noexcept { return task_; }
  Task& operator*() const noexcept { return *task_; }
  explicit operator bool() const noexcept { return task_ != nullptr; }
  // Gives up the reference without dropping it.
  [[nodiscard]] Task* release() noexcept { return std::exchange(task_, nullptr); }

 private:
  explicit TaskRef(Task* task) noexcept : task_(task) {}
  Task* task_ = nullptr;
};

// Allocates a task whose creator reference is held by the returned TaskRef.
template <class T, class... Args>
[[nodiscard]] TaskRef make_task(Args&&... args) {
  return TaskRef::adopt(new T(std::forward<Args>(args)...));
}

}  // namespace weft
