// TCP connections: TcpStream (its rules 1-5 are at the top of
// io/tcp_stream.h), the read and write operations, and tcp_connect.
#include "io/tcp_connection.h"

#include <utility>

#include "io/tcp_stream.h"

namespace weft {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

NetError reason_error(NetErrorKind reason, const std::string& address) {
  switch (reason) {
    case NetErrorKind::TimedOut:
      return net_error(reason, "operation timed out", address);
    case NetErrorKind::ShutDown:
      return net_error(reason, "the I/O service has shut down", address);
    case NetErrorKind::Closed:
      return net_error(reason, "connection closed", address);
    default:
      return net_error(NetErrorKind::Cancelled, "operation cancelled", address);
  }
}

}  // namespace

// One read_some: queued on the stream, then in flight (tcp_stream.h).
class TcpReadOp final : public detail::NetOp {
 public:
  TcpReadOp(std::shared_ptr<NetRegistry> registry,
            std::shared_ptr<detail::TcpConnectionOwner> owner, TcpConnection::ReadCallback done,
            std::size_t max_bytes)
      : NetOp(std::move(registry)),
        owner(std::move(owner)),
        done(std::move(done)),
        max_bytes(max_bytes == 0 ? 1 : max_bytes) {}

  void cancel_on_io_thread(NetErrorKind reason) noexcept override {
    if (completed) return;
    if (!cancelled) cancelled = reason;
    owner->stream->cancel_read(this);
  }

  // Rule 1 of tcp_stream.h; rule 5 for the order of the last steps.
  void complete(NetResult<std::optional<std::string>> result) noexcept {
    completed = true;
    timeout.cancel();
    std::string().swap(buffer);
    {
      auto callback = std::move(done);
      done = nullptr;
      callback(std::move(result));
    }
    owner.reset();  // may close the stream (posted), see TcpConnectionOwner
    count.reset();
  }

  // Released at completion.
  std::shared_ptr<detail::TcpConnectionOwner> owner;
  TcpConnection::ReadCallback done;
  OperationCount count;
  TimerHandle timeout;
  // I/O thread.
  const std::size_t max_bytes;
  std::string buffer;
  std::optional<NetErrorKind> cancelled;
  bool completed = false;
};

class TcpWriteOp final : public detail::NetOp {
 public:
  TcpWriteOp(std::shared_ptr<NetRegistry> registry,
             std::shared_ptr<detail::TcpConnectionOwner> owner, std::string data,
             TcpConnection::WriteCallback done)
      : NetOp(std::move(registry)),
        owner(std::move(owner)),
        done(std::move(done)),
        data(std::move(data)) {}

  void cancel_on_io_thread(NetErrorKind reason) noexcept override {
    if (completed) return;
    if (!cancelled) cancelled = reason;
    owner->stream->cancel_write(this);
  }

  void complete(std::optional<NetError> error) noexcept {
    completed = true;
    timeout.cancel();
    std::string().swap(data);
    {
      auto callback = std::move(done);
      done = nullptr;
      callback(std::move(error));
    }
    owner.reset();
    count.reset();
  }

  std::shared_ptr<detail::TcpConnectionOwner> owner;
  TcpConnection::WriteCallback done;
  OperationCount count;
  TimerHandle timeout;
  // I/O thread.
  std::string data;
  std::size_t written = 0;
  std::optional<NetErrorKind> cancelled;
  bool completed = false;
};

// ---------------------------------------------------------------------------
// TcpStream

detail::TcpConnectionOwner::~TcpConnectionOwner() {
  stream->request_close();
}

TcpStream::TcpStream(std::shared_ptr<NetRegistry> registry, tcp::socket socket,
                     std::string peer_address, std::string local_address)
    : registry(std::move(registry)),
      peer_address(std::move(peer_address)),
      local_address(std::move(local_address)),
      socket_(std::move(socket)) {}

void TcpStream::request_close() {
  // Fails only once shutdown began; the sweep closes the stream then.
  (void)registry->submit([self = std::static_pointer_cast<TcpStream>(shared_from_this())](
                             OperationCount) { self->close(NetErrorKind::Closed); });
}

NetError TcpStream::closed_error() const {
  return reason_error(closed_.value_or(NetErrorKind::Closed), peer_address);
}

void TcpStream::enqueue_read(std::shared_ptr<TcpReadOp> op) noexcept {
  if (closed_) {
    op->complete(closed_error());  // rule 4
    return;
  }
  if (at_end_) {
    op->complete(std::optional<std::string>());  // rule 6
    return;
  }
  reads_.push_back(std::move(op));
  pump_reads();
}

void TcpStream::enqueue_write(std::shared_ptr<TcpWriteOp> op) noexcept {
  if (closed_) {
    op->complete(closed_error());
    return;
  }
  writes_.push_back(std::move(op));
  pump_writes();
}

void TcpStream::pump_reads() noexcept {
  if (reading_ || reads_.empty() || closed_) return;
  std::shared_ptr<TcpReadOp> op = reads_.front();
  op->buffer.resize(op->max_bytes);
  reading_ = true;
  socket_->async_read_some(
      asio::buffer(op->buffer),
      [self = std::static_pointer_cast<TcpStream>(shared_from_this()), op](
          const error_code& error, std::size_t bytes) { self->on_read(op, error, bytes); });
}

void TcpStream::on_read(const std::shared_ptr<TcpReadOp>& op, const error_code& error,
                        std::size_t bytes) noexcept {
  reading_ = false;
  if (error == asio::error::operation_aborted && !closed_ && !op->cancelled) {
    pump_reads();  // rule 2: the write was the target; read again
    return;
  }
  reads_.pop_front();  // op: only the front is ever in flight
  if (!error) {
    op->buffer.resize(bytes);
    op->complete(std::optional<std::string>(std::move(op->buffer)));  // rule 3
  } else if (error == asio::error::eof) {
    at_end_ = true;  // rule 6
    op->complete(std::optional<std::string>());
    // Those queued behind it end the same way, in order.
    while (!reads_.empty()) {
      std::shared_ptr<TcpReadOp> next = std::move(reads_.front());
      reads_.pop_front();
      next->complete(std::optional<std::string>());
    }
  } else if (error == asio::error::operation_aborted) {
    op->complete(closed_ ? closed_error() : reason_error(*op->cancelled, peer_address));
  } else {
    op->complete(net_error_from(error, peer_address));
  }
  pump_reads();
}

void TcpStream::pump_writes() noexcept {
  if (closed_) return;
  // An empty write, or one that a collateral abort interrupted after its
  // last byte, completes in order without going to the socket.
  while (!writing_ && !writes_.empty() &&
         writes_.front()->written == writes_.front()->data.size()) {
    std::shared_ptr<TcpWriteOp> op = std::move(writes_.front());
    writes_.pop_front();
    op->complete(std::nullopt);
  }
  if (writing_ || writes_.empty() || closed_) return;
  std::shared_ptr<TcpWriteOp> op = writes_.front();
  writing_ = true;
  socket_->async_write_some(
      asio::buffer(op->data.data() + op->written, op->data.size() - op->written),
      [self = std::static_pointer_cast<TcpStream>(shared_from_this()), op](
          const error_code& error, std::size_t bytes) { self->on_written(op, error, bytes); });
}

void TcpStream::on_written(const std::shared_ptr<TcpWriteOp>& op, const error_code& error,
                           std::size_t bytes) noexcept {
  writing_ = false;
  op->written += bytes;
  if (closed_) {
    // Closed while this write was in flight (rule 4): it ends here, done if
    // its last byte went out first, else with the close.
    writes_.pop_front();
    const bool sent = !error && op->written == op->data.size();
    op->complete(sent ? std::nullopt : std::optional<NetError>(closed_error()));
    return;
  }
  if (!error || (error == asio::error::operation_aborted && !op->cancelled)) {
    // More to write, done (pump_writes completes it), or rule 2.
    pump_writes();
    return;
  }
  writes_.pop_front();
  if (error == asio::error::operation_aborted) {
    op->complete(reason_error(*op->cancelled, peer_address));
  } else {
    op->complete(net_error_from(error, peer_address));
  }
  pump_writes();
}

void TcpStream::cancel_read(TcpReadOp* op) noexcept {
  if (closed_) return;  // the op is in flight and completes with the close
  if (reading_ && reads_.front().get() == op) {
    error_code ignored;
    socket_->cancel(ignored);  // rule 2
    return;
  }
  for (auto it = reads_.begin(); it != reads_.end(); ++it) {
    if (it->get() == op) {
      std::shared_ptr<TcpReadOp> queued = std::move(*it);
      reads_.erase(it);
      queued->complete(reason_error(*queued->cancelled, peer_address));
      return;
    }
  }
}

void TcpStream::cancel_write(TcpWriteOp* op) noexcept {
  if (closed_) return;
  if (writing_ && writes_.front().get() == op) {
    error_code ignored;
    socket_->cancel(ignored);
    return;
  }
  for (auto it = writes_.begin(); it != writes_.end(); ++it) {
    if (it->get() == op) {
      std::shared_ptr<TcpWriteOp> queued = std::move(*it);
      writes_.erase(it);
      queued->complete(reason_error(*queued->cancelled, peer_address));
      return;
    }
  }
}

void TcpStream::close(NetErrorKind reason) noexcept {
  if (closed_) return;
  closed_ = reason;
  // The registry's reference may be the last but for this one.
  auto self = shared_from_this();
  error_code ignored;
  socket_->close(ignored);
  socket_.reset();
  registry->remove(this);
  // Rule 4: the ones in flight complete in their handlers.
  std::deque<std::shared_ptr<TcpReadOp>> reads = std::move(reads_);
  std::deque<std::shared_ptr<TcpWriteOp>> writes = std::move(writes_);
  reads_.clear();
  writes_.clear();
  if (reading_) {
    reads_.push_back(std::move(reads.front()));
    reads.pop_front();
  }
  if (writing_) {
    writes_.push_back(std::move(writes.front()));
    writes.pop_front();
  }
  for (auto& op : reads) op->complete(closed_error());
  for (auto& op : writes) op->complete(closed_error());
}

TcpConnection adopt_accepted_socket(const std::shared_ptr<NetRegistry>& registry,
                                    tcp::socket socket) {
  error_code error;
  const tcp::endpoint peer = socket.remote_endpoint(error);
  if (error) return TcpConnection();  // the peer has gone already
  const tcp::endpoint local = socket.local_endpoint(error);
  if (error) return TcpConnection();
  auto stream = std::make_shared<TcpStream>(registry, std::move(socket), format_endpoint(peer),
                                            format_endpoint(local));
  if (!registry->add(stream)) {
    stream->close(NetErrorKind::ShutDown);
    return TcpConnection();
  }
  return TcpConnection(std::make_shared<detail::TcpConnectionOwner>(std::move(stream)));
}

// ---------------------------------------------------------------------------
// TcpConnection

TcpConnection::TcpConnection(std::shared_ptr<detail::TcpConnectionOwner> owner) noexcept
    : owner_(std::move(owner)) {}

namespace {

const std::string kNoAddress;

}  // namespace

const std::string& TcpConnection::peer_address() const {
  return owner_ ? owner_->stream->peer_address : kNoAddress;
}

const std::string& TcpConnection::local_address() const {
  return owner_ ? owner_->stream->local_address : kNoAddress;
}

void TcpConnection::close() const {
  if (owner_) owner_->stream->request_close();
}

NetOperation TcpConnection::read_some(ReadCallback done,
                                      std::optional<std::chrono::nanoseconds> timeout,
                                      std::size_t max_bytes) const {
  if (!owner_) {
    done(net_error(NetErrorKind::Closed, "not a connection", ""));
    return NetOperation();
  }
  const std::shared_ptr<NetRegistry>& registry = owner_->stream->registry;
  auto op = std::make_shared<TcpReadOp>(registry, owner_, std::move(done), max_bytes);
  const bool accepted = registry->submit([op, timeout](OperationCount count) {
    op->count = std::move(count);
    if (timeout) op->timeout = start_op_timeout(op->registry->io(), *timeout, op);
    op->owner->stream->enqueue_read(op);
  });
  if (!accepted) {
    op->complete(reason_error(NetErrorKind::ShutDown, owner_->stream->peer_address));
    return NetOperation();
  }
  return NetOperation(std::move(op));
}

NetOperation TcpConnection::write(std::string data, WriteCallback done,
                                  std::optional<std::chrono::nanoseconds> timeout) const {
  if (!owner_) {
    done(net_error(NetErrorKind::Closed, "not a connection", ""));
    return NetOperation();
  }
  const std::shared_ptr<NetRegistry>& registry = owner_->stream->registry;
  auto op = std::make_shared<TcpWriteOp>(registry, owner_, std::move(data), std::move(done));
  const bool accepted = registry->submit([op, timeout](OperationCount count) {
    op->count = std::move(count);
    if (timeout) op->timeout = start_op_timeout(op->registry->io(), *timeout, op);
    op->owner->stream->enqueue_write(op);
  });
  if (!accepted) {
    op->complete(reason_error(NetErrorKind::ShutDown, owner_->stream->peer_address));
    return NetOperation();
  }
  return NetOperation(std::move(op));
}

// ---------------------------------------------------------------------------
// tcp_connect

// Resolves, then connects; registered while it holds a resolver or a socket.
class TcpConnectOp final : public detail::NetOp, public NetResource {
 public:
  TcpConnectOp(std::shared_ptr<NetRegistry> registry, std::string host, std::uint16_t port,
               ConnectCallback done)
      : NetOp(std::move(registry)),
        host(std::move(host)),
        port(port),
        address(format_host_port(this->host, port)),
        done(std::move(done)) {}

  // I/O thread.
  void start(OperationCount counted, std::optional<std::chrono::nanoseconds> timeout) noexcept {
    count = std::move(counted);
    auto self = std::static_pointer_cast<TcpConnectOp>(NetResource::shared_from_this());
    if (!NetOp::registry->add(self)) {
      complete(reason_error(NetErrorKind::ShutDown, address));
      return;
    }
    if (timeout) this->timeout = start_op_timeout(NetOp::registry->io(), *timeout, self);
    socket.emplace(NetOp::registry->context());
    error_code error;
    const asio::ip::address numeric = asio::ip::make_address(host, error);
    if (!error) {
      // A numeric address needs no resolver (and no resolver thread).
      socket->async_connect(tcp::endpoint(numeric, port),
                            [self](const error_code& error) { self->on_connected(error); });
      return;
    }
    resolver.emplace(NetOp::registry->context());
    resolver->async_resolve(
        host, std::to_string(port),
        [self](const error_code& error, const tcp::resolver::results_type& results) {
          self->on_resolved(error, results);
        });
  }

  void cancel_on_io_thread(NetErrorKind reason) noexcept override {
    if (completed) return;
    if (!cancelled) cancelled = reason;
    error_code ignored;
    if (resolver) resolver->cancel();
    if (socket) socket->close(ignored);
  }

  void close_for_shutdown() noexcept override { cancel_on_io_thread(NetErrorKind::ShutDown); }

  // The calling thread, when submit() refused the op: it never reached the
  // I/O thread, so only the callback is left to run.
  void reject() noexcept {
    completed = true;
    auto callback = std::move(done);
    done = nullptr;
    callback(reason_error(NetErrorKind::ShutDown, address));
  }

 private:
  void on_resolved(const error_code& error, const tcp::resolver::results_type& results) noexcept {
    if (cancelled) {
      // Nothing has happened that a cancel could lose (rule 7).
      complete(reason_error(*cancelled, address));
    } else if (error) {
      complete(net_error_from(error, address));
    } else {
      auto self = std::static_pointer_cast<TcpConnectOp>(NetResource::shared_from_this());
      asio::async_connect(*socket, results, [self](const error_code& error, const tcp::endpoint&) {
        self->on_connected(error);
      });
    }
  }

  void on_connected(const error_code& error) noexcept {
    if (error == asio::error::operation_aborted && cancelled) {
      complete(reason_error(*cancelled, address));
      return;
    }
    if (error) {
      complete(net_error_from(error, address));
      return;
    }
    // Connected: a cancel that arrives now loses (rule 7).
    TcpConnection connection = adopt_accepted_socket(NetOp::registry, std::move(*socket));
    if (!connection.valid()) {
      complete(reason_error(
          NetOp::registry->closing() ? NetErrorKind::ShutDown : NetErrorKind::Closed, address));
      return;
    }
    complete(std::move(connection));
  }

  void complete(NetResult<TcpConnection> result) noexcept {
    completed = true;
    timeout.cancel();
    auto self = NetResource::shared_from_this();
    NetOp::registry->remove(this);
    error_code ignored;
    if (socket) socket->close(ignored);
    socket.reset();
    resolver.reset();
    {
      auto callback = std::move(done);
      done = nullptr;
      callback(std::move(result));
    }
    count.reset();
  }

  const std::string host;
  const std::uint16_t port;
  const std::string address;
  ConnectCallback done;
  OperationCount count;
  TimerHandle timeout;
  // I/O thread.
  std::optional<tcp::resolver> resolver;
  std::optional<tcp::socket> socket;
  std::optional<NetErrorKind> cancelled;
  bool completed = false;
};

NetOperation tcp_connect(IoService& io, std::string host, std::uint16_t port, ConnectCallback done,
                         std::optional<std::chrono::nanoseconds> timeout) {
  const std::shared_ptr<NetRegistry>& registry = io.net_registry();
  auto op = std::make_shared<TcpConnectOp>(registry, std::move(host), port, std::move(done));
  const bool accepted = registry->submit(
      [op, timeout](OperationCount count) { op->start(std::move(count), timeout); });
  if (!accepted) {
    op->reject();
    return NetOperation();
  }
  return NetOperation(std::move(op));
}

}  // namespace weft
