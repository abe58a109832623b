// ProcessService: the protocol (op states, rules 1-8, reaping) is at the
// top of io/process_service.h.
#include "io/process_service.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <new>
#include <optional>
#include <utility>

#include "io/asio.h"
#include "io/file_ops.h"
#include "io/io_config.h"
#include "io/io_service.h"

namespace weft {

namespace asio = boost::asio;
using Descriptor = asio::posix::stream_descriptor;
using boost::system::error_code;

enum class ProcessState : std::uint8_t { Running, Cancelled, Claimed };

namespace {

constexpr std::size_t kReadBlock = 64 * 1024;
constexpr std::chrono::milliseconds kFirstPoll{1};
constexpr std::chrono::milliseconds kLongestPoll{50};

IoError cancelled_error(const std::string& program) {
  return IoError{ECANCELED, "process cancelled", program};
}

// A pipe end moved above 0, 1 and 2, so that the child's dup2 calls onto
// its standard descriptors can never overwrite one another (only possible
// when the parent runs with a standard descriptor closed).
IoResult<UniqueFd> above_stdio(UniqueFd fd, const std::string& program) {
  if (fd.get() > STDERR_FILENO) return fd;
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return os_error(errno, program);
  return UniqueFd(moved);
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

IoResult<Pipe> make_pipe(const std::string& program) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) return os_error(errno, program);
  IoResult<UniqueFd> read = above_stdio(UniqueFd(ends[0]), program);
  IoResult<UniqueFd> write = above_stdio(UniqueFd(ends[1]), program);
  if (!read.ok()) return read.error();
  if (!write.ok()) return write.error();
  return Pipe{std::move(read).value(), std::move(write).value()};
}

struct Spawned {
  pid_t pid = 0;
  UniqueFd out;    // read end of the child's stdout
  UniqueFd err;    // read end of the child's stderr
  UniqueFd pidfd;  // empty if refused or not wanted
};

// Destroys posix_spawn's action and attribute objects on every path.
struct SpawnSetup {
  SpawnSetup() {
    actions_ok = ::posix_spawn_file_actions_init(&actions) == 0;
    attributes_ok = ::posix_spawnattr_init(&attributes) == 0;
  }
  ~SpawnSetup() {
    if (actions_ok) ::posix_spawn_file_actions_destroy(&actions);
    if (attributes_ok) ::posix_spawnattr_destroy(&attributes);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  bool actions_ok = false;
  bool attributes_ok = false;
};

IoResult<Spawned> spawn_child(const std::vector<std::string>& argv, bool use_pidfd) {
  const std::string& program = argv.front();
  for (const std::string& arg : argv) {
    if (arg.find('\0') != std::string::npos) {
      return IoError{EINVAL, "argument holds a NUL byte", program};
    }
  }
  IoResult<Pipe> out = make_pipe(program);
  if (!out.ok()) return out.error();
  IoResult<Pipe> err = make_pipe(program);
  if (!err.ok()) return err.error();

  SpawnSetup setup;
  if (!setup.actions_ok || !setup.attributes_ok) return os_error(ENOMEM, program);
  // dup2 clears close-on-exec on the copy; everything else of ours is
  // close-on-exec, and closefrom also shuts anything a library leaked.
  int failed = ::posix_spawn_file_actions_adddup2(&setup.actions, out.value().write.get(), 1);
  if (failed == 0) {
    failed = ::posix_spawn_file_actions_adddup2(&setup.actions, err.value().write.get(), 2);
  }
  if (failed == 0) {
    failed = ::posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  }
  if (failed == 0) failed = ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  // The runtime may block or ignore signals (SIGPIPE, typically); a child
  // must not inherit that.
  sigset_t no_signals;
  sigset_t all_signals;
  ::sigemptyset(&no_signals);
  ::sigfillset(&all_signals);
  ::sigdelset(&all_signals, SIGKILL);
  ::sigdelset(&all_signals, SIGSTOP);
  if (failed == 0) failed = ::posix_spawnattr_setsigmask(&setup.attributes, &no_signals);
  if (failed == 0) failed = ::posix_spawnattr_setsigdefault(&setup.attributes, &all_signals);
  if (failed == 0) {
    failed = ::posix_spawnattr_setflags(&setup.attributes,
                                        POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  if (failed != 0) return os_error(failed, program);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  Spawned spawned;
  failed = ::posix_spawnp(&spawned.pid, program.c_str(), &setup.actions, &setup.attributes,
                          args.data(), environ);
  if (failed != 0) return os_error(failed, program);
  // The child has its copies; ours must go, or no EOF would ever come.
  out.value().write.reset();
  err.value().write.reset();
  spawned.out = std::move(out.value().read);
  spawned.err = std::move(err.value().read);
  if (use_pidfd) {
    // The pid cannot have been reused: the child is ours and unreaped.
    // pidfd_open's descriptor is always close-on-exec.
    const long pidfd = ::syscall(SYS_pidfd_open, spawned.pid, 0);
    if (pidfd >= 0) spawned.pidfd = UniqueFd(static_cast<int>(pidfd));
  }
  return spawned;
}

}  // namespace

// One output stream of a child.
struct OutputStream {
  UniqueFd raw;  // handed over by run(), adopted by start()
  std::optional<Descriptor> descriptor;
  std::string data;
  std::unique_ptr<char[]> block;
  bool open = false;  // a read may still come (no EOF, no error yet)
};

struct ProcessOp : std::enable_shared_from_this<ProcessOp> {
  ProcessOp(ProcessService& service, std::string program, Spawned spawned,
            IoCallback<ProcessResult> done)
      : service(service), program(std::move(program)), pid(spawned.pid), done(std::move(done)) {
    out.raw = std::move(spawned.out);
    err.raw = std::move(spawned.err);
    raw_pidfd = std::move(spawned.pidfd);
  }
  ProcessOp(const ProcessOp&) = delete;
  ProcessOp& operator=(const ProcessOp&) = delete;

  // Moves the op out of Running, or fails if it has left it (rules 3, 4, 6
  // and 7). Relaxed: the state only elects the first of cancel, the I/O
  // thread's own outcome and the shutdown sweep, and read-modify-writes on
  // one word agree on that by themselves. No data travels with it: a
  // cancel reaches the I/O thread through its post, and the error a claim
  // stores is read only by the I/O thread.
  bool claim(ProcessState to) noexcept {
    ProcessState expected = ProcessState::Running;
    return state.compare_exchange_strong(expected, to, std::memory_order_relaxed,
                                         std::memory_order_relaxed);
  }

  // The I/O thread's side, from here down.
  void start() noexcept;
  void adopt(OutputStream& stream) noexcept;
  void read_more(OutputStream& stream) noexcept;
  void on_read(OutputStream& stream, const error_code& error, std::size_t got) noexcept;
  void watch_exit() noexcept;
  void poll_exit() noexcept;
  void try_reap() noexcept;
  void fail(IoError error) noexcept;
  void send_kill() noexcept;
  void advance() noexcept;
  void complete(IoResult<ProcessResult> outcome) noexcept;
  [[nodiscard]] ProcessResult result() noexcept;

  ProcessService& service;
  const std::string program;
  const pid_t pid;

  // Shared: written only by claim() (rules 3, 4, 6 and 7).
  std::atomic<ProcessState> state{ProcessState::Running};

  // Handed to the I/O thread by the post of start() (rule 2), then its own.
  IoCallback<ProcessResult> done;
  OutputStream out;
  OutputStream err;
  UniqueFd raw_pidfd;
  std::optional<Descriptor> exit_watch;  // the pidfd, when there is one
  std::optional<asio::steady_timer> exit_poll;
  std::chrono::milliseconds poll_interval = kFirstPoll;
  std::optional<IoError> error;  // set by a winning claim(Claimed) (rule 6)
  std::uint64_t output_bytes = 0;
  int wait_status = 0;
  bool started = false;
  bool reaped = false;
  bool killed = false;
  bool completed = false;
};

void ProcessOp::start() noexcept {
  started = true;
  adopt(out);
  adopt(err);
  if (raw_pidfd.valid()) {
    error_code ignored;
    exit_watch.emplace(service.context_);
    exit_watch->assign(raw_pidfd.get(), ignored);
    if (ignored) {
      exit_watch.reset();  // raw_pidfd still owns it
    } else {
      (void)raw_pidfd.release();
    }
  }
  watch_exit();
  if (service.closing_) (void)claim(ProcessState::Cancelled);  // rule 7
  advance();
}

void ProcessOp::adopt(OutputStream& stream) noexcept {
  error_code failure;
  stream.descriptor.emplace(service.context_);
  stream.descriptor->assign(stream.raw.get(), failure);
  if (failure) {
    stream.descriptor.reset();
    fail(os_error(failure.value(), program));
    return;
  }
  (void)stream.raw.release();
  stream.block.reset(new (std::nothrow) char[kReadBlock]);
  if (!stream.block) {
    fail(os_error(ENOMEM, program));
    return;
  }
  stream.open = true;
  read_more(stream);
}

void ProcessOp::read_more(OutputStream& stream) noexcept {
  stream.descriptor->async_read_some(
      asio::buffer(stream.block.get(), kReadBlock),
      [self = shared_from_this(), &stream](const error_code& failure, std::size_t got) noexcept {
        self->on_read(stream, failure, got);
      });
}

void ProcessOp::on_read(OutputStream& stream, const error_code& failure, std::size_t got) noexcept {
  if (completed) return;  // rule 5: aborted by complete()
  if (got > 0 && !error) {
    output_bytes += got;
    if (output_bytes > service.max_output_) {
      fail(IoError{
          EFBIG,
          "output is larger than the limit of " + std::to_string(service.max_output_) + " bytes",
          program});
    } else {
      try {
        stream.data.append(stream.block.get(), got);
      } catch (const std::bad_alloc&) {
        fail(os_error(ENOMEM, program));
      }
    }
  }
  if (failure == asio::error::eof) {
    stream.open = false;
  } else if (failure) {
    stream.open = false;
    fail(os_error(failure.value(), program));
  } else if (error || state.load(std::memory_order_relaxed) == ProcessState::Cancelled) {
    // Stopping: the output is not wanted. Relaxed: a stale Running only
    // costs one more read.
    stream.open = false;
  } else {
    read_more(stream);
  }
  advance();
}

void ProcessOp::watch_exit() noexcept {
  if (exit_watch) {
    exit_watch->async_wait(Descriptor::wait_read,
                           [self = shared_from_this()](const error_code& failure) noexcept {
                             if (self->completed) return;
                             if (failure) {
                               // The reactor cannot wait on this descriptor:
                               // poll instead.
                               self->exit_watch.reset();
                               self->poll_exit();
                               return;
                             }
                             self->try_reap();
                             // Readable means exited, so the reap succeeded.
                             // Were it ever not so, a second wait might miss
                             // the edge: polling cannot.
                             if (!self->reaped) self->poll_exit();
                             self->advance();
                           });
  } else {
    poll_exit();
  }
}

void ProcessOp::poll_exit() noexcept {
  if (!exit_poll) exit_poll.emplace(service.context_);
  exit_poll->expires_after(poll_interval);
  poll_interval = std::min(poll_interval * 2, kLongestPoll);
  exit_poll->async_wait([self = shared_from_this()](const error_code& failure) noexcept {
    if (self->completed || failure) return;
    self->try_reap();
    if (!self->reaped) self->poll_exit();
    self->advance();
  });
}

void ProcessOp::try_reap() noexcept {
  if (reaped) return;
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == 0) return;  // still running
  reaped = true;
  if (got == pid) {
    wait_status = status;
  } else {
    // ECHILD: something else reaped it (SIGCHLD ignored, a waitpid(-1)
    // elsewhere in the process). The child is gone; its status is not.
    const IoError lost = os_error(errno, program);
    fail(IoError{lost.code, "exit status lost: " + lost.message, program});
  }
}

void ProcessOp::fail(IoError failure) noexcept {
  if (claim(ProcessState::Claimed)) error = std::move(failure);  // rule 6
}

void ProcessOp::send_kill() noexcept {
  killed = true;
  // Rule 4 calls this only before the reap, so the pid is still ours.
  if (exit_watch &&
      ::syscall(SYS_pidfd_send_signal, exit_watch->native_handle(), SIGKILL, nullptr, 0) == 0) {
    return;
  }
  ::kill(pid, SIGKILL);
}

void ProcessOp::advance() noexcept {
  if (!started || completed) return;
  // Relaxed: a stale Running only delays the kill until the cancel's own
  // post arrives (rule 3); the claim below decides the outcome.
  const bool stopping =
      error.has_value() || state.load(std::memory_order_relaxed) == ProcessState::Cancelled;
  if (stopping && !reaped && !killed) send_kill();
  if (!reaped) return;
  if (stopping) {
    complete(error ? std::move(*error) : cancelled_error(program));
    return;
  }
  if (out.open || err.open) return;
  if (!claim(ProcessState::Claimed)) {
    complete(cancelled_error(program));  // a cancel won (rule 4)
    return;
  }
  complete(result());
}

ProcessResult ProcessOp::result() noexcept {
  ProcessResult outcome;
  if (WIFEXITED(wait_status)) {
    outcome.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    outcome.signal = WTERMSIG(wait_status);
    outcome.code = 128 + outcome.signal;
  }
  outcome.out = std::move(out.data);
  outcome.err = std::move(err.data);
  return outcome;
}

void ProcessOp::complete(IoResult<ProcessResult> outcome) noexcept {
  const std::shared_ptr<ProcessOp> self = shared_from_this();  // live_ may hold the last other
  completed = true;
  out.descriptor.reset();
  err.descriptor.reset();
  exit_watch.reset();
  exit_poll.reset();
  service.live_.erase(self);
  {
    // Moved out so that the captures are gone before the operation ends.
    IoCallback<ProcessResult> callback = std::move(done);
    callback(std::move(outcome));
  }
  service.service_.end_operation();  // rule 1
}

bool ProcessHandle::cancel() const {
  if (!op_ || !op_->claim(ProcessState::Cancelled)) return false;
  asio::post(op_->service.context_, [op = op_]() noexcept { op->advance(); });  // rule 3
  return true;
}

pid_t ProcessHandle::pid() const noexcept {
  return op_ ? op_->pid : 0;
}

ProcessService::ProcessService(IoService& service, asio::io_context& context,
                               const IoConfig& config)
    : service_(service),
      context_(context),
      max_output_(config.max_process_output),
      use_pidfd_(config.use_pidfd) {}

ProcessService::~ProcessService() = default;

ProcessHandle ProcessService::run(std::vector<std::string> argv, IoCallback<ProcessResult> done) {
  if (argv.empty()) {
    done(IoError{EINVAL, "no program to run", ""});
    return ProcessHandle();
  }
  if (!service_.try_begin_operation()) {
    done(shut_down_error(argv.front()));  // rule 1
    return ProcessHandle();
  }
  IoResult<Spawned> spawned = spawn_child(argv, use_pidfd_);
  if (!spawned.ok()) {
    done(spawned.error());
    done = nullptr;  // its captures go before the operation ends
    service_.end_operation();
    return ProcessHandle();
  }
  auto op = std::make_shared<ProcessOp>(*this, std::move(argv.front()), std::move(spawned).value(),
                                        std::move(done));
  asio::post(context_, [this, op]() noexcept { start(op); });  // rule 2
  return ProcessHandle(std::move(op));
}

void ProcessService::start(const std::shared_ptr<ProcessOp>& op) noexcept {
  live_.insert(op);
  op->start();
}

void ProcessService::close() noexcept {
  closing_ = true;
  // A copy: complete() removes ops from live_.
  const std::vector<std::shared_ptr<ProcessOp>> live(live_.begin(), live_.end());
  for (const std::shared_ptr<ProcessOp>& op : live) {
    (void)op->claim(ProcessState::Cancelled);
    op->advance();
  }
}

}  // namespace weft
