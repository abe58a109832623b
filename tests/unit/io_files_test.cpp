// Files through the IoService: whole-file operations, the ordered writer,
// the streaming line reader, the blocking pool's accounting and shutdown
// (io/file_service.h, io/file_writer.h, io/line_reader.h,
// io/blocking_pool.h, io/blocking_strand.h). Real files in a temporary
// directory. Tests assert behaviour, never durations; a wait for a callback
// has a generous bound only so that a lost callback fails instead of hanging.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "io/file_service.h"
#include "io/io_service.h"
#include "temp_dir.h"

namespace weft {
namespace {

constexpr auto kBound = std::chrono::minutes(3);

// Starts an operation with a callback and waits for its one result. A
// second call of the callback throws std::future_error from set_value,
// which terminates the test run: exactly-once is checked everywhere.
template <typename T, typename Start>
IoResult<T> await_result(Start start) {
  auto promise = std::make_shared<std::promise<IoResult<T>>>();
  std::future<IoResult<T>> future = promise->get_future();
  start(IoCallback<T>([promise](IoResult<T> result) { promise->set_value(std::move(result)); }));
  if (future.wait_for(kBound) != std::future_status::ready) {
    ADD_FAILURE() << "callback never ran";
    std::abort();
  }
  return future.get();
}

void wait_idle(const IoService& io) {
  const auto give_up = std::chrono::steady_clock::now() + kBound;
  while (io.pending_operations() != 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "operations never completed";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

using weft::testing::TempDir;

void write_plain(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void expect_error(const IoError& error, int code, const std::string& path) {
  EXPECT_EQ(error.code, code) << error.describe();
  EXPECT_EQ(error.message, std::system_category().message(code)) << error.describe();
  EXPECT_EQ(error.path, path);
}

TEST(IoFiles, WriteAppendReadExistsDeleteRoundTrip) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("a.txt");
  FileService& files = io.files();
  EXPECT_FALSE(files.exists(path));

  IoResult<void> wrote =
      await_result<void>([&](auto done) { files.write_file(path, "hello\n", done); });
  ASSERT_TRUE(wrote.ok()) << wrote.error().describe();
  // On disk when the callback ran: a plain read sees it.
  EXPECT_EQ(read_plain(path), "hello\n");
  EXPECT_TRUE(files.exists(path));

  IoResult<void> appended =
      await_result<void>([&](auto done) { files.append_file(path, "world\n", done); });
  ASSERT_TRUE(appended.ok()) << appended.error().describe();
  IoResult<std::string> text =
      await_result<std::string>([&](auto done) { files.read_file(path, done); });
  ASSERT_TRUE(text.ok()) << text.error().describe();
  EXPECT_EQ(text.value(), "hello\nworld\n");

  // write_file truncates.
  ASSERT_TRUE(await_result<void>([&](auto done) { files.write_file(path, "x", done); }).ok());
  EXPECT_EQ(read_plain(path), "x");

  // Binary bytes pass through untouched.
  const std::string binary("\0\xff\n\r\x01", 5);
  ASSERT_TRUE(await_result<void>([&](auto done) { files.write_file(path, binary, done); }).ok());
  text = await_result<std::string>([&](auto done) { files.read_file(path, done); });
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text.value(), binary);

  IoResult<void> deleted = await_result<void>([&](auto done) { files.delete_file(path, done); });
  ASSERT_TRUE(deleted.ok()) << deleted.error().describe();
  EXPECT_FALSE(files.exists(path));
  wait_idle(io);
}

// The end of a program waits for file work nobody awaited
// (IoService::wait_for_file_work): it returns once every queued job has
// run and its callback returned, and gives up, false, while a job is
// stuck.
TEST(IoFiles, WaitingForFileWorkSeesEveryJobEnd) {
  IoService io;
  TempDir dir;
  std::atomic<int> callbacks{0};
  for (int i = 0; i < 200; ++i) {
    io.files().write_file(dir.file("f" + std::to_string(i)), "x",
                          [&callbacks](IoResult<void>) { callbacks.fetch_add(1); });
  }
  ASSERT_TRUE(io.wait_for_file_work(std::chrono::seconds(60)));
  EXPECT_EQ(callbacks.load(), 200);

  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  io.files().write_file(dir.file("stuck"), "x", [released](IoResult<void>) { released.wait(); });
  EXPECT_FALSE(io.wait_for_file_work(std::chrono::milliseconds(20)));
  release.set_value();
  EXPECT_TRUE(io.wait_for_file_work(std::chrono::seconds(60)));
}

TEST(IoFiles, MissingFileReportsTheOsMessageAndThePath) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("missing.txt");
  FileService& files = io.files();
  IoResult<std::string> text =
      await_result<std::string>([&](auto done) { files.read_file(path, done); });
  ASSERT_FALSE(text.ok());
  expect_error(text.error(), ENOENT, path);
  EXPECT_EQ(text.error().describe(), path + ": No such file or directory");

  auto lines =
      await_result<std::vector<std::string>>([&](auto done) { files.read_lines(path, done); });
  ASSERT_FALSE(lines.ok());
  expect_error(lines.error(), ENOENT, path);

  IoResult<void> deleted = await_result<void>([&](auto done) { files.delete_file(path, done); });
  ASSERT_FALSE(deleted.ok());
  expect_error(deleted.error(), ENOENT, path);

  auto listing = await_result<std::vector<std::string>>(
      [&](auto done) { files.list_dir(dir.file("no-such-dir"), done); });
  ASSERT_FALSE(listing.ok());
  expect_error(listing.error(), ENOENT, dir.file("no-such-dir"));

  // Writing into a missing directory.
  const std::string nested = dir.file("no-such-dir/x.txt");
  IoResult<void> wrote =
      await_result<void>([&](auto done) { files.write_file(nested, "x", done); });
  ASSERT_FALSE(wrote.ok());
  expect_error(wrote.error(), ENOENT, nested);
}

TEST(IoFiles, DirectoryWhereAFileIsExpectedIsAnError) {
  IoService io;
  TempDir dir;
  FileService& files = io.files();
  const std::string path = dir.path();

  IoResult<std::string> text =
      await_result<std::string>([&](auto done) { files.read_file(path, done); });
  ASSERT_FALSE(text.ok());
  expect_error(text.error(), EISDIR, path);
  EXPECT_EQ(text.error().message, "Is a directory");

  auto lines =
      await_result<std::vector<std::string>>([&](auto done) { files.read_lines(path, done); });
  ASSERT_FALSE(lines.ok());
  expect_error(lines.error(), EISDIR, path);

  IoResult<void> wrote = await_result<void>([&](auto done) { files.write_file(path, "x", done); });
  ASSERT_FALSE(wrote.ok());
  expect_error(wrote.error(), EISDIR, path);

  IoResult<void> deleted = await_result<void>([&](auto done) { files.delete_file(path, done); });
  ASSERT_FALSE(deleted.ok());
  expect_error(deleted.error(), EISDIR, path);

  LineReader reader = files.open_lines(path);
  auto chunk = await_result<LineChunk>([&](auto done) { reader.next_chunk(10, done); });
  ASSERT_FALSE(chunk.ok());
  expect_error(chunk.error(), EISDIR, path);

  // And the other way round: a file where a directory is expected.
  const std::string file = dir.file("plain.txt");
  write_plain(file, "x");
  auto listing =
      await_result<std::vector<std::string>>([&](auto done) { files.list_dir(file, done); });
  ASSERT_FALSE(listing.ok());
  expect_error(listing.error(), ENOTDIR, file);
}

// Reads and appends a file its user may not touch; true when both fail with
// EACCES naming the path.
bool permission_is_denied(const std::string& path) {
  IoService io;
  IoResult<std::string> text =
      await_result<std::string>([&](auto done) { io.files().read_file(path, done); });
  IoResult<void> wrote =
      await_result<void>([&](auto done) { io.files().append_file(path, "x", done); });
  return !text.ok() && text.error().code == EACCES && text.error().path == path && !wrote.ok() &&
         wrote.error().code == EACCES && wrote.error().path == path;
}

TEST(IoFiles, PermissionDeniedIsAnError) {
  TempDir dir;
  const std::string path = dir.file("secret.txt");
  write_plain(path, "secret");
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  if (::geteuid() != 0) {
    EXPECT_TRUE(permission_is_denied(path));
    return;
  }
  // chmod 000 does not deny root: check as user nobody, in a child process
  // (a death test re-runs this test up to here in a fresh process). The
  // directory must let nobody reach the file.
  ASSERT_EQ(::chmod(path.substr(0, path.rfind('/')).c_str(), 0755), 0);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) std::_Exit(2);
        std::_Exit(permission_is_denied(path) ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(IoFiles, HundredMegabyteFileRoundTrips) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("big.bin");
  constexpr std::size_t kSize = 100u * 1000u * 1000u;
  std::string data(kSize, '\0');
  for (std::size_t i = 0; i < kSize; ++i) data[i] = static_cast<char>((i * 131 + (i >> 12)) & 0xff);

  IoResult<void> wrote =
      await_result<void>([&](auto done) { io.files().write_file(path, data, done); });
  ASSERT_TRUE(wrote.ok()) << wrote.error().describe();
  struct stat info;
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(static_cast<std::size_t>(info.st_size), kSize);

  IoResult<std::string> text =
      await_result<std::string>([&](auto done) { io.files().read_file(path, done); });
  ASSERT_TRUE(text.ok()) << text.error().describe();
  ASSERT_EQ(text.value().size(), kSize);
  EXPECT_TRUE(text.value() == data);
}

TEST(IoFiles, ReadsLargerThanTheCapFailCleanly) {
  IoConfig config;
  config.max_file_bytes = 4096;
  IoService io(config);
  TempDir dir;
  const std::string at_cap = dir.file("at-cap.txt");
  const std::string over_cap = dir.file("over-cap.txt");
  write_plain(at_cap, std::string(4096, 'a'));
  write_plain(over_cap, std::string(4097, 'a'));

  IoResult<std::string> text =
      await_result<std::string>([&](auto done) { io.files().read_file(at_cap, done); });
  ASSERT_TRUE(text.ok()) << text.error().describe();
  EXPECT_EQ(text.value().size(), 4096u);

  text = await_result<std::string>([&](auto done) { io.files().read_file(over_cap, done); });
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code, EFBIG);
  EXPECT_EQ(text.error().path, over_cap);
  EXPECT_NE(text.error().message.find("4096"), std::string::npos) << text.error().message;

  auto lines = await_result<std::vector<std::string>>(
      [&](auto done) { io.files().read_lines(over_cap, done); });
  ASSERT_FALSE(lines.ok());
  EXPECT_EQ(lines.error().code, EFBIG);

  // A file whose size is not known up front (an endless device) is capped
  // as it is read.
  text = await_result<std::string>([&](auto done) { io.files().read_file("/dev/zero", done); });
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.error().code, EFBIG);
  EXPECT_EQ(text.error().path, "/dev/zero");
}

TEST(IoFiles, ThousandSmallFilesReadConcurrentlyEachCompleteOnceOnAPoolThread) {
  IoConfig config;
  config.blocking_threads = 4;
  IoService io(config);
  TempDir dir;
  constexpr int kFiles = 1000;
  auto name = [&](int i) { return dir.file("f" + std::to_string(i) + ".txt"); };
  auto content = [](int i) {
    return "file " + std::to_string(i) + "\n" + std::string(i % 97, 'x');
  };

  // Written through the service too, all at once.
  std::vector<std::atomic<int>> write_calls(kFiles);
  std::atomic<int> write_errors{0};
  for (int i = 0; i < kFiles; ++i) {
    io.files().write_file(name(i), content(i), [&, i](IoResult<void> result) {
      if (!result.ok()) write_errors.fetch_add(1);
      write_calls[i].fetch_add(1);
    });
  }
  wait_idle(io);
  EXPECT_EQ(write_errors.load(), 0);
  for (int i = 0; i < kFiles; ++i) ASSERT_EQ(write_calls[i].load(), 1) << "file " << i;

  struct Outcome {
    std::atomic<int> calls{0};
    std::atomic<bool> matched{false};
    std::atomic<bool> on_pool_thread{false};
  };
  std::vector<Outcome> outcomes(kFiles);
  const std::thread::id io_thread = io.thread_id();
  std::mutex threads_mutex;
  std::set<std::thread::id> callback_threads;
  std::vector<std::thread::id> submitters(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      submitters[t] = std::this_thread::get_id();
      for (int i = t; i < kFiles; i += 2) {
        io.files().read_file(name(i), [&, i](IoResult<std::string> result) {
          outcomes[i].matched.store(result.ok() && result.value() == content(i));
          const std::thread::id self = std::this_thread::get_id();
          outcomes[i].on_pool_thread.store(self != io_thread);
          {
            std::lock_guard lock(threads_mutex);
            callback_threads.insert(self);
          }
          outcomes[i].calls.fetch_add(1);
        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  wait_idle(io);
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_EQ(outcomes[i].calls.load(), 1) << "file " << i;
    EXPECT_TRUE(outcomes[i].matched.load()) << "file " << i;
    EXPECT_TRUE(outcomes[i].on_pool_thread.load()) << "file " << i;
  }
  EXPECT_LE(callback_threads.size(), 4u);
  for (const std::thread::id submitter : submitters) {
    EXPECT_EQ(callback_threads.count(submitter), 0u);
  }
  EXPECT_EQ(io.pending_operations(), 0u);
}

TEST(IoFiles, PoolRunsJobsInParallelUpToItsThreadCount) {
  // Four callbacks that each wait until all four have started: this can
  // only finish if four pool threads run at once.
  IoConfig config;
  config.blocking_threads = 4;
  IoService io(config);
  TempDir dir;
  const std::string path = dir.file("shared.txt");
  write_plain(path, "x");
  std::mutex mutex;
  std::condition_variable all_in;
  int inside = 0;
  std::atomic<int> met{0};
  for (int i = 0; i < 4; ++i) {
    io.files().read_file(path, [&](IoResult<std::string>) {
      std::unique_lock lock(mutex);
      ++inside;
      all_in.notify_all();
      if (all_in.wait_for(lock, kBound, [&] { return inside == 4; })) met.fetch_add(1);
    });
  }
  wait_idle(io);
  EXPECT_EQ(met.load(), 4);
}

TEST(IoFiles, ReadLinesSplitsOnLfAndCrLf) {
  IoService io;
  TempDir dir;
  struct Case {
    std::string text;
    std::vector<std::string> lines;
  };
  const std::vector<Case> cases = {
      {"", {}},
      {"\n", {""}},
      {"one", {"one"}},
      {"one\ntwo\n", {"one", "two"}},
      {"one\r\ntwo\r\nthree", {"one", "two", "three"}},
      {"a\n\nb\n\n", {"a", "", "b", ""}},
      {"cr\ronly\n", {"cr\ronly"}},
  };
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const std::string path = dir.file("lines" + std::to_string(c));
    write_plain(path, cases[c].text);
    auto lines = await_result<std::vector<std::string>>(
        [&](auto done) { io.files().read_lines(path, done); });
    ASSERT_TRUE(lines.ok()) << lines.error().describe();
    EXPECT_EQ(lines.value(), cases[c].lines) << "case " << c;

    // The streaming reader splits the same way.
    LineReader reader = io.files().open_lines(path);
    std::vector<std::string> streamed;
    for (;;) {
      auto chunk = await_result<LineChunk>([&](auto done) { reader.next_chunk(1, done); });
      ASSERT_TRUE(chunk.ok()) << chunk.error().describe();
      streamed.insert(streamed.end(), chunk.value().lines.begin(), chunk.value().lines.end());
      if (chunk.value().end) break;
    }
    EXPECT_EQ(streamed, cases[c].lines) << "case " << c;
  }
}

TEST(IoFiles, ListDirGivesSortedNamesWithoutDots) {
  IoService io;
  TempDir dir;
  for (const char* name : {"b.txt", "a.txt", "C.txt", ".hidden", "z"})
    write_plain(dir.file(name), "");
  ASSERT_EQ(::mkdir(dir.file("sub").c_str(), 0755), 0);
  auto listing = await_result<std::vector<std::string>>(
      [&](auto done) { io.files().list_dir(dir.path(), done); });
  ASSERT_TRUE(listing.ok()) << listing.error().describe();
  const std::vector<std::string> expected = {".hidden", "C.txt", "a.txt", "b.txt", "sub", "z"};
  EXPECT_EQ(listing.value(), expected);

  auto empty = await_result<std::vector<std::string>>(
      [&](auto done) { io.files().list_dir(dir.file("sub"), done); });
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty.value().empty());
}

TEST(IoFiles, OrderedWriterWritesInCallOrder) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("log.txt");
  FileWriter writer = io.files().open_writer(path, false);
  constexpr int kWrites = 3000;
  std::mutex order_mutex;
  std::vector<int> order;
  std::atomic<int> errors{0};
  std::string expected;
  for (int i = 0; i < kWrites; ++i) {
    const std::string line = "line " + std::to_string(i) + " " + std::string(i % 13, '.') + "\n";
    expected += line;
    writer.write(line, [&, i](IoResult<void> result) {
      if (!result.ok()) errors.fetch_add(1);
      std::lock_guard lock(order_mutex);
      order.push_back(i);
    });
  }
  IoResult<void> closed = await_result<void>([&](auto done) { writer.close(done); });
  ASSERT_TRUE(closed.ok()) << closed.error().describe();
  // close() came after every write, so every write's callback has run.
  EXPECT_EQ(errors.load(), 0);
  {
    std::lock_guard lock(order_mutex);
    ASSERT_EQ(order.size(), static_cast<std::size_t>(kWrites));
    for (int i = 0; i < kWrites; ++i) ASSERT_EQ(order[i], i);
  }
  EXPECT_EQ(read_plain(path), expected);

  // After close: writes fail, another close does nothing.
  IoResult<void> late = await_result<void>([&](auto done) { writer.write("late", done); });
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, EBADF);
  EXPECT_EQ(late.error().path, path);
  EXPECT_TRUE(await_result<void>([&](auto done) { writer.close(done); }).ok());
  EXPECT_EQ(read_plain(path), expected);
  wait_idle(io);
}

TEST(IoFiles, OrderedWriterFromManyThreadsKeepsEachThreadsOrder) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("mixed.txt");
  FileWriter writer = io.files().open_writer(path, false);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        writer.write(std::to_string(t) + ":" + std::to_string(k) + "\n", [](IoResult<void>) {});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(await_result<void>([&](auto done) { writer.close(done); }).ok());
  // Whole lines only (writes never interleave), each thread's in order.
  std::vector<int> next(kThreads, 0);
  std::ifstream in(path);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    const std::size_t colon = line.find(':');
    ASSERT_NE(colon, std::string::npos) << line;
    const int t = std::stoi(line.substr(0, colon));
    const int k = std::stoi(line.substr(colon + 1));
    ASSERT_EQ(k, next[t]) << "thread " << t;
    ++next[t];
    ++count;
  }
  EXPECT_EQ(count, kThreads * kPerThread);
}

TEST(IoFiles, AppendingWriterKeepsWhatWasThere) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("append.txt");
  write_plain(path, "old\n");
  FileWriter writer = io.files().open_writer(path, true);
  writer.write("new\n", [](IoResult<void>) {});
  ASSERT_TRUE(await_result<void>([&](auto done) { writer.close(done); }).ok());
  EXPECT_EQ(read_plain(path), "old\nnew\n");

  // A truncating writer that is only opened and closed empties the file.
  FileWriter truncating = io.files().open_writer(path, false);
  ASSERT_TRUE(await_result<void>([&](auto done) { truncating.close(done); }).ok());
  EXPECT_EQ(read_plain(path), "");
}

TEST(IoFiles, WriterOpenErrorIsReportedByWritesAndClose) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("missing-dir/out.txt");
  FileWriter writer = io.files().open_writer(path, false);
  IoResult<void> wrote = await_result<void>([&](auto done) { writer.write("x", done); });
  ASSERT_FALSE(wrote.ok());
  expect_error(wrote.error(), ENOENT, path);
  IoResult<void> closed = await_result<void>([&](auto done) { writer.close(done); });
  ASSERT_FALSE(closed.ok());
  expect_error(closed.error(), ENOENT, path);

  FileWriter on_directory = io.files().open_writer(dir.path(), false);
  closed = await_result<void>([&](auto done) { on_directory.close(done); });
  ASSERT_FALSE(closed.ok());
  expect_error(closed.error(), EISDIR, dir.path());
}

TEST(IoFiles, DroppedWriterStillWritesWhatWasQueued) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("dropped.txt");
  {
    FileWriter writer = io.files().open_writer(path, false);
    for (int i = 0; i < 100; ++i) writer.write("x", [](IoResult<void>) {});
  }
  wait_idle(io);
  EXPECT_EQ(read_plain(path), std::string(100, 'x'));
}

TEST(IoFiles, LineReaderStreamsAFileInChunks) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("many-lines.txt");
  constexpr int kLines = 200'000;
  std::string text;
  for (int i = 0; i < kLines; ++i) {
    text += "line number " + std::to_string(i) + (i % 3 == 0 ? "\r\n" : "\n");
  }
  text += "last line without a newline";
  write_plain(path, text);

  LineReader reader = io.files().open_lines(path);
  int next = 0;
  bool saw_last = false;
  int chunks = 0;
  for (;;) {
    auto chunk = await_result<LineChunk>([&](auto done) { reader.next_chunk(1000, done); });
    ASSERT_TRUE(chunk.ok()) << chunk.error().describe();
    ASSERT_LE(chunk.value().lines.size(), 1000u);
    ++chunks;
    for (const std::string& line : chunk.value().lines) {
      if (next < kLines) {
        ASSERT_EQ(line, "line number " + std::to_string(next));
        ++next;
      } else {
        ASSERT_FALSE(saw_last);
        EXPECT_EQ(line, "last line without a newline");
        saw_last = true;
      }
    }
    if (chunk.value().end) break;
  }
  EXPECT_EQ(next, kLines);
  EXPECT_TRUE(saw_last);
  EXPECT_GE(chunks, kLines / 1000);
  // After the end: empty chunks with end set.
  auto after = await_result<LineChunk>([&](auto done) { reader.next_chunk(10, done); });
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after.value().lines.empty());
  EXPECT_TRUE(after.value().end);

  reader.close();
  auto closed = await_result<LineChunk>([&](auto done) { reader.next_chunk(10, done); });
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.error().code, EBADF);
}

TEST(IoFiles, LineReaderQueuedChunksComeInCallOrder) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("queued.txt");
  std::string text;
  for (int i = 0; i < 1000; ++i) text += std::to_string(i) + "\n";
  write_plain(path, text);
  LineReader reader = io.files().open_lines(path);
  std::mutex mutex;
  std::vector<std::string> lines;
  std::vector<int> order;
  for (int c = 0; c < 150; ++c) {  // 150 x 7 lines is more than the file has
    reader.next_chunk(7, [&, c](IoResult<LineChunk> chunk) {
      std::lock_guard lock(mutex);
      order.push_back(c);
      if (chunk.ok())
        lines.insert(lines.end(), chunk.value().lines.begin(), chunk.value().lines.end());
    });
  }
  wait_idle(io);
  ASSERT_EQ(order.size(), 150u);
  for (int c = 0; c < 150; ++c) ASSERT_EQ(order[c], c);
  ASSERT_EQ(lines.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(lines[i], std::to_string(i));
}

TEST(IoFiles, LineReaderRefusesAnOverlongLineAfterTheLinesBeforeIt) {
  IoConfig config;
  config.max_file_bytes = 100'000;
  IoService io(config);
  TempDir dir;
  const std::string path = dir.file("long-line.txt");
  write_plain(path, "short\nalso short\n" + std::string(300'000, 'y') + "\nafter\n");
  LineReader reader = io.files().open_lines(path);
  auto first = await_result<LineChunk>([&](auto done) { reader.next_chunk(100, done); });
  ASSERT_TRUE(first.ok()) << first.error().describe();
  EXPECT_EQ(first.value().lines, (std::vector<std::string>{"short", "also short"}));
  EXPECT_FALSE(first.value().end);
  for (int i = 0; i < 2; ++i) {  // the error sticks
    auto failed = await_result<LineChunk>([&](auto done) { reader.next_chunk(100, done); });
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, EFBIG);
    EXPECT_EQ(failed.error().path, path);
  }
}

TEST(IoFiles, LineReaderOnAMissingFileFailsAtTheFirstChunk) {
  IoService io;
  TempDir dir;
  const std::string path = dir.file("absent.txt");
  LineReader reader = io.files().open_lines(path);
  for (int i = 0; i < 2; ++i) {
    auto chunk = await_result<LineChunk>([&](auto done) { reader.next_chunk(5, done); });
    ASSERT_FALSE(chunk.ok());
    expect_error(chunk.error(), ENOENT, path);
  }
}

TEST(IoFiles, ShutdownCompletesAcceptedJobsAndRejectsLaterOnesAtOnce) {
  auto io = std::make_unique<IoService>();
  TempDir dir;
  const std::string source = dir.file("source.txt");
  write_plain(source, std::string(100'000, 's'));
  constexpr int kJobs = 300;
  struct Outcome {
    std::atomic<int> calls{0};
    std::atomic<bool> ok{false};
  };
  std::vector<Outcome> reads(kJobs), writes(kJobs);
  for (int i = 0; i < kJobs; ++i) {
    io->files().read_file(source, [&, i](IoResult<std::string> result) {
      reads[i].ok.store(result.ok() && result.value().size() == 100'000);
      reads[i].calls.fetch_add(1);
    });
    io->files().write_file(dir.file("w" + std::to_string(i)), std::string(1000, 'w'),
                           [&, i](IoResult<void> result) {
                             writes[i].ok.store(result.ok());
                             writes[i].calls.fetch_add(1);
                           });
  }
  FileWriter writer = io->files().open_writer(dir.file("writer.txt"), false);
  std::atomic<int> writer_calls{0};
  for (int i = 0; i < 100; ++i) {
    writer.write("abc", [&](IoResult<void> result) {
      if (result.ok()) writer_calls.fetch_add(1);
    });
  }
  io->shutdown();  // with most of that still queued
  EXPECT_EQ(io->pending_operations(), 0u);
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_EQ(reads[i].calls.load(), 1) << "read " << i;
    ASSERT_EQ(writes[i].calls.load(), 1) << "write " << i;
    EXPECT_TRUE(reads[i].ok.load()) << "read " << i;
    EXPECT_TRUE(writes[i].ok.load()) << "write " << i;
    EXPECT_EQ(read_plain(dir.file("w" + std::to_string(i))), std::string(1000, 'w'));
  }
  EXPECT_EQ(writer_calls.load(), 100);
  EXPECT_EQ(read_plain(dir.file("writer.txt")), [] {
    std::string all;
    for (int i = 0; i < 100; ++i) all += "abc";
    return all;
  }());

  // After shutdown: an error at once, on the calling thread.
  const std::thread::id self = std::this_thread::get_id();
  std::thread::id called_on;
  int calls = 0;
  io->files().read_file(source, [&](IoResult<std::string> result) {
    ++calls;
    called_on = std::this_thread::get_id();
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ESHUTDOWN);
    EXPECT_EQ(result.error().path, source);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(called_on, self);
  writer.write("late", [&](IoResult<void> result) {
    ++calls;
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ESHUTDOWN);
  });
  EXPECT_EQ(calls, 2);
  LineReader reader = io->files().open_lines(source);
  reader.next_chunk(1, [&](IoResult<LineChunk> result) {
    ++calls;
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ESHUTDOWN);
  });
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(io->pending_operations(), 0u);
  io.reset();
}

TEST(IoFiles, ShutdownOnAPoolThreadThrows) {
  IoService io;
  TempDir dir;
  write_plain(dir.file("x"), "x");
  std::atomic<int> threw{0};
  io.files().read_file(dir.file("x"), [&](IoResult<std::string>) {
    try {
      io.shutdown();
    } catch (const std::logic_error&) {
      threw.fetch_add(1);
    }
  });
  wait_idle(io);
  EXPECT_EQ(threw.load(), 1);
}

TEST(IoFiles, CallbacksMayStartMoreFileWork) {
  // A chain: each callback starts the next append from its pool thread.
  IoService io;
  TempDir dir;
  const std::string path = dir.file("chain.txt");
  constexpr int kLinks = 200;
  std::promise<void> finished;
  std::function<void(int)> link = [&](int i) {
    io.files().append_file(path, std::to_string(i) + ",", [&, i](IoResult<void> result) {
      if (!result.ok() || i + 1 == kLinks) {
        finished.set_value();
        return;
      }
      link(i + 1);
    });
  };
  link(0);
  ASSERT_EQ(finished.get_future().wait_for(kBound), std::future_status::ready);
  wait_idle(io);
  std::string expected;
  for (int i = 0; i < kLinks; ++i) expected += std::to_string(i) + ",";
  EXPECT_EQ(read_plain(path), expected);
}

}  // namespace
}  // namespace weft
