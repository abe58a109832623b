// HTTP client: the steps and rules 1-3 are at the top of io/http_client.h;
// handles, counting and shutdown at the top of io/net_registry.h.
#include "io/http_client.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <utility>

#include "io/http_fields.h"
#include "io/net_registry.h"

namespace weft {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

NetError invalid_url(const std::string& url, const std::string& why) {
  return net_error(NetErrorKind::InvalidArgument, "invalid URL: " + why, url);
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         equals_ignoring_case(text.substr(0, prefix.size()), prefix);
}

}  // namespace

NetResult<HttpUrl> parse_http_url(const std::string& url) {
  std::string_view rest(url);
  if (starts_with_ignoring_case(rest, "https://")) {
    return net_error(NetErrorKind::InvalidArgument, "https is not supported (io/ has no TLS)", url);
  }
  if (!starts_with_ignoring_case(rest, "http://")) {
    return invalid_url(url, "only http:// URLs are supported");
  }
  rest.remove_prefix(7);
  const std::size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return invalid_url(url, "credentials in URLs are not supported");
  }

  HttpUrl parsed;
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid_url(url, "unclosed '[' in the host");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid_url(url, "unexpected text after the host");
      port = after.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return invalid_url(url, "no host");
  for (char c : host) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/' || c == '\\') {
      return invalid_url(url, "bad character in the host");
    }
  }
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return invalid_url(url, "bad port");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return invalid_url(url, "bad port");
    parsed.port = static_cast<std::uint16_t>(value);
  }
  parsed.host = std::string(host);

  const std::size_t fragment = rest.find('#');
  std::string_view target = rest.substr(0, fragment);
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return invalid_url(url, "spaces and control characters must be percent-encoded");
    }
  }
  parsed.target =
      target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  const bool bracketed = parsed.host.find(':') != std::string::npos;
  parsed.host_header = bracketed ? "[" + parsed.host + "]" : parsed.host;
  if (parsed.port != 80) parsed.host_header += ":" + std::to_string(parsed.port);
  return parsed;
}

// One request (the steps of http_client.h); registered while it holds a
// resolver or a socket.
class HttpClientOp final : public detail::NetOp, public NetResource {
 public:
  HttpClientOp(std::shared_ptr<NetRegistry> registry, HttpClientRequest request,
               HttpResponseCallback done)
      : NetOp(std::move(registry)), request_(std::move(request)), done_(std::move(done)) {}

  // I/O thread.
  void start(OperationCount counted) noexcept {
    count_ = std::move(counted);
    auto self = this_op();
    if (!NetOp::registry->add(self)) {
      complete(reason_error(NetErrorKind::ShutDown));
      return;
    }
    if (request_.timeout)
      timeout_ = start_op_timeout(NetOp::registry->io(), *request_.timeout, self);
    NetResult<HttpUrl> url = parse_http_url(request_.url);
    if (!url.ok()) {
      complete(url.error());
      return;
    }
    url_ = std::move(url).value();
    if (std::optional<NetError> error = build_message()) {
      complete(std::move(*error));
      return;
    }
    socket_.emplace(NetOp::registry->context());
    error_code error;
    const asio::ip::address numeric = asio::ip::make_address(url_.host, error);
    if (!error) {
      socket_->async_connect(tcp::endpoint(numeric, url_.port),
                             [self](const error_code& error) { self->on_connected(error); });
      return;
    }
    resolver_.emplace(NetOp::registry->context());
    resolver_->async_resolve(
        url_.host, std::to_string(url_.port),
        [self](const error_code& error, const tcp::resolver::results_type& results) {
          self->on_resolved(error, results);
        });
  }

  void cancel_on_io_thread(NetErrorKind reason) noexcept override {
    if (completed_) return;
    if (!cancelled_) cancelled_ = reason;
    error_code ignored;
    if (resolver_) resolver_->cancel();
    if (socket_) socket_->close(ignored);  // rule 1
  }

  void close_for_shutdown() noexcept override { cancel_on_io_thread(NetErrorKind::ShutDown); }

  // The calling thread, when submit() refused the request.
  void reject() noexcept {
    completed_ = true;
    auto callback = std::move(done_);
    done_ = nullptr;
    callback(reason_error(NetErrorKind::ShutDown));
  }

 private:
  std::shared_ptr<HttpClientOp> this_op() {
    return std::static_pointer_cast<HttpClientOp>(NetResource::shared_from_this());
  }

  NetError reason_error(NetErrorKind reason) const {
    switch (reason) {
      case NetErrorKind::TimedOut:
        return net_error(reason, "request timed out", request_.url);
      case NetErrorKind::ShutDown:
        return net_error(reason, "the I/O service has shut down", request_.url);
      default:
        return net_error(NetErrorKind::Cancelled, "request cancelled", request_.url);
    }
  }

  std::optional<NetError> build_message() {
    if (!valid_field_name(request_.method)) {
      return net_error(NetErrorKind::InvalidArgument, "invalid method '" + request_.method + "'",
                       request_.url);
    }
    message_.method_string(request_.method);
    message_.target(url_.target);
    message_.version(11);
    message_.set(http::field::host, url_.host_header);
    message_.set(http::field::user_agent, "weft/" WEFT_VERSION);
    message_.set(http::field::accept, "*/*");
    message_.set(http::field::connection, "close");
    for (const auto& [name, value] : request_.headers) {
      if (!valid_field_name(name) || !valid_field_value(value)) {
        return net_error(NetErrorKind::InvalidArgument, "invalid header '" + name + "'",
                         request_.url);
      }
    }
    bool replaced[4] = {};
    const http::field defaults[4] = {http::field::host, http::field::user_agent,
                                     http::field::accept, http::field::connection};
    for (const auto& [name, value] : request_.headers) {
      if (equals_ignoring_case(name, "content-length") ||
          equals_ignoring_case(name, "transfer-encoding")) {
        continue;
      }
      for (int i = 0; i < 4; ++i) {
        if (!replaced[i] && equals_ignoring_case(name, to_std(http::to_string(defaults[i])))) {
          message_.erase(defaults[i]);
          replaced[i] = true;
        }
      }
      message_.insert(name, value);
    }
    const bool has_body = !request_.body.empty() || request_.method == "POST" ||
                          request_.method == "PUT" || request_.method == "PATCH";
    message_.body() = std::move(request_.body);
    if (has_body) message_.prepare_payload();
    return std::nullopt;
  }

  void on_resolved(const error_code& error, const tcp::resolver::results_type& results) noexcept {
    if (cancelled_) {
      complete(reason_error(*cancelled_));
    } else if (error) {
      complete(net_error_from(error, request_.url));
    } else {
      asio::async_connect(*socket_, results,
                          [self = this_op()](const error_code& error, const tcp::endpoint&) {
                            self->on_connected(error);
                          });
    }
  }

  void on_connected(const error_code& error) noexcept {
    if (cancelled_ || error) {
      failed(error);
      return;
    }
    auto self = this_op();
    http::async_write(*socket_, message_, [self](const error_code& error, std::size_t) {
      if (self->cancelled_) {
        self->failed(error);
        return;
      }
      // Rule 2: read even if the write failed.
      if (error) self->write_error_ = error;
      self->read_response();
    });
  }

  void read_response() noexcept {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(request_.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(request_.max_body_bytes);
    if (request_.method == "HEAD") parser_->skip(true);
    // The header first: Beast 1.74's response parser checks body_limit
    // against Content-Length only when the body arrives in a later read
    // than the header, so this checks it itself, before reading the body.
    http::async_read_header(
        *socket_, buffer_, *parser_,
        [self = this_op()](const error_code& error, std::size_t) { self->on_header(error); });
  }

  void on_header(const error_code& error) noexcept {
    if (error || cancelled_) {
      on_response(error ? error : error_code(asio::error::operation_aborted));
      return;
    }
    // Read from the field, which the parser has validated, rather than
    // through parser::content_length(): GCC 12 warns that Beast's
    // boost::optional may be used uninitialized there.
    const auto& header = parser_->get();
    const auto field = header.find(http::field::content_length);
    std::uint64_t length = 0;
    if (field != header.end()) {
      const std::string_view digits = to_std(field->value());
      (void)std::from_chars(digits.data(), digits.data() + digits.size(), length);
    }
    if (length > request_.max_body_bytes) {
      on_response(http::error::body_limit);
      return;
    }
    http::async_read(
        *socket_, buffer_, *parser_,
        [self = this_op()](const error_code& error, std::size_t) { self->on_response(error); });
  }

  void on_response(const error_code& error) noexcept {
    if (!error) {
      // A complete response wins over a cancel that came too late (rule 7
      // of net_registry.h).
      auto& message = parser_->get();
      HttpResponse response;
      response.status = static_cast<int>(message.result_int());
      response.headers = headers_from(message.base());
      response.body = std::move(message.body());
      complete(std::move(response));
      return;
    }
    if (cancelled_) {
      complete(reason_error(*cancelled_));
    } else if (write_error_) {
      complete(net_error_from(write_error_, request_.url));
    } else if (error == http::error::end_of_stream) {
      complete(net_error(NetErrorKind::Closed,
                         "the server closed the connection without a response", request_.url));
    } else if (error == http::error::header_limit) {
      complete(net_error(
          NetErrorKind::Protocol,
          "the response header exceeds " + std::to_string(request_.max_header_bytes) + " bytes",
          request_.url));
    } else if (error == http::error::body_limit) {
      complete(net_error(
          NetErrorKind::Protocol,
          "the response body exceeds " + std::to_string(request_.max_body_bytes) + " bytes",
          request_.url));
    } else if (error == http::error::partial_message) {
      complete(net_error(NetErrorKind::Closed,
                         "the server closed the connection before the response was complete",
                         request_.url));
    } else if (error.category() == http::make_error_code(http::error::end_of_stream).category()) {
      complete(net_error(NetErrorKind::Protocol, "malformed response: " + error.message(),
                         request_.url));
    } else {
      complete(net_error_from(error, request_.url));
    }
  }

  void failed(const error_code& error) noexcept {
    if (cancelled_) {
      complete(reason_error(*cancelled_));
    } else {
      complete(net_error_from(error, request_.url));
    }
  }

  void complete(NetResult<HttpResponse> result) noexcept {
    completed_ = true;
    timeout_.cancel();
    auto self = NetResource::shared_from_this();
    NetOp::registry->remove(this);
    error_code ignored;
    if (socket_) socket_->close(ignored);
    socket_.reset();
    resolver_.reset();
    parser_.reset();
    message_ = {};
    buffer_ = beast::flat_buffer();
    {
      auto callback = std::move(done_);
      done_ = nullptr;
      callback(std::move(result));
    }
    count_.reset();
  }

  HttpClientRequest request_;
  HttpResponseCallback done_;
  OperationCount count_;
  TimerHandle timeout_;
  // I/O thread.
  HttpUrl url_;
  http::request<http::string_body> message_;
  std::optional<tcp::resolver> resolver_;
  std::optional<tcp::socket> socket_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  error_code write_error_;
  std::optional<NetErrorKind> cancelled_;
  bool completed_ = false;
};

NetOperation http_request(IoService& io, HttpClientRequest request, HttpResponseCallback done) {
  const std::shared_ptr<NetRegistry>& registry = io.net_registry();
  auto op = std::make_shared<HttpClientOp>(registry, std::move(request), std::move(done));
  if (!registry->submit([op](OperationCount count) { op->start(std::move(count)); })) {
    op->reject();
    return NetOperation();
  }
  return NetOperation(std::move(op));
}

NetOperation http_get(IoService& io, std::string url, HttpHeaders headers,
                      std::optional<std::chrono::nanoseconds> timeout, HttpResponseCallback done) {
  HttpClientRequest request;
  request.method = "GET";
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.timeout = timeout;
  return http_request(io, std::move(request), std::move(done));
}

NetOperation http_post(IoService& io, std::string url, HttpHeaders headers, std::string body,
                       std::optional<std::chrono::nanoseconds> timeout, HttpResponseCallback done) {
  HttpClientRequest request;
  request.method = "POST";
  request.url = std::move(url);
  request.headers = std::move(headers);
  request.body = std::move(body);
  request.timeout = timeout;
  return http_request(io, std::move(request), std::move(done));
}

}  // namespace weft
