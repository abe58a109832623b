// TCP listeners: tcp_listen and the TcpListener handle. Free of Asio; the
// rules all network objects follow are at the top of io/net_registry.h.
//
// Implementation overview
// =======================
// The acceptor is opened, bound and put in the listening state on the
// calling thread, so that tcp_listen returns the chosen port or the bind
// error (net_registry.h, rule 3); from then on it belongs to the I/O
// thread, which keeps one accept in flight. That accept holds one counted
// operation, handed from each accept to the next (net_registry.h, rule 2),
// so an open listener counts as one pending operation.
//
// Listener state (I/O thread only after the hand-off):
//
//   accepting ──stop() / shutdown sweep──> stopped (acceptor closed, on_accept released)
//
// Rules
// -----
//   1. Each accepted socket becomes a connection of its own (io/tcp_stream.h)
//      and is handed to on_accept, on the I/O thread. Stopping the listener
//      does not close the connections it accepted: their handles own them.
//   2. A failed accept (the peer gave up, or the process is out of file
//      descriptors) does not stop the listener: it accepts again, after a
//      pause when out of descriptors or memory (accept_retry_delay).
//   3. Dropping the TcpListener handle does not stop the listener: it
//      serves until stop() or IoService shutdown. stop() closes the
//      acceptor and releases on_accept on the I/O thread, and returns when
//      it has (the port is free again), so a callback that refers to its
//      own listener forms no lasting cycle.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "io/net.h"
#include "io/tcp_connection.h"

namespace weft {

class IoService;
class TcpListenerState;

using AcceptCallback = std::function<void(TcpConnection connection)>;

class TcpListener {
 public:
  TcpListener() noexcept = default;
  explicit TcpListener(std::shared_ptr<TcpListenerState> state) noexcept;

  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  // The port it listens on (the one chosen when 0 was asked for).
  [[nodiscard]] std::uint16_t port() const noexcept;
  // "127.0.0.1:40123".
  [[nodiscard]] const std::string& address() const noexcept;
  // Stops accepting and closes the listening socket. Any thread;
  // idempotent; does nothing after shutdown (the sweep stopped it).
  void stop() const;

 private:
  std::shared_ptr<TcpListenerState> state_;
};

// Listens on host:port (a numeric address; "0.0.0.0" is every IPv4
// interface; port 0 picks a free port) and calls on_accept with each new
// connection, on the I/O thread. Errors: address in use, permission, a host
// that is not numeric (InvalidArgument), ShutDown.
[[nodiscard]] NetResult<TcpListener> tcp_listen(IoService& io, std::uint16_t port,
                                                AcceptCallback on_accept,
                                                const std::string& host = "0.0.0.0");

}  // namespace weft
