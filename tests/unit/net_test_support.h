// Helpers for the TCP and HTTP tests (io_tcp_test.cpp, io_http_test.cpp):
// a box a callback fills, blocking POSIX sockets to play a client by hand,
// and child processes (python3's http.server, curl). Everything talks to
// 127.0.0.1 only. Waits are bounded so that a bug fails a test instead of
// hanging it; the bounds are generous (sanitizer builds on a loaded
// machine) and no test asserts on how long anything took.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace weft::net_test {

using namespace std::chrono_literals;

constexpr std::chrono::seconds kPatience(60);

template <typename Predicate>
bool eventually(Predicate done, std::chrono::nanoseconds limit = kPatience) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// What a callback delivered, and how many times it was called. Shared, so
// that a callback running after a failed test returned finds it alive.
template <typename T>
class Box {
 public:
  void set(T value) {
    std::lock_guard lock(mutex_);
    if (!value_) value_.emplace(std::move(value));
    ++calls_;
    changed_.notify_all();
  }
  // The value, once set; nullopt if it was not set in time.
  std::optional<T> wait(std::chrono::nanoseconds limit = kPatience) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, limit, [&] { return value_.has_value(); });
    return value_;
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<T> value_;
  int calls_ = 0;
};

template <typename T>
std::shared_ptr<Box<T>> make_box() {
  return std::make_shared<Box<T>>();
}

// A free port on 127.0.0.1 that nothing listens on: bound, then closed.
inline std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  (void)::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A blocking client socket on 127.0.0.1 whose reads give up after
// kPatience.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval patience{static_cast<time_t>(kPatience.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof patience);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // Everything until the server closes (or resets) the connection.
  std::string read_until_close() {
    std::string all;
    char chunk[16384];
    for (;;) {
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got <= 0) {
        closed_by_peer_ = got == 0 || errno == ECONNRESET;
        return all;
      }
      all.append(chunk, static_cast<std::size_t>(got));
    }
  }

  // True if the server closed the connection (end of stream or reset)
  // before kPatience ran out.
  [[nodiscard]] bool closed_by_peer() const { return closed_by_peer_; }

  // One HTTP response with a Content-Length body: the head and the body.
  // Empty if the connection ended first.
  std::string read_response() {
    for (;;) {
      const std::size_t head_end = pending_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const std::size_t length = content_length(pending_.substr(0, head_end));
        const std::size_t total = head_end + 4 + length;
        if (pending_.size() >= total) {
          std::string response = pending_.substr(0, total);
          pending_.erase(0, total);
          return response;
        }
      }
      char chunk[16384];
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got <= 0) return std::string();
      pending_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  // Everything up to and including `marker`; empty if the connection
  // ended first.
  std::string read_until_text(std::string_view marker) {
    for (;;) {
      const std::size_t at = pending_.find(marker);
      if (at != std::string::npos) {
        std::string text = pending_.substr(0, at + marker.size());
        pending_.erase(0, at + marker.size());
        return text;
      }
      char chunk[16384];
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got <= 0) return std::string();
      pending_.append(chunk, static_cast<std::size_t>(got));
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  static std::size_t content_length(const std::string& head) {
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::size_t at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return 0;
    return std::stoul(lower.substr(at + 17));
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_by_peer_ = false;
  std::string pending_;
};

// A child process whose stdout (and stderr) the test reads through a pipe.
class Child {
 public:
  // argv[0] is a full path. Not started() if it could not be spawned.
  explicit Child(const std::vector<std::string>& argv) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, args.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    out_ = pipe_fds[0];
  }
  ~Child() {
    kill();
    if (out_ >= 0) ::close(out_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  [[nodiscard]] bool started() const { return pid_ > 0; }

  // Reads output until `wanted` appears in it (true) or the output ends or
  // kPatience passes (false). Everything read so far is in output().
  bool read_until(std::string_view wanted) {
    const auto give_up = std::chrono::steady_clock::now() + kPatience;
    while (output_.find(wanted) == std::string::npos) {
      if (!read_some(give_up)) return false;
    }
    return true;
  }

  // Reads output until the child closes it, then reaps the child; its exit
  // status, or -1.
  int wait() {
    const auto give_up = std::chrono::steady_clock::now() + kPatience;
    while (read_some(give_up)) {
    }
    if (pid_ <= 0) return -1;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  [[nodiscard]] const std::string& output() const { return output_; }

 private:
  bool read_some(std::chrono::steady_clock::time_point give_up) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    if (left.count() <= 0 || out_ < 0) return false;
    pollfd poll_fd{out_, POLLIN, 0};
    if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[4096];
    const ssize_t got = ::read(out_, chunk, sizeof chunk);
    if (got <= 0) return false;
    output_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string output_;
};

}  // namespace weft::net_test
