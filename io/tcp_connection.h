// TCP connections: tcp_connect (with name resolution) and the
// TcpConnection handle (read_some, write, close). Free of Asio; the state
// behind the handle and its protocol are in io/tcp_stream.h, the rules all
// network objects share in io/net_registry.h.
//
// Every callback runs on the I/O thread, once, and should only complete a
// promise (net_registry.h, rule 6). After the IoService has begun shutting
// down, a request calls back at once, on the calling thread, with
// NetErrorKind::ShutDown.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "io/net.h"

namespace weft {

class IoService;

namespace detail {
class TcpConnectionOwner;
}  // namespace detail

// A handle to one open (or closed) TCP connection. Copyable; copies refer to
// the same connection. When the last copy is dropped, and no read or write
// it started is still pending, the connection is closed; so one that nobody
// can use any more does not stay open. Any member function, any thread;
// handles may outlive the IoService (calls then fail with ShutDown).
class TcpConnection {
 public:
  // nullopt: the peer closed its side (end of stream). Later reads give
  // nullopt again.
  using ReadCallback = std::function<void(NetResult<std::optional<std::string>> bytes)>;
  // nullopt: every byte was handed to the kernel.
  using WriteCallback = std::function<void(std::optional<NetError> error)>;

  static constexpr std::size_t kDefaultReadBytes = 64 * 1024;

  // Refers to no connection; reads and writes on it fail with Closed.
  TcpConnection() noexcept = default;
  explicit TcpConnection(std::shared_ptr<detail::TcpConnectionOwner> owner) noexcept;

  [[nodiscard]] bool valid() const noexcept { return owner_ != nullptr; }

  // Reads the bytes available (at least one, at most max_bytes), waiting
  // for some if there are none. Reads complete in the order they were
  // made. A timeout cancels the read (the callback reports TimedOut); no
  // bytes are lost by that, and the connection stays usable. close()
  // completes a pending read with Closed.
  NetOperation read_some(ReadCallback done,
                         std::optional<std::chrono::nanoseconds> timeout = std::nullopt,
                         std::size_t max_bytes = kDefaultReadBytes) const;

  // Writes all of `data`. Writes go out in the order they were made, each
  // whole. A timeout or cancel() that stops a write part-way leaves the
  // peer with a prefix of `data`: the stream is then unusable for a
  // protocol with message boundaries.
  NetOperation write(std::string data, WriteCallback done,
                     std::optional<std::chrono::nanoseconds> timeout = std::nullopt) const;

  // Closes the connection. Pending reads and writes complete with Closed,
  // each exactly once; later ones fail with Closed. Idempotent.
  void close() const;

  // "127.0.0.1:8080": the peer's address and this end's.
  [[nodiscard]] const std::string& peer_address() const;
  [[nodiscard]] const std::string& local_address() const;

 private:
  std::shared_ptr<detail::TcpConnectionOwner> owner_;
};

using ConnectCallback = std::function<void(NetResult<TcpConnection> connection)>;

// Resolves `host` (a name or a numeric address; names go through the
// system resolver, off the I/O thread) and connects to the first address
// that accepts. Errors: Refused, UnknownHost, TimedOut (the timeout, which
// covers resolution and connection), Cancelled, ShutDown, Other.
NetOperation tcp_connect(IoService& io, std::string host, std::uint16_t port, ConnectCallback done,
                         std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

}  // namespace weft
