// TcpStream: the I/O-thread state behind a TcpConnection handle. Internal
// to io/ (includes Asio). The rules every network object follows (handles,
// counting, shutdown) are in io/net_registry.h; this file adds the stream's
// own.
//
// Implementation overview
// =======================
// Three kinds of object, all shared:
//
//   TcpConnection ──> TcpConnectionOwner ──> TcpStream <── NetRegistry (while open)
//                            ^                   ^
//   NetOperation ──> TcpReadOp / TcpWriteOp ─────┘ (the owner until completion)
//
// The owner exists so that the connection closes when nobody can use it any
// more: its destructor closes the stream. Handles and pending operations hold
// it; completed operations let go of it.
//
// The stream (I/O thread only from construction on):
//
//   open ──close() / owner dropped / shutdown sweep──> closed (socket_ reset)
//
// and two queues, reads_ and writes_: an operation waits in its queue; the
// front one is in flight when reading_ / writing_ is set. Asio allows one
// read and one write in flight on a socket at a time, so the queues keep
// the order in which operations were made.
//
// Rules
// -----
//   1. Completion. An operation completes exactly once, in complete_read() or
//      complete_write(), which set its `completed` flag. An operation in
//      flight completes only in its Asio handler; a queued one completes
//      where it leaves the queue (cancelled, timed out, or the stream
//      closed).
//   2. Cancelling one operation. Asio 1.74 has no per-operation
//      cancellation: socket::cancel() aborts the read and the write in
//      flight alike. So cancel_read() / cancel_write() mark the operation
//      (`cancelled`, the reason) and cancel the socket; a handler that gets
//      operation_aborted for an operation that is not marked (its neighbour
//      was the target) starts it again, from where it got to. Nothing is
//      lost: an aborted read has read nothing, and an aborted write has
//      counted the bytes it sent.
//   3. Results win over cancels (net_registry.h, rule 7): a handler that
//      succeeded delivers its result even if the operation was marked
//      meanwhile.
//   4. Closing. close() records the reason (Closed or ShutDown), closes and
//      destroys the socket and unregisters the stream; queued operations
//      complete at once with that reason, those in flight when their handler
//      sees operation_aborted. Operations made later complete at once. A
//      closed stream stays closed.
//   5. Callbacks are moved out of the operation before they run and are
//      destroyed before the operation's count ends (net_registry.h, rule 2).
//   6. End of stream is remembered (at_end_): later reads complete at once
//      with nullopt without going to the socket. Besides being what TCP
//      means (no byte follows a FIN), this avoids an Asio 1.74 epoll quirk:
//      a receive that returns 0 marks the descriptor "exhausted", and the
//      next receive then waits for an edge-triggered event that never
//      comes, since the FIN's event was already consumed.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "io/asio.h"
#include "io/net_registry.h"
#include "io/tcp_connection.h"

namespace weft {

class TcpStream;

namespace detail {

// Closes the stream when the last handle and the last pending operation
// have let go of it. Any thread.
class TcpConnectionOwner {
 public:
  explicit TcpConnectionOwner(std::shared_ptr<TcpStream> stream) noexcept
      : stream(std::move(stream)) {}
  ~TcpConnectionOwner();
  TcpConnectionOwner(const TcpConnectionOwner&) = delete;
  TcpConnectionOwner& operator=(const TcpConnectionOwner&) = delete;

  const std::shared_ptr<TcpStream> stream;
};

}  // namespace detail

class TcpReadOp;
class TcpWriteOp;

class TcpStream final : public NetResource {
 public:
  TcpStream(std::shared_ptr<NetRegistry> registry, boost::asio::ip::tcp::socket socket,
            std::string peer_address, std::string local_address);

  // Any thread: closes through the registry (a no-op after shutdown, when
  // the sweep has closed the stream already).
  void request_close();

  // I/O thread from here down.
  void enqueue_read(std::shared_ptr<TcpReadOp> op) noexcept;
  void enqueue_write(std::shared_ptr<TcpWriteOp> op) noexcept;
  void cancel_read(TcpReadOp* op) noexcept;
  void cancel_write(TcpWriteOp* op) noexcept;
  void close(NetErrorKind reason) noexcept;  // rule 4; Closed or ShutDown
  void close_for_shutdown() noexcept override { close(NetErrorKind::ShutDown); }

  // Immutable.
  const std::shared_ptr<NetRegistry> registry;
  const std::string peer_address;
  const std::string local_address;

 private:
  void pump_reads() noexcept;
  void pump_writes() noexcept;
  void on_read(const std::shared_ptr<TcpReadOp>& op, const boost::system::error_code& error,
               std::size_t bytes) noexcept;
  void on_written(const std::shared_ptr<TcpWriteOp>& op, const boost::system::error_code& error,
                  std::size_t bytes) noexcept;
  [[nodiscard]] NetError closed_error() const;

  std::optional<boost::asio::ip::tcp::socket> socket_;
  std::deque<std::shared_ptr<TcpReadOp>> reads_;
  std::deque<std::shared_ptr<TcpWriteOp>> writes_;
  bool reading_ = false;
  bool writing_ = false;
  bool at_end_ = false;  // rule 6
  std::optional<NetErrorKind> closed_;
};

// Registers a freshly accepted socket as a stream and gives its handle; an
// empty handle if the registry is closing (the socket is then closed). I/O
// thread.
[[nodiscard]] TcpConnection adopt_accepted_socket(const std::shared_ptr<NetRegistry>& registry,
                                                  boost::asio::ip::tcp::socket socket);

}  // namespace weft
