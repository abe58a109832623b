// BackgroundWatches: things the I/O thread watches for the runtime's own
// diagnostics (a signal such as SIGQUIT, a one-off delay such as
// --dump-tasks-after) that are not operations (io_service.h rule 6): they
// never complete a promise, so they do not keep the service busy, and a
// program whose tasks wait only on them is idle (or deadlocked).
//
// Protocol
// --------
//   1. Everything here lives and runs on the I/O thread: the public calls
//      only post to it (uncounted: the watches are not operations).
//   2. A signal watch re-arms after each delivery and calls its function
//      each time; a delay watch calls its function once.
//   3. close() (shutdown step 2) cancels every watch; their handlers then
//      run with operation_aborted and call nothing, so io_context::run()
//      can return. Watches posted after close() are dropped.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "io/asio.h"

namespace weft {

class BackgroundWatches {
 public:
  explicit BackgroundWatches(boost::asio::io_context& context) : context_(context) {}
  BackgroundWatches(const BackgroundWatches&) = delete;
  BackgroundWatches& operator=(const BackgroundWatches&) = delete;

  // Any thread (rule 1).
  void on_signal(int signal_number, std::function<void()> fn);
  void after(std::chrono::nanoseconds delay, std::function<void()> fn);
  // I/O thread (rule 3).
  void close();

 private:
  void arm(boost::asio::signal_set& signals, std::shared_ptr<std::function<void()>> fn);

  boost::asio::io_context& context_;
  // I/O thread only.
  bool closed_ = false;
  std::vector<std::unique_ptr<boost::asio::signal_set>> signals_;
  std::vector<std::unique_ptr<boost::asio::steady_timer>> timers_;
};

}  // namespace weft
