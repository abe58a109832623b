// NetRegistry: what the TCP and HTTP modules (io/tcp_*, io/http_*) share:
// the open network objects of one IoService, the counting of their
// operations, and the hand-off from handles held on any thread to the I/O
// thread. Internal to io/; includes Asio.
//
// Implementation overview
// =======================
// What callers hold (TcpConnection, TcpListener, HttpServer, HttpResponder,
// NetOperation) are handles: shared pointers to state objects that live on
// the I/O thread. A state object that owns an open socket, acceptor or
// resolver is a NetResource, and the registry keeps a strong reference to
// it while it is open ("registered"). Handles reach their state only
// through submit(), which counts an operation and posts a function to the
// I/O thread; even calls made on the I/O thread post, so a resource never
// closes inside one of its own callbacks and no callback is destroyed while
// it runs.
//
// Who touches what
// ----------------
//   service_          written by detach() under the exclusive lock; read by
//                     submit() under the shared lock (rule 4).
//   open_, closing_   the I/O thread only (and detach(), after the join).
//   io_               immutable; used on the I/O thread, which runs only
//                     while the IoService is alive.
//
// Rules
// -----
//   1. Asio objects. Sockets, acceptors and resolvers are used only on the
//      I/O thread (rule 3 has the one exception). A resource closes and
//      destroys its Asio objects on the I/O thread when it closes, and
//      unregisters then. The registry's reference keeps every open resource
//      alive, so a resource's last reference is dropped on the I/O thread or
//      after it closed: its destructor, on whatever thread, never touches an
//      Asio object.
//   2. Counting. Every operation holds one OperationCount (an
//      IoService::try_begin_operation that the token's destruction ends): a
//      request made through a handle from the submit() call until its
//      callback has returned and been destroyed; an internal Asio operation
//      (an accept, a server-side read, write or wait) from its start until
//      its handler has returned. Timeouts are IoService timers, which count
//      themselves. A token is handed on before it is released (the next
//      accept's token is taken before the last one's is dropped), so the
//      count never dips to zero while work remains, and pending_operations()
//      == 0 means that no network callback is pending or running. When
//      try_begin_operation fails (shutdown began), a request fails with
//      ShutDown at once on the calling thread, and internal work closes its
//      resource instead of starting.
//   3. Listening. tcp_listen and http_serve open, bind and listen on the
//      calling thread, so that a bind error and the chosen port are known
//      when they return. The I/O thread first touches the acceptor in the
//      function that submit() posted, and asio::post orders the two. If
//      binding fails, the acceptor is destroyed on the calling thread,
//      which the I/O thread never saw. (Constructing and opening an Asio
//      object off the I/O thread only registers its descriptor with the
//      reactor, under the reactor's mutex.)
//   4. Liveness. Handles may outlive the IoService (a script value freed
//      late). submit() holds the shared lock while it reads service_ and
//      counts the operation; IoService::shutdown() calls detach() after it
//      joined the I/O thread, and detach() clears service_ under the
//      exclusive lock. After that, a handle's calls fail with ShutDown or do
//      nothing, and none touches the destroyed IoService. While a counted
//      operation is outstanding the IoService cannot finish shutting down,
//      so code holding an OperationCount may use the IoService unlocked.
//   5. Shutdown. Shutdown step 2 (io_service.h) posts close_all(): it sets
//      closing_ and closes every registered resource, so each pending
//      socket operation completes with ShutDown, exactly once (Asio reports
//      operation_aborted). A resource that registers afterwards (a connect
//      accepted just before the close, completing after it) is refused and
//      closes at once. So the count reaches zero, the I/O thread stops, and
//      nothing is left open when shutdown() returns. Listeners and servers
//      need no stop() before shutdown; a name lookup in progress is the one
//      thing shutdown waits out (getaddrinfo cannot be interrupted).
//   6. Callbacks run on the I/O thread, in noexcept frames, and must not
//      block; a rejection after shutdown (rule 2) calls back at once on the
//      calling thread instead. They may call any handle function: that only
//      posts (or fails fast).
//   7. Cancellation. A NetOp's cancel() and timeout reach it on the I/O
//      thread, where it completes exactly once (its own flag, I/O thread
//      only). What it reports is decided by the socket operation's result:
//      a cancel that arrives after a read got its bytes loses, and the bytes
//      are delivered.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "io/asio.h"
#include "io/io_service.h"
#include "io/net.h"

namespace weft {

// One counted operation (rule 2): ends it when destroyed. Move-only.
class OperationCount {
 public:
  OperationCount() noexcept = default;
  OperationCount(OperationCount&& other) noexcept
      : service_(std::exchange(other.service_, nullptr)) {}
  OperationCount& operator=(OperationCount&& other) noexcept {
    OperationCount old(std::move(*this));
    service_ = std::exchange(other.service_, nullptr);
    return *this;
  }
  ~OperationCount() {
    if (service_ != nullptr) service_->end_operation();
  }

  // Empty if the service has begun shutting down.
  [[nodiscard]] static OperationCount try_begin(IoService& service) noexcept {
    return service.try_begin_operation() ? OperationCount(&service) : OperationCount();
  }

  [[nodiscard]] explicit operator bool() const noexcept { return service_ != nullptr; }
  void reset() noexcept { OperationCount old(std::move(*this)); }

 private:
  explicit OperationCount(IoService* service) noexcept : service_(service) {}
  IoService* service_ = nullptr;
};

class NetRegistry;

// A state object that owns an open Asio object (rule 1).
class NetResource : public std::enable_shared_from_this<NetResource> {
 public:
  virtual ~NetResource() = default;
  // I/O thread: shutdown step 2 (rule 5). Closes the resource's Asio
  // objects so that its pending operations complete with ShutDown.
  virtual void close_for_shutdown() noexcept = 0;
};

namespace detail {

// The I/O-thread side of one NetOperation (rule 7).
class NetOp {
 public:
  explicit NetOp(std::shared_ptr<NetRegistry> registry) : registry(std::move(registry)) {}
  virtual ~NetOp() = default;
  NetOp(const NetOp&) = delete;
  NetOp& operator=(const NetOp&) = delete;

  // I/O thread. Cancels the socket operation if the op has not completed;
  // the op then completes with `reason` (Cancelled, TimedOut or ShutDown).
  virtual void cancel_on_io_thread(NetErrorKind reason) noexcept = 0;

  const std::shared_ptr<NetRegistry> registry;
};

}  // namespace detail

class NetRegistry {
 public:
  explicit NetRegistry(IoService& io) : io_(io), service_(&io) {}
  NetRegistry(const NetRegistry&) = delete;
  NetRegistry& operator=(const NetRegistry&) = delete;

  // Any thread. Counts one operation and runs fn with its token on the I/O
  // thread. False if the service has shut down or is gone (rule 4); fn is
  // then dropped without running.
  [[nodiscard]] bool submit(std::function<void(OperationCount)> fn);
  // Any thread: runs fn on the I/O thread and returns once it has run (at
  // once when called there). For a stop() whose effect the caller must be
  // able to rely on when it returns: a closed listening socket frees its
  // port, so the program can listen on it again. The I/O thread never
  // waits for another thread, so the wait is short. False, without
  // running fn, as submit().
  bool run_and_wait(std::function<void()> fn);

  // The service. Only on the I/O thread, or with an OperationCount held
  // (rule 4).
  [[nodiscard]] IoService& io() const noexcept { return io_; }
  [[nodiscard]] boost::asio::io_context& context() const noexcept { return io_.context(); }

  // I/O thread. False once close_all() has run: the caller must then close
  // the resource at once (rule 5).
  [[nodiscard]] bool add(std::shared_ptr<NetResource> resource);
  // I/O thread. Drops the registry's reference; the caller must hold one
  // of its own if it goes on using the resource.
  void remove(NetResource* resource) noexcept;
  [[nodiscard]] bool closing() const noexcept { return closing_; }

  // I/O thread: shutdown step 2.
  void close_all() noexcept;
  // The thread that ran IoService::shutdown(), after the join (rule 4).
  void detach() noexcept;

 private:
  IoService& io_;
  std::shared_mutex mutex_;
  IoService* service_;  // guarded by mutex_; null after detach()

  std::unordered_map<NetResource*, std::shared_ptr<NetResource>> open_;
  bool closing_ = false;
};

// Starts an IoService timer that cancels `op` with TimedOut when it fires.
// The timer holds the op weakly; cancel the handle when the op completes.
// Any thread with an OperationCount held.
[[nodiscard]] TimerHandle start_op_timeout(IoService& io, std::chrono::nanoseconds timeout,
                                           const std::shared_ptr<detail::NetOp>& op);

// The NetError for a failed Asio or Beast operation (never
// operation_aborted: the caller knows why it cancelled).
[[nodiscard]] NetError net_error_from(const boost::system::error_code& error, std::string address);
[[nodiscard]] NetError net_error(NetErrorKind kind, std::string message, std::string address);

// "127.0.0.1:8080", "[::1]:8080".
[[nodiscard]] std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);
[[nodiscard]] std::string format_host_port(const std::string& host, std::uint16_t port);

// Opens, binds and listens (rule 3). Any thread with an OperationCount held.
[[nodiscard]] NetResult<boost::asio::ip::tcp::acceptor> open_acceptor(IoService& io,
                                                                      const std::string& host,
                                                                      std::uint16_t port);

// How long an accept loop waits before it accepts again after a failed
// accept (not operation_aborted): zero for a peer that gave up before it
// was accepted, longer when out of descriptors or memory, where retrying at
// once would spin.
[[nodiscard]] std::chrono::milliseconds accept_retry_delay(
    const boost::system::error_code& error) noexcept;

}  // namespace weft
