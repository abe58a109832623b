// Child processes through the IoService (io/process_service.h): output,
// exit codes, start failures, the output cap, cancellation, reaping, and
// shutdown with operations of every kind in flight. Tests assert behaviour,
// never durations; a wait for a callback has a generous bound only so that
// a lost callback fails instead of hanging.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/file_service.h"
#include "io/io_service.h"
#include "io/process_service.h"
#include "temp_dir.h"

namespace weft {
namespace {

constexpr auto kBound = std::chrono::minutes(3);

// What one run's callback saw. The future fails the test run if the
// callback is called twice (set_value throws).
struct RunWatch {
  std::shared_ptr<std::promise<IoResult<ProcessResult>>> promise =
      std::make_shared<std::promise<IoResult<ProcessResult>>>();
  std::shared_ptr<std::atomic<bool>> on_io_thread = std::make_shared<std::atomic<bool>>(false);
  std::future<IoResult<ProcessResult>> future = promise->get_future();

  IoCallback<ProcessResult> callback(IoService& io) {
    return [promise = promise, flag = on_io_thread, &io](IoResult<ProcessResult> result) {
      flag->store(io.on_io_thread());
      promise->set_value(std::move(result));
    };
  }

  IoResult<ProcessResult> get() {
    if (future.wait_for(kBound) != std::future_status::ready) {
      ADD_FAILURE() << "process callback never ran";
      std::abort();
    }
    return future.get();
  }
};

IoResult<ProcessResult> run_and_wait(IoService& io, std::vector<std::string> argv,
                                     ProcessHandle* handle = nullptr) {
  RunWatch watch;
  ProcessHandle started = io.processes().run(std::move(argv), watch.callback(io));
  if (handle != nullptr) *handle = started;
  return watch.get();
}

void wait_idle(const IoService& io) {
  const auto give_up = std::chrono::steady_clock::now() + kBound;
  while (io.pending_operations() != 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "operations never completed";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The child is gone: not ours to wait for any more, and no such process.
void expect_reaped(pid_t pid) {
  ASSERT_GT(pid, 0);
  int status = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  errno = 0;
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

using weft::testing::TempDir;

// Every test runs with both reapers: through a pidfd, and by polling
// waitpid. Names read IoProcess/IoProcessTest.<test>/Pidfd or /Polling.
class IoProcessTest : public ::testing::TestWithParam<bool> {
 protected:
  [[nodiscard]] IoConfig config() const {
    IoConfig config;
    config.use_pidfd = GetParam();
    return config;
  }
};

INSTANTIATE_TEST_SUITE_P(IoProcess, IoProcessTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Pidfd" : "Polling";
                         });

TEST_P(IoProcessTest, EchoGivesItsOutputAndCodeZeroOnTheIoThread) {
  IoService io(config());
  RunWatch watch;
  ProcessHandle handle = io.processes().run({"/bin/echo", "hello", "world"}, watch.callback(io));
  EXPECT_TRUE(handle.valid());
  EXPECT_GT(handle.pid(), 0);
  IoResult<ProcessResult> result = watch.get();
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().code, 0);
  EXPECT_EQ(result.value().signal, 0);
  EXPECT_EQ(result.value().out, "hello world\n");
  EXPECT_EQ(result.value().err, "");
  EXPECT_TRUE(watch.on_io_thread->load());
  wait_idle(io);
  expect_reaped(handle.pid());
  EXPECT_FALSE(handle.cancel());  // completed: nothing to cancel
}

TEST_P(IoProcessTest, ProgramIsLookedUpInPath) {
  IoService io(config());
  IoResult<ProcessResult> result = run_and_wait(io, {"echo", "from", "path"});
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().out, "from path\n");
}

TEST_P(IoProcessTest, NonZeroExitIsAResultNotAnError) {
  IoService io(config());
  IoResult<ProcessResult> result = run_and_wait(io, {"/bin/false"});
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().code, 1);
  EXPECT_EQ(result.value().signal, 0);

  result = run_and_wait(io, {"/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 42"});
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().code, 42);
  EXPECT_EQ(result.value().out, "to-out\n");
  EXPECT_EQ(result.value().err, "to-err\n");
}

TEST_P(IoProcessTest, ChildKilledByASignalReportsIt) {
  IoService io(config());
  IoResult<ProcessResult> result = run_and_wait(io, {"/bin/sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().signal, SIGTERM);
  EXPECT_EQ(result.value().code, 128 + SIGTERM);
}

TEST_P(IoProcessTest, MissingBinaryIsAnErrorReportedAtOnce) {
  IoService io(config());
  for (const std::string program : {"/nonexistent/weft-no-such-program", "weft-no-such-program"}) {
    const std::thread::id self = std::this_thread::get_id();
    std::thread::id called_on;
    int calls = 0;
    std::optional<IoResult<ProcessResult>> seen;
    ProcessHandle handle =
        io.processes().run({program, "arg"}, [&](IoResult<ProcessResult> result) {
          ++calls;
          called_on = std::this_thread::get_id();
          seen.emplace(std::move(result));
        });
    EXPECT_FALSE(handle.valid());
    ASSERT_EQ(calls, 1);
    EXPECT_EQ(called_on, self);
    ASSERT_FALSE(seen->ok());
    EXPECT_EQ(seen->error().code, ENOENT);
    EXPECT_EQ(seen->error().message, "No such file or directory");
    EXPECT_EQ(seen->error().path, program);
  }
  EXPECT_EQ(io.pending_operations(), 0u);
}

TEST_P(IoProcessTest, NonExecutableFileIsAnError) {
  IoService io(config());
  TempDir dir;
  const std::string script = dir.file("not-executable.sh");
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  ASSERT_EQ(::chmod(script.c_str(), 0644), 0);
  std::optional<IoResult<ProcessResult>> seen;
  (void)io.processes().run(
      {script}, [&](IoResult<ProcessResult> result) { seen.emplace(std::move(result)); });
  ASSERT_TRUE(seen.has_value());
  ASSERT_FALSE(seen->ok());
  EXPECT_EQ(seen->error().code, EACCES);
  EXPECT_EQ(seen->error().path, script);
}

TEST_P(IoProcessTest, MalformedRequestsAreRejected) {
  IoService io(config());
  std::optional<IoResult<ProcessResult>> seen;
  auto record = [&](IoResult<ProcessResult> result) { seen.emplace(std::move(result)); };
  EXPECT_FALSE(io.processes().run({}, record).valid());
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->error().code, EINVAL);
  seen.reset();
  EXPECT_FALSE(io.processes().run({"/bin/echo", std::string("a\0b", 3)}, record).valid());
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->error().code, EINVAL);
  EXPECT_EQ(io.pending_operations(), 0u);
}

TEST_P(IoProcessTest, StdinIsEmptyAndDescriptorsAreNotInherited) {
  IoService io(config());
  // cat reads /dev/null and ends at once.
  IoResult<ProcessResult> result = run_and_wait(io, {"/bin/cat"});
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().code, 0);
  EXPECT_EQ(result.value().out, "");

  // A descriptor this process left inheritable does not reach the child.
  const int leaky = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, on purpose
  ASSERT_GE(leaky, 3);
  const std::string probe = "if [ -e /proc/$$/fd/" + std::to_string(leaky) +
                            " ]; then echo inherited; else echo closed; fi";
  result = run_and_wait(io, {"/bin/sh", "-c", probe});
  ::close(leaky);
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().out, "closed\n");
}

TEST_P(IoProcessTest, BigOutputArrivesWhole) {
  IoService io(config());
  constexpr std::size_t kBytes = 50'000'000;
  IoResult<ProcessResult> result = run_and_wait(
      io, {"/bin/sh", "-c", "head -c 50000000 /dev/zero; head -c 3000000 /dev/zero >&2"});
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().code, 0);
  ASSERT_EQ(result.value().out.size(), kBytes);
  EXPECT_EQ(result.value().out.find_first_not_of('\0'), std::string::npos);
  EXPECT_EQ(result.value().err.size(), 3'000'000u);
}

TEST_P(IoProcessTest, OutputPastTheCapIsAnErrorAndTheChildIsReaped) {
  IoConfig limited = config();
  limited.max_process_output = 1 << 20;
  IoService io(limited);
  ProcessHandle handle;
  // Would write forever: only the cap stops it.
  IoResult<ProcessResult> result = run_and_wait(io, {"/bin/cat", "/dev/zero"}, &handle);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, EFBIG);
  EXPECT_EQ(result.error().path, "/bin/cat");
  EXPECT_NE(result.error().message.find(std::to_string(1 << 20)), std::string::npos);
  wait_idle(io);
  expect_reaped(handle.pid());
  EXPECT_FALSE(handle.cancel());
}

TEST_P(IoProcessTest, CancelKillsReapsAndReportsCancelledOnce) {
  IoService io(config());
  RunWatch watch;
  ProcessHandle handle = io.processes().run({"/bin/sleep", "100"}, watch.callback(io));
  ASSERT_TRUE(handle.valid());
  EXPECT_TRUE(handle.cancel());
  EXPECT_FALSE(handle.cancel());  // only the first wins
  IoResult<ProcessResult> result = watch.get();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.error().cancelled());
  EXPECT_EQ(result.error().code, ECANCELED);
  EXPECT_EQ(result.error().path, "/bin/sleep");
  EXPECT_TRUE(watch.on_io_thread->load());
  wait_idle(io);
  expect_reaped(handle.pid());
  EXPECT_FALSE(handle.cancel());
}

TEST_P(IoProcessTest, CancelFromAnotherThreadWhileRunning) {
  IoService io(config());
  RunWatch watch;
  // Prints, then sleeps: the cancel comes once the output shows it runs.
  ProcessHandle handle =
      io.processes().run({"/bin/sh", "-c", "echo started; exec sleep 100"}, watch.callback(io));
  std::thread canceller([handle] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(handle.cancel());
  });
  canceller.join();
  IoResult<ProcessResult> result = watch.get();
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.error().cancelled());
  wait_idle(io);
  expect_reaped(handle.pid());
}

TEST_P(IoProcessTest, CancelRacingCompletionCallsBackExactlyOnce) {
  IoService io(config());
  constexpr int kRuns = 60;
  std::vector<RunWatch> watches(kRuns);
  std::vector<ProcessHandle> handles(kRuns);
  for (int i = 0; i < kRuns; ++i) {
    handles[i] = io.processes().run({"/bin/echo", std::to_string(i)}, watches[i].callback(io));
  }
  std::vector<bool> won(kRuns);
  for (int i = kRuns - 1; i >= 0; --i) {
    if (i % 3 != 0) won[i] = handles[i].cancel();  // some before, some after the exit
  }
  int cancelled = 0;
  for (int i = 0; i < kRuns; ++i) {
    IoResult<ProcessResult> result = watches[i].get();
    // The callback says cancelled exactly when a cancel() won.
    ASSERT_EQ(!result.ok(), static_cast<bool>(won[i])) << "run " << i;
    if (result.ok()) {
      EXPECT_EQ(result.value().out, std::to_string(i) + "\n");
    } else {
      EXPECT_TRUE(result.error().cancelled());
      ++cancelled;
    }
  }
  wait_idle(io);
  for (const ProcessHandle& handle : handles) expect_reaped(handle.pid());
  RecordProperty("cancelled", cancelled);
}

TEST_P(IoProcessTest, ManyConcurrentRunsEachCompleteOnce) {
  IoService io(config());
  constexpr int kRuns = 100;
  std::vector<RunWatch> watches(kRuns);
  std::vector<std::thread> starters;
  for (int t = 0; t < 2; ++t) {
    starters.emplace_back([&, t] {
      for (int i = t; i < kRuns; i += 2) {
        (void)io.processes().run(
            {"/bin/sh", "-c", "echo $0; echo e$0 >&2; exit $(($0 % 7))", std::to_string(i)},
            watches[i].callback(io));
      }
    });
  }
  for (std::thread& starter : starters) starter.join();
  for (int i = 0; i < kRuns; ++i) {
    IoResult<ProcessResult> result = watches[i].get();
    ASSERT_TRUE(result.ok()) << result.error().describe();
    EXPECT_EQ(result.value().out, std::to_string(i) + "\n");
    EXPECT_EQ(result.value().err, "e" + std::to_string(i) + "\n");
    EXPECT_EQ(result.value().code, i % 7);
  }
  wait_idle(io);
}

TEST_P(IoProcessTest, ShutdownKillsRunningChildrenAndRejectsLaterRuns) {
  auto io = std::make_unique<IoService>(config());
  constexpr int kSleepers = 3;
  std::vector<RunWatch> watches(kSleepers);
  std::vector<pid_t> pids;
  for (int i = 0; i < kSleepers; ++i) {
    pids.push_back(io->processes().run({"/bin/sleep", "100"}, watches[i].callback(*io)).pid());
  }
  io->shutdown();
  EXPECT_EQ(io->pending_operations(), 0u);
  for (int i = 0; i < kSleepers; ++i) {
    // Shutdown has returned: the callbacks have run.
    ASSERT_EQ(watches[i].future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    IoResult<ProcessResult> result = watches[i].get();
    ASSERT_FALSE(result.ok());
    EXPECT_TRUE(result.error().cancelled());
    expect_reaped(pids[i]);
  }
  const std::thread::id self = std::this_thread::get_id();
  std::thread::id called_on;
  std::optional<IoResult<ProcessResult>> late;
  ProcessHandle handle =
      io->processes().run({"/bin/echo", "late"}, [&](IoResult<ProcessResult> result) {
        called_on = std::this_thread::get_id();
        late.emplace(std::move(result));
      });
  EXPECT_FALSE(handle.valid());
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(called_on, self);
  EXPECT_EQ(late->error().code, ESHUTDOWN);
  EXPECT_EQ(late->error().path, "/bin/echo");
  io.reset();
}

TEST_P(IoProcessTest, ShutdownWithOperationsOfEveryKindInFlight) {
  auto io = std::make_unique<IoService>(config());
  TempDir dir;
  const std::string path = dir.file("data.txt");
  std::ofstream(path) << std::string(1 << 20, 'd');

  std::atomic<int> timer_calls{0}, timer_fired{0};
  (void)io->start_timer(std::chrono::hours(1), [&](bool fired) {
    if (fired) timer_fired.fetch_add(1);
    timer_calls.fetch_add(1);
  });
  constexpr int kReads = 50;
  std::atomic<int> reads_ok{0}, read_calls{0};
  for (int i = 0; i < kReads; ++i) {
    io->files().read_file(path, [&](IoResult<std::string> result) {
      if (result.ok() && result.value().size() == (1u << 20)) reads_ok.fetch_add(1);
      read_calls.fetch_add(1);
    });
  }
  RunWatch sleeper;
  const pid_t sleeper_pid = io->processes().run({"/bin/sleep", "100"}, sleeper.callback(*io)).pid();
  RunWatch echo;
  (void)io->processes().run({"/bin/echo", "quick"}, echo.callback(*io));

  io->shutdown();

  EXPECT_EQ(io->pending_operations(), 0u);
  EXPECT_EQ(timer_calls.load(), 1);
  EXPECT_EQ(timer_fired.load(), 0);
  EXPECT_EQ(read_calls.load(), kReads);
  EXPECT_EQ(reads_ok.load(), kReads);  // accepted file jobs complete
  IoResult<ProcessResult> slept = sleeper.get();
  ASSERT_FALSE(slept.ok());
  EXPECT_TRUE(slept.error().cancelled());
  expect_reaped(sleeper_pid);
  // The quick one either finished or was cancelled by the sweep; it was
  // reported once either way.
  IoResult<ProcessResult> echoed = echo.get();
  if (echoed.ok()) {
    EXPECT_EQ(echoed.value().out, "quick\n");
  } else {
    EXPECT_TRUE(echoed.error().cancelled());
  }
  io.reset();
}

TEST_P(IoProcessTest, GrandchildHoldingThePipesKeepsTheRunOpenUntilItCloses) {
  // sh exits at once; its background child holds stdout for a moment and
  // writes to it. The run reports the grandchild's output too.
  IoService io(config());
  IoResult<ProcessResult> result =
      run_and_wait(io, {"/bin/sh", "-c", "(sleep 0.2; echo late) & echo early"});
  ASSERT_TRUE(result.ok()) << result.error().describe();
  EXPECT_EQ(result.value().out, "early\nlate\n");
  EXPECT_EQ(result.value().code, 0);
}

}  // namespace
}  // namespace weft
