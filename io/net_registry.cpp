// NetRegistry, OperationCount's helpers and NetOperation: the protocol
// (rules 1-7) is at the top of io/net_registry.h.
#include "io/net_registry.h"

#include <cerrno>
#include <future>
#include <memory>
#include <mutex>

namespace weft {

namespace asio = boost::asio;
using boost::system::error_code;

const char* to_string(NetErrorKind kind) noexcept {
  switch (kind) {
    case NetErrorKind::Refused:
      return "refused";
    case NetErrorKind::UnknownHost:
      return "unknown host";
    case NetErrorKind::TimedOut:
      return "timed out";
    case NetErrorKind::Cancelled:
      return "cancelled";
    case NetErrorKind::Closed:
      return "closed";
    case NetErrorKind::ShutDown:
      return "shut down";
    case NetErrorKind::Protocol:
      return "protocol error";
    case NetErrorKind::InvalidArgument:
      return "invalid argument";
    case NetErrorKind::Other:
      break;
  }
  return "error";
}

void NetOperation::cancel() const {
  if (op_ == nullptr) return;
  // Fails only after shutdown, when the sweep has completed the op already.
  (void)op_->registry->submit(
      [op = op_](OperationCount) { op->cancel_on_io_thread(NetErrorKind::Cancelled); });
}

bool NetRegistry::submit(std::function<void(OperationCount)> fn) {
  std::shared_lock lock(mutex_);
  if (service_ == nullptr) return false;
  OperationCount count = OperationCount::try_begin(*service_);
  if (!count) return false;
  asio::post(service_->context(),
             [fn = std::move(fn), count = std::move(count)]() mutable noexcept {
               {
                 // Moved out so that fn's captures are destroyed before the
                 // count ends, whatever fn did with the token (rule 2).
                 auto run = std::move(fn);
                 run(std::move(count));
               }
               count.reset();
             });
  return true;
}

bool NetRegistry::run_and_wait(std::function<void()> fn) {
  {
    std::shared_lock lock(mutex_);
    if (service_ == nullptr) return false;
    if (service_->on_io_thread()) {
      lock.unlock();
      fn();
      return true;
    }
  }
  // The promise's shared state outlives whichever side finishes last.
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> ran = done->get_future();
  if (!submit([fn = std::move(fn), done](OperationCount) {
        fn();
        done->set_value();
      })) {
    return false;
  }
  ran.wait();
  return true;
}

bool NetRegistry::add(std::shared_ptr<NetResource> resource) {
  if (closing_) return false;
  NetResource* key = resource.get();
  open_.emplace(key, std::move(resource));
  return true;
}

void NetRegistry::remove(NetResource* resource) noexcept {
  open_.erase(resource);
}

void NetRegistry::close_all() noexcept {
  closing_ = true;
  // Moved out first: closing a resource removes it, and the references
  // must outlive its close_for_shutdown().
  auto open = std::move(open_);
  open_.clear();
  for (auto& [key, resource] : open) resource->close_for_shutdown();
}

void NetRegistry::detach() noexcept {
  {
    std::unique_lock lock(mutex_);
    service_ = nullptr;
  }
  // The I/O thread has stopped, so nothing else can reach open_. The sweep
  // left it empty (rule 5); this only guards the invariant of rule 1 should
  // a resource ever slip past it. The io_context is still alive here.
  closing_ = true;
  auto open = std::move(open_);
  open_.clear();
  for (auto& [key, resource] : open) resource->close_for_shutdown();
}

TimerHandle start_op_timeout(IoService& io, std::chrono::nanoseconds timeout,
                             const std::shared_ptr<detail::NetOp>& op) {
  return io.start_timer(timeout, [weak = std::weak_ptr<detail::NetOp>(op)](bool fired) {
    if (!fired) return;
    if (auto op = weak.lock()) op->cancel_on_io_thread(NetErrorKind::TimedOut);
  });
}

NetError net_error(NetErrorKind kind, std::string message, std::string address) {
  return NetError{kind, std::move(message), std::move(address)};
}

NetError net_error_from(const error_code& error, std::string address) {
  NetErrorKind kind = NetErrorKind::Other;
  if (error == asio::error::connection_refused) {
    kind = NetErrorKind::Refused;
  } else if (error == asio::error::host_not_found ||
             error == asio::error::host_not_found_try_again || error == asio::error::no_data ||
             error == asio::error::no_recovery ||
             error.category() == asio::error::get_addrinfo_category()) {
    kind = NetErrorKind::UnknownHost;
  } else if (error == asio::error::timed_out) {
    kind = NetErrorKind::TimedOut;
  } else if (error == asio::error::eof || error == asio::error::connection_reset ||
             error == asio::error::broken_pipe || error == asio::error::connection_aborted ||
             error == asio::error::not_connected || error == asio::error::bad_descriptor) {
    kind = NetErrorKind::Closed;
  }
  return NetError{kind, error.message(), std::move(address)};
}

std::string format_host_port(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string format_endpoint(const asio::ip::tcp::endpoint& endpoint) {
  return format_host_port(endpoint.address().to_string(), endpoint.port());
}

NetResult<asio::ip::tcp::acceptor> open_acceptor(IoService& io, const std::string& host,
                                                 std::uint16_t port) {
  const std::string address = format_host_port(host, port);
  error_code error;
  const asio::ip::address ip = asio::ip::make_address(host, error);
  if (error) {
    return net_error(NetErrorKind::InvalidArgument,
                     "a listener binds to a numeric address, not '" + host + "'", address);
  }
  const asio::ip::tcp::endpoint endpoint(ip, port);
  asio::ip::tcp::acceptor acceptor(io.context());
  // reuse_address: a restarted server can bind while connections of its
  // previous run linger in TIME_WAIT.
  if (acceptor.open(endpoint.protocol(), error) ||
      acceptor.set_option(asio::socket_base::reuse_address(true), error) ||
      acceptor.bind(endpoint, error) ||
      acceptor.listen(asio::socket_base::max_listen_connections, error)) {
    return net_error_from(error, address);
  }
  return acceptor;
}

std::chrono::milliseconds accept_retry_delay(const error_code& error) noexcept {
  if (error == asio::error::no_descriptors || error == asio::error::no_memory ||
      error == asio::error::no_buffer_space || error.value() == ENFILE) {
    return std::chrono::milliseconds(100);
  }
  return std::chrono::milliseconds(0);
}

}  // namespace weft
