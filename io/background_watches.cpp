// The background watches; the protocol is in background_watches.h.
#include "io/background_watches.h"

#include <utility>

namespace weft {

namespace asio = boost::asio;

void BackgroundWatches::on_signal(int signal_number, std::function<void()> fn) {
  asio::post(context_, [this, signal_number, fn = std::move(fn)]() mutable noexcept {
    if (closed_) return;
    boost::system::error_code error;
    auto signals = std::make_unique<asio::signal_set>(context_);
    signals->add(signal_number, error);
    if (error) return;  // not a signal this process may catch: nothing to watch
    arm(*signals, std::make_shared<std::function<void()>>(std::move(fn)));
    signals_.push_back(std::move(signals));
  });
}

void BackgroundWatches::arm(asio::signal_set& signals, std::shared_ptr<std::function<void()>> fn) {
  signals.async_wait([this, &signals, fn](const boost::system::error_code& error, int) noexcept {
    if (error || closed_) return;  // rule 3
    (*fn)();
    arm(signals, fn);  // rule 2
  });
}

void BackgroundWatches::after(std::chrono::nanoseconds delay, std::function<void()> fn) {
  asio::post(context_, [this, delay, fn = std::move(fn)]() mutable noexcept {
    if (closed_) return;
    auto timer = std::make_unique<asio::steady_timer>(context_, delay);
    timer->async_wait([this, fn = std::move(fn)](const boost::system::error_code& error) noexcept {
      if (error || closed_) return;  // rule 3
      fn();
    });
    timers_.push_back(std::move(timer));
  });
}

void BackgroundWatches::close() {
  closed_ = true;
  boost::system::error_code ignored;
  for (auto& signals : signals_) signals->cancel(ignored);
  for (auto& timer : timers_) timer->cancel();
}

}  // namespace weft
