#include "cli/test_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "engine/program.h"

namespace weft::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A child printing more than this is stopped: it is looping, and keeping
// its output would only exhaust memory.
constexpr size_t kMaxCapturedBytes = 64u << 20;

// ---------------------------------------------------------------------------
// Expectations

struct ExpectedLine {
  size_t source_line;  // where the `# expect:` comment is, for the report
  std::string text;
};

struct Expectations {
  std::vector<ExpectedLine> output;
  std::vector<std::string> errors;  // substrings of stderr
  std::optional<int> exit_status;
  std::vector<std::string> malformed;  // comments the runner could not read

  bool empty() const {
    return output.empty() && errors.empty() && !exit_status && malformed.empty();
  }
};

std::string_view trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

// Reads every `# expect...` comment. The marker may also follow code on the
// same line: `(println 1)  # expect: 1`.
Expectations read_expectations(std::string_view text) {
  constexpr std::string_view kMarker = "# expect";
  Expectations expectations;
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t newline = text.find('\n', start);
    if (newline == std::string_view::npos) newline = text.size();
    std::string_view line = text.substr(start, newline - start);
    start = newline + 1;
    ++line_number;

    size_t at = line.find(kMarker);
    if (at == std::string_view::npos) continue;
    std::string_view rest = line.substr(at + kMarker.size());
    if (rest.starts_with(":")) {
      rest.remove_prefix(1);
      if (rest.starts_with(" ")) rest.remove_prefix(1);
      if (rest.ends_with("\r")) rest.remove_suffix(1);
      expectations.output.push_back({line_number, std::string(rest)});
    } else if (rest.starts_with(" error:")) {
      std::string_view wanted = trim(rest.substr(7));
      if (wanted.empty()) {
        expectations.malformed.push_back("line " + std::to_string(line_number) +
                                         ": '# expect error:' needs the text to look for");
      } else {
        expectations.errors.emplace_back(wanted);
      }
    } else if (rest.starts_with(" exit:")) {
      std::string wanted(trim(rest.substr(6)));
      char* end = nullptr;
      long status = std::strtol(wanted.c_str(), &end, 10);
      if (wanted.empty() || *end != '\0' || status < 0 || status > 255) {
        expectations.malformed.push_back("line " + std::to_string(line_number) +
                                         ": '# expect exit:' needs a status from 0 to 255");
      } else {
        expectations.exit_status = static_cast<int>(status);
      }
    }
    // Anything else ("# expectations ...") is prose.
  }
  return expectations;
}

// ---------------------------------------------------------------------------
// Running one child

struct ChildResult {
  std::string out;
  std::string err;
  int exit_status = -1;  // when the child exited
  int signal = 0;        // when a signal ended it
  bool timed_out = false;
  bool too_much_output = false;
  std::string spawn_error;
  double seconds = 0;
};

class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// Reads both pipes until they close, the deadline passes or the output
// grows too large. Gives false when the child has to be killed.
bool drain_pipes(int out_fd, int err_fd, Clock::time_point deadline, ChildResult& result) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buffer[65536];
  while (open_count > 0) {
    auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (remaining <= 0) {
      result.timed_out = true;
      return false;
    }
    int ready = poll(fds, 2, static_cast<int>(std::min<long long>(remaining, 1000)));
    if (ready < 0 && errno != EINTR) return false;
    for (int i = 0; i < 2 && ready > 0; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t got = read(fds[i].fd, buffer, sizeof buffer);
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        fds[i].fd = -1;  // closed by the child (or unreadable): stop polling it
        --open_count;
      }
    }
    if (result.out.size() + result.err.size() > kMaxCapturedBytes) {
      result.too_much_output = true;
      return false;
    }
  }
  return true;
}

// Waits for `pid` until the deadline, then kills it.
int wait_for_exit(pid_t pid, Clock::time_point deadline, ChildResult& result) {
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return status;
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// `binary run file`, with stdin from /dev/null and stdout/stderr captured.
ChildResult run_child(const std::string& binary, const std::string& file, int timeout_seconds,
                      int threads) {
  ChildResult result;
  auto started = Clock::now();
  auto deadline = started + std::chrono::seconds(timeout_seconds);

  // O_CLOEXEC: a child spawned at the same time by the other worker thread
  // must not inherit these ends, or this pipe would not see end-of-file
  // until that child exits too.
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.spawn_error = std::strerror(errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.spawn_error = std::strerror(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }

  FileActions actions;
  posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(actions.get(), out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(actions.get(), err_pipe[1], STDERR_FILENO);

  std::string run_word = "run";
  std::string threads_flag = "--threads";
  std::string threads_value = std::to_string(threads);
  std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
  if (threads > 0) {
    argv.push_back(threads_flag.data());
    argv.push_back(threads_value.data());
  }
  argv.insert(argv.end(), {run_word.data(), const_cast<char*>(file.c_str()), nullptr});
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, binary.c_str(), actions.get(), nullptr, argv.data(), environ);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    result.spawn_error = std::strerror(spawned);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return result;
  }

  if (!drain_pipes(out_pipe[0], err_pipe[0], deadline, result)) kill(pid, SIGKILL);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = wait_for_exit(pid, deadline, result);
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

// ---------------------------------------------------------------------------
// Judging a result

std::string printable(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t newline = text.find('\n', start);
    if (newline == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, newline - start));
    start = newline + 1;
  }
  return lines;
}

// The line of stderr that best says what went wrong: a sanitizer's report
// line when there is one (its banner of '=' says nothing), otherwise the
// first line with text.
std::string first_line(std::string_view text) {
  std::vector<std::string_view> lines = split_lines(text);
  for (std::string_view line : lines) {
    if (line.find("Sanitizer") != std::string_view::npos ||
        line.find("runtime error:") != std::string_view::npos) {
      return printable(trim(line));
    }
  }
  for (std::string_view line : lines) {
    std::string_view content = trim(line);
    if (!content.empty() && content.find_first_not_of('=') != std::string_view::npos) {
      return printable(content);
    }
  }
  return "nothing";
}

// The first place where stdout and the expected lines part, or nothing.
std::optional<std::string> compare_output(const Expectations& expected, const ChildResult& got) {
  std::vector<std::string_view> lines = split_lines(got.out);
  size_t common = std::min(lines.size(), expected.output.size());
  for (size_t i = 0; i < common; ++i) {
    if (lines[i] != expected.output[i].text) {
      return "stdout line " + std::to_string(i + 1) + ": expected " +
             printable(expected.output[i].text) + " (line " +
             std::to_string(expected.output[i].source_line) + "), got " + printable(lines[i]);
    }
  }
  if (lines.size() < expected.output.size()) {
    const ExpectedLine& missing = expected.output[lines.size()];
    return "stdout line " + std::to_string(lines.size() + 1) + ": expected " +
           printable(missing.text) + " (line " + std::to_string(missing.source_line) +
           "), got end of output";
  }
  if (lines.size() > expected.output.size()) {
    size_t extra = lines.size() - expected.output.size();
    return "stdout line " + std::to_string(expected.output.size() + 1) + ": unexpected " +
           printable(lines[expected.output.size()]) +
           (extra > 1 ? " and " + std::to_string(extra - 1) + " more line(s)" : "");
  }
  return std::nullopt;
}

std::vector<std::string> judge(const Expectations& expected, const ChildResult& got,
                               int timeout_seconds) {
  std::vector<std::string> problems = expected.malformed;
  if (!got.spawn_error.empty()) {
    problems.push_back("could not start weft: " + got.spawn_error);
    return problems;
  }
  if (got.timed_out) {
    problems.push_back("timed out after " + std::to_string(timeout_seconds) + " s (killed)");
    return problems;
  }
  if (got.too_much_output) {
    problems.push_back("printed more than " + std::to_string(kMaxCapturedBytes >> 20) +
                       " MB (killed)");
    return problems;
  }
  if (got.signal != 0) {
    const char* name = sigdescr_np(got.signal);
    problems.push_back("killed by signal " + std::to_string(got.signal) + " (" +
                       (name != nullptr ? name : "unknown") + "), stderr: " + first_line(got.err));
    return problems;
  }

  bool status_ok = true;
  std::string wanted_status;
  if (expected.exit_status) {
    status_ok = got.exit_status == *expected.exit_status;
    wanted_status = std::to_string(*expected.exit_status);
  } else if (!expected.errors.empty()) {
    status_ok = got.exit_status == kExitCompileError || got.exit_status == kExitRuntimeError;
    wanted_status = "65 or 70";
  } else {
    status_ok = got.exit_status == kExitOk;
    wanted_status = "0";
  }
  if (!status_ok) {
    problems.push_back("exit status " + std::to_string(got.exit_status) + ", expected " +
                       wanted_status + ", stderr: " + first_line(got.err));
  }
  for (const std::string& wanted : expected.errors) {
    if (got.err.find(wanted) == std::string::npos) {
      problems.push_back("stderr lacks " + printable(wanted) + ", stderr: " + first_line(got.err));
    }
  }
  if (std::optional<std::string> difference = compare_output(expected, got)) {
    problems.push_back(*difference);
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Finding tests

struct TestFile {
  std::string path;
  Expectations expectations;
};

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// Every *.weft under each path (sorted within each path), or an error
// message naming a path that does not exist.
std::variant<std::vector<std::string>, std::string> find_weft_files(
    const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_regular_file(path, error)) {
      files.push_back(path);
      continue;
    }
    if (!fs::is_directory(path, error)) return "no such file or directory: " + path;
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator
             it(path, fs::directory_options::skip_permission_denied, error),
         end;
         !error && it != end; it.increment(error)) {
      if (it->is_regular_file(error) && it->path().extension() == ".weft") {
        found.push_back(it->path().string());
      }
    }
    if (error) return "cannot read " + path + ": " + error.message();
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::string self_binary() {
  std::error_code error;
  fs::path resolved = fs::read_symlink("/proc/self/exe", error);
  return error ? std::string("/proc/self/exe") : resolved.string();
}

}  // namespace

int run_tests(const TestRunOptions& options) {
  auto found = find_weft_files(options.paths);
  if (auto* message = std::get_if<std::string>(&found)) {
    std::fprintf(stderr, "weft test: %s\n", message->c_str());
    return kExitNoInput;
  }

  std::vector<TestFile> tests;
  for (const std::string& path : std::get<std::vector<std::string>>(found)) {
    std::optional<std::string> text = read_text(path);
    if (!text) {
      std::fprintf(stderr, "weft test: cannot read %s\n", path.c_str());
      return kExitNoInput;
    }
    Expectations expectations = read_expectations(*text);
    if (expectations.empty()) {
      if (options.verbose) std::printf("SKIP %s (no # expect comments)\n", path.c_str());
      continue;
    }
    tests.push_back({path, std::move(expectations)});
  }

  // Workers run children and publish results under `lock`; this thread
  // prints them in file order as they become available.
  const std::string binary = self_binary();
  std::vector<std::optional<ChildResult>> results(tests.size());
  std::mutex lock;
  std::condition_variable result_ready;
  // Only hands out indexes; the results themselves are published under
  // `lock`, so relaxed suffices.
  std::atomic<size_t> next_test{0};
  auto worker = [&] {
    while (true) {
      size_t index = next_test.fetch_add(1, std::memory_order_relaxed);
      if (index >= tests.size()) return;
      ChildResult result =
          run_child(binary, tests[index].path, options.timeout_seconds, options.threads);
      {
        std::lock_guard guard(lock);
        results[index] = std::move(result);
      }
      result_ready.notify_all();
    }
  };
  std::vector<std::jthread> workers;
  int jobs = std::max(1, std::min<int>(options.parallel_jobs, static_cast<int>(tests.size())));
  for (int i = 0; i < jobs; ++i) workers.emplace_back(worker);

  size_t passed = 0;
  size_t failed = 0;
  for (size_t i = 0; i < tests.size(); ++i) {
    ChildResult result;
    {
      std::unique_lock guard(lock);
      result_ready.wait(guard, [&] { return results[i].has_value(); });
      result = std::move(*results[i]);
    }
    std::vector<std::string> problems =
        judge(tests[i].expectations, result, options.timeout_seconds);
    if (problems.empty()) {
      ++passed;
      if (options.verbose) std::printf("PASS %s (%.2f s)\n", tests[i].path.c_str(), result.seconds);
    } else {
      ++failed;
      std::string line = "FAIL " + tests[i].path + ": ";
      for (size_t p = 0; p < problems.size(); ++p) line += (p > 0 ? "; " : "") + problems[p];
      std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
  }
  std::printf("%zu passed, %zu failed\n", passed, failed);
  std::fflush(stdout);
  return failed == 0 ? kExitOk : 1;
}

}  // namespace weft::cli
