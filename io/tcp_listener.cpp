// TCP listeners: the protocol (rules 1-3) is at the top of
// io/tcp_listener.h.
#include "io/tcp_listener.h"

#include <optional>
#include <utility>

#include "io/net_registry.h"
#include "io/tcp_stream.h"

namespace weft {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

class TcpListenerState final : public NetResource {
 public:
  TcpListenerState(std::shared_ptr<NetRegistry> registry, tcp::acceptor acceptor,
                   std::uint16_t port, std::string address, AcceptCallback on_accept)
      : registry(std::move(registry)),
        port(port),
        address(std::move(address)),
        acceptor_(std::move(acceptor)),
        on_accept_(std::move(on_accept)) {}

  // I/O thread: the hand-off (net_registry.h, rule 3).
  void start(OperationCount count) noexcept {
    if (!registry->add(shared_from_this())) {
      stop_on_io_thread();
      return;
    }
    accept(std::move(count));
  }

  void stop_on_io_thread() noexcept {
    if (stopped_) return;
    stopped_ = true;
    auto self = shared_from_this();
    error_code ignored;
    acceptor_->close(ignored);
    acceptor_.reset();
    registry->remove(this);
    on_accept_ = nullptr;  // rule 3; not running: stop() always posts
  }

  void close_for_shutdown() noexcept override { stop_on_io_thread(); }

  const std::shared_ptr<NetRegistry> registry;
  const std::uint16_t port;
  const std::string address;

 private:
  void accept(OperationCount count) noexcept {
    acceptor_->async_accept(
        [self = std::static_pointer_cast<TcpListenerState>(shared_from_this()),
         count = std::move(count)](const error_code& error, tcp::socket socket) mutable {
          self->on_accepted(error, std::move(socket), std::move(count));
        });
  }

  void on_accepted(const error_code& error, tcp::socket socket, OperationCount count) noexcept {
    if (stopped_ || error == asio::error::operation_aborted) return;
    if (error) {
      const std::chrono::milliseconds delay = accept_retry_delay(error);  // rule 2
      if (delay.count() == 0) {
        accept(std::move(count));
        return;
      }
      (void)registry->io().start_timer(
          delay,
          [self = std::static_pointer_cast<TcpListenerState>(shared_from_this())](bool fired) {
            if (!fired || self->stopped_) return;
            OperationCount count = OperationCount::try_begin(self->registry->io());
            if (count) self->accept(std::move(count));
          });
      return;
    }
    TcpConnection connection = adopt_accepted_socket(registry, std::move(socket));
    if (connection.valid()) on_accept_(std::move(connection));
    // The same count covers the next accept (net_registry.h, rule 2).
    if (!stopped_) accept(std::move(count));
  }

  // I/O thread after the hand-off.
  std::optional<tcp::acceptor> acceptor_;
  AcceptCallback on_accept_;
  bool stopped_ = false;
};

TcpListener::TcpListener(std::shared_ptr<TcpListenerState> state) noexcept
    : state_(std::move(state)) {}

std::uint16_t TcpListener::port() const noexcept {
  return state_ ? state_->port : 0;
}

const std::string& TcpListener::address() const noexcept {
  static const std::string kNone;
  return state_ ? state_->address : kNone;
}

void TcpListener::stop() const {
  if (!state_) return;
  (void)state_->registry->run_and_wait([state = state_] { state->stop_on_io_thread(); });
}

NetResult<TcpListener> tcp_listen(IoService& io, std::uint16_t port, AcceptCallback on_accept,
                                  const std::string& host) {
  const std::shared_ptr<NetRegistry>& registry = io.net_registry();
  NetResult<tcp::acceptor> opened = open_acceptor(io, host, port);
  if (!opened.ok()) return opened.error();
  tcp::acceptor acceptor = std::move(opened).value();
  error_code error;
  const tcp::endpoint bound = acceptor.local_endpoint(error);
  if (error) return net_error_from(error, format_host_port(host, port));
  auto state = std::make_shared<TcpListenerState>(registry, std::move(acceptor), bound.port(),
                                                  format_endpoint(bound), std::move(on_accept));
  const bool accepted =
      registry->submit([state](OperationCount count) { state->start(std::move(count)); });
  if (!accepted) {
    return net_error(NetErrorKind::ShutDown, "the I/O service has shut down", state->address);
  }
  return TcpListener(std::move(state));
}

}  // namespace weft
