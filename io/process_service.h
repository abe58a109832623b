// ProcessService: runs a child process (an argv vector, no shell), collects
// its stdout and stderr through pipes read on the I/O thread, and reports
// {code, stdout, stderr} once it has exited. Owned by IoService::Impl
// (IoService::processes()). This header stays free of Asio.
//
// Implementation overview
// =======================
// run() spawns the child on the calling thread with posix_spawnp: stdin
// from /dev/null, stdout and stderr into two pipes (close-on-exec in the
// parent; the child gets them as 1 and 2 and closes every descriptor from
// 3 up), signal mask empty and every signal at its default. glibc's
// posix_spawnp (2.24 and later) waits for the exec and returns its errno,
// so a binary that cannot start (missing, not executable) is an error
// reported at once with the OS message and the program name; a CLOEXEC
// status pipe would only repeat what glibc already does. The read ends and
// a pidfd for the child then reach the I/O thread in one asio::post, where
// a ProcessOp reads both pipes with posix::stream_descriptor and waits for
// the pidfd to become readable, which the kernel does when the child exits.
//
// Reaping. The child is reaped by waitpid(pid, WNOHANG) on the I/O thread
// once its pidfd is readable, so the call never blocks and the I/O thread
// never waits. No SIGCHLD handler: that is process-wide state, and it would
// fight with any other code in the process (or a second runtime) that waits
// for its own children, while a pidfd belongs to one child. The pidfd is
// assigned and its async_wait queued in the same I/O-thread handler: Asio
// queues a descriptor wait without first testing readiness, and epoll
// reports the pidfd edge-triggered, so an edge taken before the wait was
// queued would be lost. If the kernel refuses a pidfd (before Linux 5.3, or
// a seccomp filter), or IoConfig::use_pidfd is false, a steady_timer polls
// waitpid(WNOHANG) instead, every 1 ms at first, backing off to 50 ms.
// Until it is reaped, the child is a zombie at worst and its pid cannot be
// reused, so killing it before the reap is safe; with a pidfd the kill goes
// through pidfd_send_signal, safe even if other code reaped the child.
//
// A run completes, with its callback on the I/O thread, when the child has
// been reaped and both pipes reached end of file: a grandchild that keeps
// the pipes open keeps the run going, as with Python's subprocess.run. A
// non-zero exit status is a result, not an error; a child killed by signal
// s gives code 128 + s and signal s. Cancelling kills the child only, not
// its own children.
//
// ProcessOp::state, the only field several threads change:
//
//   Running --cancel() (any thread) or close() (I/O thread)----> Cancelled
//      |
//      +------the I/O thread settles the outcome itself------> Claimed
//
// Both are compare-and-swaps from Running, so the first one decides what
// the callback gets: a Cancelled op reports ECANCELED; a Claimed one its
// result, or the error the I/O thread met (output past the cap, a pipe
// read error, an exit status lost to another reaper).
//
// Rules
// -----
//   1. Counting. run() counts the run as one IoService operation before
//      spawning; complete() calls end_operation() after the callback has
//      returned and been destroyed. After shutdown began, run() calls
//      done(ESHUTDOWN) at once on the calling thread; a spawn failure calls
//      done(error) at once on the calling thread, then ends the operation.
//      Either way the handle returned is empty.
//   2. Hand-off. The descriptors, the pid and the callback are written
//      before the asio::post of start(), which orders them before the I/O
//      thread reads them (Asio's queue is locked). From then on everything
//      in ProcessOp but `state` belongs to the I/O thread; pid and program
//      never change.
//   3. Cancel. cancel() (any thread) compare-and-swaps Running ->
//      Cancelled; if it wins it posts advance() to the I/O thread. Losing
//      has no effect, so cancel() may be called any number of times, also
//      after the run completed.
//   4. One path. advance() runs after every event (start, a pipe read, the
//      exit, a cancel's post, the shutdown sweep) and is the only place that
//      kills. An op that must stop (Cancelled, or Claimed with an error)
//      whose child is not yet reaped gets one SIGKILL. Once the child is
//      reaped, a stopping op completes with its error; a Running op whose
//      pipes are both at EOF claims Running -> Claimed and completes with
//      its result, or with ECANCELED if a cancel won that race.
//   5. Exactly once. complete() is the only caller of the callback; it sets
//      `completed`, which every later event checks first, destroys the
//      descriptors (pending reads end with operation_aborted and do
//      nothing), leaves the live set, calls the callback, and ends the
//      operation. Every handler holds a shared_ptr to its op, so the op
//      outlives the handlers queued for it.
//   6. Output cap. When stdout plus stderr pass IoConfig::max_process_output
//      the I/O thread claims Running -> Claimed with EFBIG and stops reading;
//      rule 4 then kills the child. If the claim loses, a cancel is already
//      under way.
//   7. Shutdown (IoService shutdown step 2). close() sets closing_ and, for
//      every live op, claims Running -> Cancelled and advances it; a start()
//      that runs after close() does the same at once. So shutdown kills
//      every child still running and waits for it to be reaped: no child
//      outlives the service, not even as a zombie.
//   8. The callback runs on the I/O thread in a noexcept frame and should
//      only complete a promise.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "io/io_result.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace weft {

class IoService;
struct IoConfig;
struct ProcessOp;

struct ProcessResult {
  int code = 0;     // the exit status, or 128 + signal
  int signal = 0;   // the signal that killed the child, or 0
  std::string out;  // everything the child wrote to stdout
  std::string err;  // everything the child wrote to stderr
};

// A reference to one run. Copyable; copies refer to the same run. Empty
// when run() failed at once. Lifetime: may be dropped at any time, but
// every cancel() must return before the IoService's destructor starts.
class ProcessHandle {
 public:
  ProcessHandle() noexcept = default;

  // Kills the child (SIGKILL) and completes the run with ECANCELED, once
  // the child is reaped, unless the run already settled its outcome. True
  // if this call won (rule 3). Any thread, any number of times.
  bool cancel() const;

  [[nodiscard]] bool valid() const noexcept { return op_ != nullptr; }
  // The child's process id (0 for an empty handle).
  [[nodiscard]] pid_t pid() const noexcept;

 private:
  friend class ProcessService;
  explicit ProcessHandle(std::shared_ptr<ProcessOp> op) noexcept : op_(std::move(op)) {}

  std::shared_ptr<ProcessOp> op_;
};

class ProcessService {
 public:
  ProcessService(IoService& service, boost::asio::io_context& context, const IoConfig& config);
  ~ProcessService();
  ProcessService(const ProcessService&) = delete;
  ProcessService& operator=(const ProcessService&) = delete;

  // Runs argv[0] (looked up in PATH unless it holds a '/') with argv.
  // Calls done exactly once: on the I/O thread with the result or a run
  // error, or at once on the calling thread if the program cannot start,
  // argv is empty or holds a NUL byte (EINVAL), or the service has shut
  // down (rule 1). Any thread.
  [[nodiscard]] ProcessHandle run(std::vector<std::string> argv, IoCallback<ProcessResult> done);

  // I/O thread only: shutdown step 2 (rule 7).
  void close() noexcept;

 private:
  friend struct ProcessOp;
  friend class ProcessHandle;

  void start(const std::shared_ptr<ProcessOp>& op) noexcept;  // I/O thread

  IoService& service_;
  boost::asio::io_context& context_;
  const std::uint64_t max_output_;
  const bool use_pidfd_;

  // I/O thread only.
  std::unordered_set<std::shared_ptr<ProcessOp>> live_;  // started, not completed
  bool closing_ = false;
};

}  // namespace weft
