// What every network call of io/ gives back: a NetError (the operating
// system's message and the address it concerns), a NetResult<T> (a value or
// a NetError), and a NetOperation (a handle that cancels one operation).
// Free of Asio, like io/timer.h, so that the engine can include the TCP and
// HTTP headers cheaply. The protocol the handles take part in is at the top
// of io/net_registry.h.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace weft {

enum class NetErrorKind {
  Refused,          // nothing listens at the address (ECONNREFUSED)
  UnknownHost,      // the name did not resolve
  TimedOut,         // the operation's timeout elapsed, or the kernel's (ETIMEDOUT)
  Cancelled,        // NetOperation::cancel() won the race with the operation
  Closed,           // the connection was closed: by close(), by the peer, or reset
  ShutDown,         // the IoService has shut down, or is shutting down
  Protocol,         // HTTP: a malformed message, or one over a size limit
  InvalidArgument,  // a URL or header the call cannot use
  Other,            // any other system error; `message` says which
};

// "refused", "unknown host", ...: for messages and test output.
[[nodiscard]] const char* to_string(NetErrorKind kind) noexcept;

struct NetError {
  NetErrorKind kind = NetErrorKind::Other;
  // The operating system's message ("Connection refused") or, where no
  // system call failed, one of io/'s own ("request timed out").
  std::string message;
  // What the operation was talking to: "host:port" for TCP, the URL for an
  // HTTP request.
  std::string address;
};

// A value or a NetError. Callbacks receive one by value.
template <typename T>
class [[nodiscard]] NetResult {
 public:
  NetResult(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  NetResult(NetError error) : data_(std::in_place_index<1>, std::move(error)) {}

  [[nodiscard]] bool ok() const noexcept { return data_.index() == 0; }
  // Require ok().
  [[nodiscard]] T& value() & { return std::get<0>(data_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(data_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(data_)); }
  // Requires !ok().
  [[nodiscard]] const NetError& error() const { return std::get<1>(data_); }

 private:
  std::variant<T, NetError> data_;
};

namespace detail {
class NetOp;
}  // namespace detail

// One operation started by tcp_connect, TcpConnection::read_some/write or
// an HTTP request. Copyable; copies refer to the same operation. Dropping
// every copy does not cancel it.
class NetOperation {
 public:
  NetOperation() noexcept = default;
  explicit NetOperation(std::shared_ptr<detail::NetOp> op) noexcept : op_(std::move(op)) {}

  // Asks the I/O thread to cancel the operation: the socket operation
  // itself (a pending read, write, connect or name lookup), not only the
  // wait for it. If the operation has not completed by the time the request
  // reaches the I/O thread, its callback reports NetErrorKind::Cancelled;
  // if it completed first (a read that had its bytes), the callback reports
  // that result and the cancel has no effect. Any thread, any number of
  // times, also after the IoService has gone (then it does nothing).
  void cancel() const;

  [[nodiscard]] bool valid() const noexcept { return op_ != nullptr; }

 private:
  std::shared_ptr<detail::NetOp> op_;
};

}  // namespace weft
