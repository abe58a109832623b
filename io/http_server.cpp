// HTTP server: the phases and rules 1-6 are at the top of
// io/http_server.h; handles, counting and shutdown at the top of
// io/net_registry.h.
#include "io/http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/http_fields.h"
#include "io/net_registry.h"

namespace weft {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// The status line's reason phrase, as IANA's status code registry has it;
// empty for a code it does not register (a handler's 299, say), which RFC
// 9110 section 15 allows, where Beast would give "<unknown-status>". Beast's
// table lacks 425 and names three codes of nginx's and others' own.
std::string_view reason_phrase(int status) {
  if (status == 425) return "Too Early";                           // RFC 8470
  if (status == 444 || status == 499 || status == 599) return {};  // not registered
  const auto reason = http::obsolete_reason(static_cast<http::status>(status));
  const std::string_view text(reason.data(), reason.size());
  return text == "<unknown-status>" ? std::string_view() : text;
}

// How long Lingering lasts at most.
constexpr std::chrono::seconds kLingerTime(2);
// How often the server starts the hang-up watches of the connections whose
// handler is still running (http_server.h, Handling).
constexpr std::chrono::milliseconds kHangupSweep(50);
constexpr std::size_t kFirstReadBytes = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Statistics have one writer, the I/O thread, so a load and a store replace
// a read-modify-write. Relaxed: counters for people, not a hand-off.
void add(std::atomic<std::uint64_t>& counter, std::int64_t delta) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(delta),
                std::memory_order_relaxed);
}

}  // namespace

class ServerConnection;

class HttpServerState final : public NetResource {
 public:
  HttpServerState(std::shared_ptr<NetRegistry> registry, HttpServerOptions options,
                  tcp::acceptor acceptor, std::uint16_t port, std::string address,
                  HttpHandler handler)
      : registry(std::move(registry)),
        options(std::move(options)),
        port(port),
        address(std::move(address)),
        acceptor_(std::move(acceptor)),
        handler_(std::move(handler)) {}

  // I/O thread from here down.
  void start(OperationCount count) noexcept;
  void stop_on_io_thread() noexcept;
  void close_for_shutdown() noexcept override { stop_on_io_thread(); }
  void on_connection_closed(ServerConnection* connection) noexcept;
  // A connection began Handling: its hang-up watch starts at the next sweep.
  void watch_at_next_sweep() noexcept;
  // Null once stopped.
  [[nodiscard]] const HttpHandler& handler() const noexcept { return handler_; }

  // Immutable.
  const std::shared_ptr<NetRegistry> registry;
  const HttpServerOptions options;
  const std::uint16_t port;
  const std::string address;

  // Written by the I/O thread only; read by stats() on any thread.
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_peak{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> responses{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> timed_out{0};

 private:
  void accept(OperationCount count) noexcept;
  void on_accepted(const error_code& error, tcp::socket socket, OperationCount count) noexcept;
  void sweep() noexcept;

  std::optional<tcp::acceptor> acceptor_;
  HttpHandler handler_;
  std::unordered_map<ServerConnection*, std::shared_ptr<ServerConnection>> connections_;
  bool paused_ = false;  // rule 4
  bool stopped_ = false;
  TimerHandle sweep_timer_;
  bool sweep_pending_ = false;
};

// One accepted connection (the phases of http_server.h). I/O thread only,
// but for the immutable fields.
class ServerConnection final : public std::enable_shared_from_this<ServerConnection> {
 public:
  ServerConnection(std::shared_ptr<HttpServerState> server, tcp::socket socket,
                   std::string remote_address)
      : server(std::move(server)),
        remote_address(std::move(remote_address)),
        socket_(std::move(socket)) {
    // For peek(): synchronous calls fail with would_block instead of
    // waiting. Asynchronous operations do not depend on it.
    error_code ignored;
    socket_->non_blocking(true, ignored);
  }

  void start() noexcept { read_request(); }
  void respond(std::uint64_t request_id, HttpResponse response) noexcept;
  void close() noexcept;
  // Handling, and the hang-up watch waits for the server's next sweep.
  [[nodiscard]] bool watch_due() const noexcept { return watch_due_; }
  // The hang-up sweep: starts the watch if the handler is still running.
  void on_hangup_sweep() noexcept;

  // Immutable.
  const std::shared_ptr<HttpServerState> server;
  const std::string remote_address;

 private:
  enum class Phase { Idle, Header, Body, Handling, Writing, Lingering, Closed };

  using Clock = std::chrono::steady_clock;

  [[nodiscard]] OperationCount begin_operation() noexcept;
  // The phase's timeout (see "Deadlines" above the definitions).
  void arm(std::chrono::nanoseconds timeout) noexcept;
  void disarm() noexcept;
  void start_timer_at(Clock::time_point due) noexcept;
  void stop_timer() noexcept;
  void on_timer() noexcept;
  void on_timeout() noexcept;
  // close() during Handling: see the definition.
  void keep_handler_deadline() noexcept;

  void read_request() noexcept;
  void read_header() noexcept;
  void read_header_part() noexcept;
  void on_header() noexcept;
  void read_body() noexcept;
  void on_read_error(const error_code& error) noexcept;
  void dispatch() noexcept;
  void watch_for_hangup() noexcept;
  enum class Peek { Nothing, Data, HungUp };
  [[nodiscard]] Peek peek() noexcept;
  void send_error(http::status status) noexcept;
  // Into response_head_ (see its definition).
  void format_head(unsigned version, int status, const HttpHeaders& headers, std::size_t body_bytes,
                   bool with_length);
  void write_response() noexcept;
  void linger() noexcept;
  void discard_until_eof() noexcept;
  // The first thing each read or write handler does: true if the
  // connection closed meanwhile (the handler then only returns).
  [[nodiscard]] bool finish_io() noexcept;
  void release() noexcept;

  std::optional<tcp::socket> socket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // The response being written: its status line and fields, and its body
  // (see format_head).
  std::string response_head_;
  std::string response_body_;
  std::string discard_;  // Lingering's scratch space
  TimerHandle timer_;
  // The handler's time limit, kept after the connection closed during
  // Handling (keep_handler_deadline); cancelled when the handler answers,
  // so that it does not stay pending work until it would have fired.
  TimerHandle kept_handler_deadline_;
  std::uint64_t timer_generation_ = 0;  // identifies the pending timer
  bool timer_pending_ = false;
  Clock::time_point timer_due_;                            // when the pending timer fires
  Clock::time_point deadline_ = Clock::time_point::max();  // the phase's; max: none
  std::uint64_t request_id_ = 0;        // identifies the request in Handling
  unsigned version_ = 11;               // of the request being answered
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool watching_ = false;
  bool watch_due_ = false;          // Handling, and the watch waits for the next sweep
  // The responder of the request in Handling, for handler_timeout; weak,
  // since the responder holds this connection.
  std::weak_ptr<HttpResponderState> handling_;
  bool close_after_write_ = false;  // an error response: linger, then close
  // A read or write (not the hang-up watch) is in flight: until its handler
  // runs, close() must leave the socket and the buffers alone.
  bool in_flight_ = false;
  Phase phase_ = Phase::Idle;
  std::size_t header_bytes_ = 0;  // of the request's header parsed so far
};

// The shared state of one HttpResponder (rule 2).
class HttpResponderState {
 public:
  HttpResponderState(std::shared_ptr<ServerConnection> connection, std::uint64_t request_id)
      : connection_(std::move(connection)), request_id_(request_id) {}
  HttpResponderState(const HttpResponderState&) = delete;
  HttpResponderState& operator=(const HttpResponderState&) = delete;

  ~HttpResponderState() {
    // Relaxed: the last reference's release (the shared_ptr count is
    // acq_rel) orders every earlier respond() before this load.
    if (!responded_.load(std::memory_order_relaxed)) {
      (void)send(HttpResponse{500, {}, "the request handler did not respond\n"});
    }
  }

  bool respond(HttpResponse response) {
    // Relaxed: the exchange only elects the one caller whose response is
    // sent; the response itself reaches the I/O thread through submit().
    if (responded_.exchange(true, std::memory_order_relaxed)) return false;
    return send(std::move(response));
  }

  // I/O thread only: set during the handler's call, run by the connection.
  void set_on_timeout(std::function<void()> callback) { on_timeout_ = std::move(callback); }
  // The handler's time ran out: a 503 for it, and its callback, unless it
  // has answered already.
  void time_out() {
    if (!respond(HttpResponse{503, {}, "the handler timed out\n"})) return;
    if (on_timeout_) on_timeout_();
  }

 private:
  bool send(HttpResponse response) {
    return connection_->server->registry->submit(
        [connection = connection_, id = request_id_, response = std::move(response)](
            OperationCount) mutable { connection->respond(id, std::move(response)); });
  }

  const std::shared_ptr<ServerConnection> connection_;
  const std::uint64_t request_id_;
  std::atomic<bool> responded_{false};
  std::function<void()> on_timeout_;  // I/O thread only
};

// ---------------------------------------------------------------------------
// HttpServerState

void HttpServerState::start(OperationCount count) noexcept {
  if (!registry->add(shared_from_this())) {
    stop_on_io_thread();
    return;
  }
  accept(std::move(count));
}

void HttpServerState::accept(OperationCount count) noexcept {
  acceptor_->async_accept(
      [self = std::static_pointer_cast<HttpServerState>(shared_from_this()),
       count = std::move(count)](const error_code& error, tcp::socket socket) mutable {
        self->on_accepted(error, std::move(socket), std::move(count));
      });
}

void HttpServerState::on_accepted(const error_code& error, tcp::socket socket,
                                  OperationCount count) noexcept {
  if (stopped_ || error == asio::error::operation_aborted) return;
  if (error) {
    const std::chrono::milliseconds delay = accept_retry_delay(error);
    if (delay.count() == 0) {
      accept(std::move(count));
      return;
    }
    (void)registry->io().start_timer(
        delay, [self = std::static_pointer_cast<HttpServerState>(shared_from_this())](bool fired) {
          if (!fired || self->stopped_ || self->paused_) return;
          OperationCount count = OperationCount::try_begin(self->registry->io());
          if (count) self->accept(std::move(count));
        });
    return;
  }
  error_code peer_error;
  const tcp::endpoint peer = socket.remote_endpoint(peer_error);
  if (!peer_error) {
    auto connection = std::make_shared<ServerConnection>(
        std::static_pointer_cast<HttpServerState>(shared_from_this()), std::move(socket),
        format_endpoint(peer));
    connections_.emplace(connection.get(), connection);
    add(connections_accepted, 1);
    add(connections_open, 1);
    if (connections_open.load(std::memory_order_relaxed) >
        connections_peak.load(std::memory_order_relaxed)) {
      connections_peak.store(connections_open.load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
    }
    connection->start();
  }
  if (connections_.size() >= options.max_connections) {
    paused_ = true;  // rule 4; the count ends here
    return;
  }
  accept(std::move(count));
}

void HttpServerState::on_connection_closed(ServerConnection* connection) noexcept {
  if (connections_.erase(connection) == 0) return;  // stop() took them all
  add(connections_open, -1);
  if (paused_ && !stopped_ && connections_.size() < options.max_connections) {
    OperationCount count = OperationCount::try_begin(registry->io());
    if (!count) return;  // shutting down: the sweep stops the server
    paused_ = false;
    accept(std::move(count));
  }
}

void HttpServerState::watch_at_next_sweep() noexcept {
  if (sweep_pending_ || stopped_) return;
  sweep_pending_ = true;
  sweep_timer_ = registry->io().start_timer(
      kHangupSweep, [weak = std::weak_ptr<NetResource>(shared_from_this())](bool fired) {
        if (!fired) return;
        if (auto self = weak.lock()) static_cast<HttpServerState&>(*self).sweep();
      });
}

void HttpServerState::sweep() noexcept {
  sweep_pending_ = false;
  if (stopped_) return;
  // Collected first: a watch may find the client gone and close the
  // connection, which erases it from connections_.
  std::vector<std::shared_ptr<ServerConnection>> due;
  for (const auto& [key, connection] : connections_) {
    if (connection->watch_due()) due.push_back(connection);
  }
  for (const auto& connection : due) connection->on_hangup_sweep();
}

void HttpServerState::stop_on_io_thread() noexcept {
  if (stopped_) return;
  stopped_ = true;
  sweep_timer_.cancel();
  auto self = shared_from_this();
  error_code ignored;
  acceptor_->close(ignored);
  acceptor_.reset();
  registry->remove(this);
  auto connections = std::move(connections_);
  connections_.clear();
  for (auto& [key, connection] : connections) connection->close();
  add(connections_open, -static_cast<std::int64_t>(connections.size()));
  handler_ = nullptr;  // rule 5; not running: stop() always posts
}

// ---------------------------------------------------------------------------
// ServerConnection

OperationCount ServerConnection::begin_operation() noexcept {
  OperationCount count = OperationCount::try_begin(server->registry->io());
  if (!count) close();  // shutting down (net_registry.h, rule 2)
  return count;
}

// Deadlines. A phase's timeout is a deadline, not a timer of its own: a
// keep-alive request passes through four phases with timeouts, and a timer
// started and cancelled per phase cost the I/O thread about 8,000
// instructions per request (callgrind). The connection keeps one timer
// pending, due at or before its deadline (the invariant): arm() only moves
// the deadline, and starts a timer only when the pending one would fire
// after it (from the long idle timeout to the short header one, say);
// disarm() clears the deadline and leaves the timer. A timer that fires
// before the deadline starts the next one at the deadline; at or after
// it, the connection times out. So a busy connection starts about one
// timer per header timeout, not four per request.
void ServerConnection::arm(std::chrono::nanoseconds timeout) noexcept {
  deadline_ = Clock::now() + timeout;
  if (timer_pending_ && timer_due_ <= deadline_) return;
  start_timer_at(deadline_);
}

void ServerConnection::disarm() noexcept {
  deadline_ = Clock::time_point::max();
}

void ServerConnection::start_timer_at(Clock::time_point due) noexcept {
  timer_.cancel();
  const std::uint64_t generation = ++timer_generation_;
  timer_pending_ = true;
  timer_due_ = due;
  timer_ = server->registry->io().start_timer(
      std::max<std::chrono::nanoseconds>(due - Clock::now(), std::chrono::nanoseconds(0)),
      [weak = weak_from_this(), generation](bool fired) {
        if (!fired) return;
        auto self = weak.lock();
        if (self && self->timer_generation_ == generation) self->on_timer();
      });
}

void ServerConnection::stop_timer() noexcept {
  deadline_ = Clock::time_point::max();
  timer_.cancel();
  ++timer_generation_;
  timer_pending_ = false;
}

void ServerConnection::on_timer() noexcept {
  timer_pending_ = false;
  if (phase_ == Phase::Closed || deadline_ == Clock::time_point::max()) return;
  if (Clock::now() >= deadline_) {
    on_timeout();
  } else {
    start_timer_at(deadline_);
  }
}

void ServerConnection::on_timeout() noexcept {
  if (phase_ == Phase::Closed) return;
  if (phase_ == Phase::Handling) {
    // handler_timeout: the connection stays; the 503 is written as any
    // response is.
    disarm();
    if (auto state = handling_.lock()) state->time_out();
    return;
  }
  if (phase_ != Phase::Lingering) add(server->timed_out, 1);
  close();  // the operation in flight completes with operation_aborted
}

void ServerConnection::read_request() noexcept {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(server->options.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(server->options.max_body_bytes);
  if (buffer_.size() > 0) {
    read_header();  // a pipelined request is waiting (rule 1)
    return;
  }
  phase_ = Phase::Idle;
  OperationCount count = begin_operation();
  if (!count) return;
  arm(server->options.idle_timeout);
  in_flight_ = true;
  socket_->async_read_some(buffer_.prepare(kFirstReadBytes),
                           [self = shared_from_this(), count = std::move(count)](
                               const error_code& error, std::size_t bytes) {
                             if (self->finish_io()) return;
                             if (error) {
                               self->close();  // end of stream or reset: the client left
                               return;
                             }
                             self->buffer_.commit(bytes);
                             self->read_header();
                           });
}

void ServerConnection::read_header() noexcept {
  phase_ = Phase::Header;
  header_bytes_ = 0;
  arm(server->options.header_timeout);  // for the whole header, not each part
  read_header_part();
}

void ServerConnection::read_header_part() noexcept {
  // Beast 1.74 checks header_limit against the bytes one put() is given,
  // and the fields it has parsed leave the buffer, while its read loops
  // (async_read_header, async_read_some) put until the header ends: a
  // header of many short fields passed the limit (up to about twice it).
  // So the header is put here, a read at a time, each put limited to what
  // is left of the whole header's allowance.
  const std::size_t limit = server->options.max_header_bytes;
  while (buffer_.size() > 0) {
    if (header_bytes_ >= limit) {
      send_error(http::status::request_header_fields_too_large);
      return;
    }
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(limit - header_bytes_, UINT32_MAX)));
    error_code error;
    const std::size_t parsed = parser_->put(buffer_.data(), error);
    header_bytes_ += parsed;
    buffer_.consume(parsed);
    if (error == http::error::need_more) {
      // What is left of the allowance is in the buffer and the header has
      // not ended within it (Beast's own test, on the whole header).
      if (header_bytes_ + buffer_.size() >= limit) {
        send_error(http::status::request_header_fields_too_large);
        return;
      }
      break;
    }
    if (error) {
      on_read_error(error);
      return;
    }
    if (parser_->is_header_done()) {
      on_header();
      return;
    }
  }
  OperationCount count = begin_operation();
  if (!count) return;
  in_flight_ = true;
  socket_->async_read_some(
      buffer_.prepare(kFirstReadBytes), [self = shared_from_this(), count = std::move(count)](
                                            const error_code& error, std::size_t bytes) {
        if (self->finish_io()) return;
        if (error) {
          self->on_read_error(error);  // end of stream or reset: the client left
          return;
        }
        self->buffer_.commit(bytes);
        self->read_header_part();
      });
}

void ServerConnection::on_header() noexcept {
  const auto& request = parser_->get();
  const auto expect = request.find(http::field::expect);
  if (expect != request.end() && !parser_->is_done() && request.version() >= 11 &&
      equals_ignoring_case(to_std(expect->value()), "100-continue")) {
    OperationCount write_count = begin_operation();
    if (!write_count) return;
    in_flight_ = true;
    asio::async_write(*socket_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this(), write_count = std::move(write_count)](
                          const error_code& error, std::size_t) {
                        if (self->finish_io()) return;
                        if (error) {
                          self->close();
                          return;
                        }
                        self->read_body();
                      });
    return;
  }
  read_body();
}

void ServerConnection::read_body() noexcept {
  if (parser_->is_done()) {
    dispatch();
    return;
  }
  phase_ = Phase::Body;
  OperationCount count = begin_operation();
  if (!count) return;
  arm(server->options.body_timeout);
  in_flight_ = true;
  http::async_read(
      *socket_, buffer_, *parser_,
      [self = shared_from_this(), count = std::move(count)](const error_code& error, std::size_t) {
        if (self->finish_io()) return;
        if (error) {
          self->on_read_error(error);
          return;
        }
        self->dispatch();
      });
}

void ServerConnection::on_read_error(const error_code& error) noexcept {
  if (error == http::error::header_limit || error == http::error::buffer_overflow) {
    send_error(http::status::request_header_fields_too_large);
  } else if (error == http::error::body_limit) {
    send_error(http::status::payload_too_large);
  } else if (error == http::error::end_of_stream || error == http::error::partial_message ||
             error.category() != http::make_error_code(http::error::end_of_stream).category()) {
    // The client left (or reset), or a socket error: nobody to answer.
    // (Beast's own category holds the parse errors.)
    close();
  } else {
    send_error(http::status::bad_request);
  }
}

void ServerConnection::dispatch() noexcept {
  phase_ = Phase::Handling;
  if (server->options.handler_timeout.count() > 0) {
    arm(server->options.handler_timeout);
  } else {
    disarm();
  }
  auto& message = parser_->get();
  keep_alive_ = message.keep_alive();
  head_request_ = message.method() == http::verb::head;
  version_ = message.version();
  HttpRequest request;
  request.method = std::string(message.method_string());
  const std::string_view target = to_std(message.target());
  const std::size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
  request.headers = headers_from(message.base());
  request.body = std::move(message.body());
  request.remote_address = remote_address;
  parser_.reset();

  const HttpHandler& handler = server->handler();
  if (!handler) {
    close();
    return;
  }
  ++request_id_;
  add(server->requests, 1);
  {
    auto state = std::make_shared<HttpResponderState>(shared_from_this(), request_id_);
    handling_ = state;
    HttpResponder responder(std::move(state));
    try {
      handler(std::move(request), responder);
    } catch (...) {
      (void)responder.respond(HttpResponse{500, {}, "the request handler failed\n"});  // rule 2
    }
  }
  // Still Handling: respond() always posts.
  watch_due_ = true;
  server->watch_at_next_sweep();
}

void ServerConnection::on_hangup_sweep() noexcept {
  if (!watch_due_ || phase_ != Phase::Handling) return;
  watch_due_ = false;
  watch_for_hangup();
}

ServerConnection::Peek ServerConnection::peek() noexcept {
  char byte;
  error_code error;
  const std::size_t bytes =
      socket_->receive(asio::buffer(&byte, 1), tcp::socket::message_peek, error);
  if (error == asio::error::would_block) return Peek::Nothing;
  if (error || bytes == 0) return Peek::HungUp;
  return Peek::Data;
}

void ServerConnection::watch_for_hangup() noexcept {
  // Peeked first: Asio 1.74 starts a wait without trying the socket, so a
  // hang-up whose epoll event was consumed before the wait began would
  // never wake it. Nothing can be consumed between this peek and the wait:
  // both run on the I/O thread, which reads epoll events only in between.
  switch (peek()) {
    case Peek::HungUp:
      close();
      return;
    case Peek::Data:
      return;  // a pipelined request: it waits in the socket (rule 1)
    case Peek::Nothing:
      break;
  }
  OperationCount count = begin_operation();
  if (!count) return;
  watching_ = true;
  socket_->async_wait(tcp::socket::wait_read, [self = shared_from_this(), id = request_id_,
                                               count = std::move(count)](const error_code& error) {
    if (self->phase_ != Phase::Handling || self->request_id_ != id) return;
    self->watching_ = false;
    // Readable while the handler works: the client hung up (a peek
    // reads nothing), or it pipelined its next request.
    if (error || self->peek() == Peek::HungUp) self->close();
  });
}

void ServerConnection::respond(std::uint64_t request_id, HttpResponse response) noexcept {
  if (phase_ == Phase::Closed && request_id == request_id_) {
    // The handler answered after its connection closed: its kept time
    // limit has nothing left to cancel.
    kept_handler_deadline_.cancel();
  }
  if (phase_ != Phase::Handling || request_id != request_id_) return;  // rule 3
  watch_due_ = false;
  handling_.reset();
  if (watching_) {
    watching_ = false;
    error_code ignored;
    socket_->cancel(ignored);  // only the watch is in flight now
  }
  if (const std::string problem = response_problem(response); !problem.empty()) {
    if (server->options.on_refused_response) server->options.on_refused_response(problem);
    response = HttpResponse{500, {}, "the request handler gave an invalid response\n"};
  }
  const bool bodiless = response.status == 204 || response.status == 304;
  if (bodiless) response.body.clear();
  format_head(version_, response.status, response.headers, response.body.size(), !bodiless);
  response_body_ = std::move(response.body);
  if (head_request_) response_body_.clear();  // Content-Length stays
  write_response();
}

void ServerConnection::format_head(unsigned version, int status, const HttpHeaders& headers,
                                   std::size_t body_bytes, bool with_length) {
  // What Beast's serializer wrote for a string body after keep_alive() and
  // prepare_payload(): the status line, the handler's fields but those the
  // server sets, "Connection" when it differs from the version's default,
  // and Content-Length, except that a 204 or 304 has none (RFC 9110
  // section 8.6; Beast wrote 0). Formatted here: Beast's buffer sequences
  // cost the I/O thread several thousand instructions per response.
  std::string& head = response_head_;
  head.clear();
  head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  const auto reason = reason_phrase(status);
  head.append(reason.data(), reason.size());
  head += "\r\n";
  for (const auto& [name, value] : headers) {
    if (equals_ignoring_case(name, "connection")) {
      // The handler's "Connection: close" is honoured (written below).
      if (value.find("close") != std::string::npos) keep_alive_ = false;
      continue;
    }
    if (equals_ignoring_case(name, "content-length") ||
        equals_ignoring_case(name, "transfer-encoding")) {
      continue;
    }
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  if (version == 10 && keep_alive_) head += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive_) head += "Connection: close\r\n";
  if (with_length) {
    head += "Content-Length: ";
    head += std::to_string(body_bytes);
    head += "\r\n";
  }
  head += "\r\n";
}

void ServerConnection::send_error(http::status status) noexcept {
  add(server->rejected, 1);
  keep_alive_ = false;
  close_after_write_ = true;
  const auto reason = reason_phrase(static_cast<int>(status));
  response_body_.assign(reason.data(), reason.size());
  response_body_ += '\n';
  format_head(11, static_cast<int>(status), {{"Content-Type", "text/plain; charset=utf-8"}},
              response_body_.size(), true);
  write_response();
}

void ServerConnection::write_response() noexcept {
  phase_ = Phase::Writing;
  OperationCount count = begin_operation();
  if (!count) return;
  arm(server->options.write_timeout);
  in_flight_ = true;
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(response_head_),
                                                  asio::buffer(response_body_)};
  asio::async_write(
      *socket_, buffers,
      [self = shared_from_this(), count = std::move(count)](const error_code& error, std::size_t) {
        if (self->finish_io()) return;
        self->response_head_.clear();  // its capacity serves the next response
        std::string().swap(self->response_body_);
        if (error) {
          self->close();
          return;
        }
        add(self->server->responses, 1);
        if (self->keep_alive_ && !self->close_after_write_) {
          self->read_request();
        } else {
          self->linger();
        }
      });
}

void ServerConnection::linger() noexcept {
  phase_ = Phase::Lingering;
  disarm();
  error_code error;
  socket_->shutdown(tcp::socket::shutdown_send, error);
  if (error) {
    close();
    return;
  }
  arm(std::min<std::chrono::nanoseconds>(kLingerTime, server->options.idle_timeout));
  discard_.resize(4096);
  discard_until_eof();
}

void ServerConnection::discard_until_eof() noexcept {
  OperationCount count = begin_operation();
  if (!count) return;
  in_flight_ = true;
  socket_->async_read_some(
      asio::buffer(discard_),
      [self = shared_from_this(), count = std::move(count)](const error_code& error, std::size_t) {
        if (self->finish_io()) return;
        if (error) {
          self->close();  // end of stream: the client has read it all
          return;
        }
        self->discard_until_eof();
      });
}

void ServerConnection::close() noexcept {
  if (phase_ == Phase::Closed) return;
  const bool handling = phase_ == Phase::Handling;
  phase_ = Phase::Closed;
  auto self = shared_from_this();
  if (handling) keep_handler_deadline();
  stop_timer();
  error_code ignored;
  socket_->close(ignored);  // the operation in flight completes with operation_aborted
  if (!in_flight_) release();
  server->on_connection_closed(this);
}

void ServerConnection::keep_handler_deadline() noexcept {
  // The connection closes (the client left, the server stopped) while its
  // handler runs: the handler's time limit is the handler's, so it goes on
  // in a timer of its own, which the connection's deadline saved until now
  // (a handler that never answers must still be cancelled, or its task
  // would live for ever and keep the program alive).
  auto state = handling_.lock();
  if (!state || server->options.handler_timeout.count() <= 0 ||
      deadline_ == Clock::time_point::max()) {
    return;
  }
  const auto left =
      std::max<std::chrono::nanoseconds>(deadline_ - Clock::now(), std::chrono::nanoseconds(0));
  kept_handler_deadline_ = server->registry->io().start_timer(
      left, [weak = std::weak_ptr<HttpResponderState>(state)](bool fired) {
        if (!fired) return;
        if (auto responder = weak.lock()) responder->time_out();
      });
}

bool ServerConnection::finish_io() noexcept {
  in_flight_ = false;
  if (phase_ != Phase::Closed) return false;
  release();
  return true;
}

void ServerConnection::release() noexcept {
  // Only with no read or write in flight: Beast's composed operations use
  // the socket, the buffer, the parser and the response until their
  // handler runs.
  socket_.reset();
  parser_.reset();
  std::string().swap(response_head_);
  std::string().swap(response_body_);
  buffer_ = beast::flat_buffer();
  std::string().swap(discard_);
}

// ---------------------------------------------------------------------------
// Handles

HttpResponder::HttpResponder(std::shared_ptr<HttpResponderState> state) noexcept
    : state_(std::move(state)) {}

bool HttpResponder::respond(HttpResponse response) const {
  return state_ != nullptr && state_->respond(std::move(response));
}

void HttpResponder::on_timeout(std::function<void()> callback) const {
  if (state_ != nullptr) state_->set_on_timeout(std::move(callback));
}

HttpServer::HttpServer(std::shared_ptr<HttpServerState> state) noexcept
    : state_(std::move(state)) {}

std::uint16_t HttpServer::port() const noexcept {
  return state_ ? state_->port : 0;
}

const std::string& HttpServer::address() const noexcept {
  static const std::string kNone;
  return state_ ? state_->address : kNone;
}

void HttpServer::stop() const {
  if (!state_) return;
  (void)state_->registry->run_and_wait([state = state_] { state->stop_on_io_thread(); });
}

HttpServerStats HttpServer::stats() const noexcept {
  HttpServerStats stats;
  if (!state_) return stats;
  // Relaxed: counters for people (see add()).
  stats.connections_accepted = state_->connections_accepted.load(std::memory_order_relaxed);
  stats.connections_open = state_->connections_open.load(std::memory_order_relaxed);
  stats.connections_peak = state_->connections_peak.load(std::memory_order_relaxed);
  stats.requests = state_->requests.load(std::memory_order_relaxed);
  stats.responses = state_->responses.load(std::memory_order_relaxed);
  stats.rejected = state_->rejected.load(std::memory_order_relaxed);
  stats.timed_out = state_->timed_out.load(std::memory_order_relaxed);
  return stats;
}

NetResult<HttpServer> http_serve(IoService& io, HttpServerOptions options, HttpHandler handler) {
  const std::shared_ptr<NetRegistry>& registry = io.net_registry();
  if (options.max_connections == 0) options.max_connections = 1;
  NetResult<tcp::acceptor> opened = open_acceptor(io, options.host, options.port);
  if (!opened.ok()) return opened.error();
  tcp::acceptor acceptor = std::move(opened).value();
  error_code error;
  const tcp::endpoint bound = acceptor.local_endpoint(error);
  if (error) return net_error_from(error, format_host_port(options.host, options.port));
  auto state =
      std::make_shared<HttpServerState>(registry, std::move(options), std::move(acceptor),
                                        bound.port(), format_endpoint(bound), std::move(handler));
  const bool accepted =
      registry->submit([state](OperationCount count) { state->start(std::move(count)); });
  if (!accepted) {
    return net_error(NetErrorKind::ShutDown, "the I/O service has shut down", state->address);
  }
  return HttpServer(std::move(state));
}

}  // namespace weft
