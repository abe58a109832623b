// HTTP/1.1 server (Boost.Beast over the I/O thread's io_context):
// http_serve, HttpServer, HttpResponder. Plain http only: there is no TLS.
// Free of Asio and Beast; the state lives in io/http_server.cpp. The rules
// all network objects follow (handles, counting, shutdown) are at the top
// of io/net_registry.h.
//
// Implementation overview
// =======================
// The listening socket is opened on the calling thread (net_registry.h,
// rule 3), then the I/O thread accepts connections and drives each through
// its phases:
//
//   Idle --first byte--> Header --> Body --> Handling --respond--> Writing
//    ^                                                                |
//    +-------------------------- keep-alive --------------------------+
//
//   Header, Body: over a limit, or malformed --> an error response (431,
//                 413 or 400), written like any other
//   Writing, without keep-alive or after an error response --> Lingering --> Closed
//   Handling: the client hangs up --> Closed
//   any phase: stop(), shutdown, a timeout or a socket error --> Closed
//
//   Idle      waiting for a request's first byte; idle_timeout. A connection
//             starts here, and returns here between keep-alive requests.
//   Header    reading the request line and fields; header_timeout from the
//             first byte. Over max_header_bytes: 431.
//   Body      reading the body (Content-Length or chunked); body_timeout.
//             Over max_body_bytes: 413, as soon as a Content-Length says so.
//             "Expect: 100-continue" is answered before the body is read.
//   Handling  the handler has the request; handler_timeout, when set (by
//             default none: a handler may take as long as it needs): a 503
//             is sent for it and its responder's on_timeout runs. The socket is watched for the
//             client hanging up, which closes the connection. As in Go's net/http, a client that
//             only shuts down its sending side counts as hung up: its response is dropped. The
//             watch starts at the server's next hang-up sweep (every kHangupSweep, while handlers
//             run), not at once: most handlers answer before it, and a watch costs the I/O thread
//             two system calls (a peek and an epoll_ctl) and a cancellation per request.
//   Writing   sending the response; write_timeout.
//   Lingering after an error response or "Connection: close": this side is
//             shut down and what the client still sends is read and
//             dropped, for a moment, so that closing does not reset the
//             connection before the client has read the response.
//
// Rules
// -----
//   1. One request at a time per connection: the next is read only after
//      the response to the last is written (pipelined requests wait in the
//      buffer), so responses go out in request order.
//   2. The handler runs on the I/O thread, must not block, and gets an
//      HttpResponder. respond() may be called then or later, from any
//      thread; the first call wins, later ones return false. A responder
//      dropped without responding answers 500, so a lost responder cannot
//      leave a client waiting. A handler that throws answers 500 too.
//   3. A response to a connection that closed meanwhile (stop, shutdown, a
//      client that hung up) is dropped. The responder keeps only the
//      closed connection's small state alive, and releases it when dropped;
//      nothing else waits for it.
//   4. Connection limit: with max_connections open, the server stops
//      accepting (new clients wait in the kernel's backlog) until one
//      closes. Slow clients are dropped by the timeouts, so the limit does
//      not lock the server for long.
//   5. stop() (any thread) closes the listening socket and every connection
//      at once, on the I/O thread, and returns when it has (so the port is
//      free again: NetRegistry::run_and_wait); responses not yet written
//      are dropped. It also releases the
//      handler, on the I/O thread, so a handler that refers to its own
//      server forms no lasting cycle. IoService shutdown does the same
//      (net_registry.h, rule 5); dropping the HttpServer handle does not.
//   6. Counting (net_registry.h, rule 2): each socket operation and the
//      pending accept hold one count each, so a listening server and each
//      connection waiting for a request count as pending operations. A
//      responder's response is one more, from respond() until it is handed
//      to the connection.
//   7. Closing a connection closes its socket at once, but releases the
//      socket object, the buffer, the parser and the response only when no
//      read or write is in flight: at once, or in that operation's handler.
//      Beast's composed operations use all four until their handler runs.
//      (The hang-up watch is a plain wait and uses none of them.)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "io/http_message.h"
#include "io/net.h"

namespace weft {

class IoService;
class HttpServerState;
class HttpResponderState;

struct HttpServerOptions {
  std::string host = "0.0.0.0";              // numeric; "0.0.0.0" is every IPv4 interface
  std::uint16_t port = 0;                    // 0 picks a free port: see HttpServer::port()
  std::size_t max_header_bytes = 16 * 1024;  // request line and fields; over: 431
  std::size_t max_body_bytes = 1024 * 1024;  // decoded body; over: 413
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);    // Idle phase
  std::chrono::nanoseconds header_timeout = std::chrono::seconds(10);  // Header phase
  std::chrono::nanoseconds body_timeout = std::chrono::seconds(60);    // Body phase
  std::chrono::nanoseconds write_timeout = std::chrono::seconds(60);   // Writing phase
  // Handling phase; zero: none. Over it the server answers 503 for the
  // handler and runs the responder's on_timeout callback.
  std::chrono::nanoseconds handler_timeout{0};
  std::size_t max_connections = 1024;  // rule 4
  // Called on the I/O thread with the reason (response_problem) when a
  // handler's response cannot be sent and a 500 goes instead; may be empty.
  std::function<void(const std::string&)> on_refused_response{};
};

// Counts since the server started. Written only by the I/O thread; each is
// exact when the server is idle.
struct HttpServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;
  std::uint64_t connections_peak = 0;  // the most open at once
  std::uint64_t requests = 0;          // handed to the handler
  std::uint64_t responses = 0;         // written in full, error responses included
  std::uint64_t rejected = 0;          // answered 400, 413 or 431 without the handler
  std::uint64_t timed_out = 0;         // dropped by a timeout
};

// Answers one request (rule 2). Copyable; copies share the one answer.
class HttpResponder {
 public:
  HttpResponder() noexcept = default;
  explicit HttpResponder(std::shared_ptr<HttpResponderState> state) noexcept;

  // Sends `response` (status 200-999; headers given by the handler are
  // sent as given, except Content-Length, Transfer-Encoding and Connection,
  // which the server sets; "Connection: close" is honoured). A status out
  // of range or a header with CR, LF or a bad name gives 500 instead. True
  // if this was the first call and the server took it; that does not mean
  // the client got it. Any thread.
  bool respond(HttpResponse response) const;

  // What runs, on the I/O thread, if HttpServerOptions::handler_timeout
  // passes first and the server answers 503 for the handler (a script
  // binding cancels the handler's task there). Set it from the handler's
  // own call, which runs on the I/O thread; once.
  void on_timeout(std::function<void()> callback) const;

  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }

 private:
  std::shared_ptr<HttpResponderState> state_;
};

using HttpHandler = std::function<void(HttpRequest request, HttpResponder responder)>;

class HttpServer {
 public:
  HttpServer() noexcept = default;
  explicit HttpServer(std::shared_ptr<HttpServerState> state) noexcept;

  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] const std::string& address() const noexcept;  // "127.0.0.1:40123"
  // Rule 5. Any thread; idempotent; a no-op after IoService shutdown.
  void stop() const;
  [[nodiscard]] HttpServerStats stats() const noexcept;

 private:
  std::shared_ptr<HttpServerState> state_;
};

// Listens and serves until stop() or IoService shutdown. Errors: address in
// use, a host that is not numeric, ShutDown.
[[nodiscard]] NetResult<HttpServer> http_serve(IoService& io, HttpServerOptions options,
                                               HttpHandler handler);

}  // namespace weft
