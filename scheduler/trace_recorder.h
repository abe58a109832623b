// TraceRecorder: what --trace FILE writes, a Chrome trace-event JSON that
// Perfetto and chrome://tracing open. It knows tasks only as ids and names;
// nothing here knows what a script value is.
//
// What is recorded
//   - a slice for every run segment of every task, on the track of the
//     worker that ran it (named by the task: for a script task the
//     function and the file:line where it was started);
//   - a flow arrow from each spawn to the task's first run, and from each
//     wake (a promise settled, a channel or mailbox handed over) to the run
//     it causes;
//   - a slice for every I/O operation (a timer, a file operation, a
//     process, a request) on the I/O track, from its start to the settle of
//     its future.
//
// Protocol
// --------
//   1. Tracks: one per TBB arena slot of the scheduler, then "outside"
//      (the main thread, a host's threads) and "I/O" (the I/O thread and the
//      blocking pool). A worker's track is written only by the thread that
//      holds that arena slot (as the scheduler's statistics are), without a
//      lock; the outside and I/O tracks are shared, under shared_lock_.
//   2. Ids (tasks, flows) come from one relaxed counter: unique is all
//      they need to be.
//   3. A task's TraceTag (its id, its name's id and the flow that will end
//      at its next run) is written by whoever spawns or wakes it, before
//      the queue hand-off, and read by the worker that runs it after: the
//      scheduler's queue orders the two (task.h rule 1).
//   4. write_json() runs once no task, I/O operation or host thread records
//      any more (after the program ended): it reads every track without
//      locks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace weft {

// A task's identity in the trace (rule 3). Kept by the task itself.
struct TraceTag {
  std::uint64_t id = 0;            // 0 until the task is first spawned
  std::uint64_t pending_flow = 0;  // ends at the next run; 0: none
  std::uint32_t name = 0;
};

class TraceRecorder {
 public:
  // `worker_tracks`: the scheduler's arena slots.
  explicit TraceRecorder(unsigned worker_tracks);
  TraceRecorder(const TraceRecorder&) = delete;
  TraceRecorder& operator=(const TraceRecorder&) = delete;

  [[nodiscard]] unsigned outside_track() const noexcept { return worker_tracks_; }
  [[nodiscard]] unsigned io_track() const noexcept { return worker_tracks_ + 1; }
  // The track of a thread that is not a worker: the I/O track when
  // `is_io_thread` (set before any recording) says so.
  [[nodiscard]] unsigned track_of_other_thread() const;
  void set_io_thread_test(std::function<bool()> is_io_thread) {
    is_io_thread_ = std::move(is_io_thread);
  }

  // Nanoseconds since the recorder was made.
  [[nodiscard]] std::uint64_t now() const noexcept;
  // Rule 2.
  [[nodiscard]] std::uint64_t next_id() noexcept;
  // The id of `name` (a mutex and a hash lookup: cache it).
  [[nodiscard]] std::uint32_t intern(std::string_view name);

  void segment(unsigned track, std::uint64_t task, std::uint32_t name, std::uint64_t start,
               std::uint64_t end);
  void flow_start(unsigned track, std::uint64_t flow, std::uint64_t at);
  void flow_end(unsigned track, std::uint64_t flow, std::uint64_t at);
  void io_slice(std::uint32_t name, std::uint64_t start, std::uint64_t end);

  // Rule 4. False with `error` set when the file cannot be written.
  [[nodiscard]] bool write_json(const std::string& path, std::string& error) const;

 private:
  enum class Kind : std::uint8_t { Segment, FlowStart, FlowEnd, IoSlice };
  struct Event {
    Kind kind;
    std::uint32_t name;
    std::uint64_t id;  // task id (segments) or flow id
    std::uint64_t start;
    std::uint64_t end;
  };
  struct alignas(64) Track {
    std::deque<Event> events;
  };
  void record(unsigned track, const Event& event);

  const unsigned worker_tracks_;
  std::function<bool()> is_io_thread_;
  const std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  std::vector<Track> tracks_;  // worker_tracks_ + outside + I/O
  std::mutex shared_lock_;     // the outside and I/O tracks (rule 1)
  alignas(64) std::atomic<std::uint64_t> ids_{0};
  std::mutex names_lock_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::uint32_t> name_index_;
};

}  // namespace weft
