// HTTP/1.1 client (Boost.Beast over the I/O thread's io_context):
// http_request, http_get, http_post. Plain http:// only: there is no TLS,
// and an https:// URL fails with InvalidArgument. Each request uses a
// connection of its own ("Connection: close"; no pooling), follows no
// redirects and decodes no content encodings: the caller sees the status,
// headers and body the server sent. Free of Asio and Beast; the rules all
// network objects follow are at the top of io/net_registry.h.
//
// Implementation overview
// =======================
// One request is one operation (one count, one callback), on the I/O
// thread from start to end:
//
//   parse URL ──> resolve (names only) ──> connect ──> write ──> read response ──> done
//
// Rules
// -----
//   1. The timeout covers the whole request, from the call to the last
//      byte of the response. When it elapses, or on cancel() or shutdown,
//      the request's resolver is cancelled and its socket closed, so the
//      step in flight stops at once; the callback reports TimedOut,
//      Cancelled or ShutDown.
//   2. A server that closes the connection or resets it while the request
//      is still being written may already have answered (a 413 sent before
//      the body was read): the response is read anyway, and the write's
//      error is reported only if no complete response arrives.
//   3. Errors: Refused, UnknownHost, TimedOut, Cancelled, ShutDown; Closed
//      for a server that closed the connection without a response or in
//      the middle of one; Protocol for a malformed response or one over the
//      limits below; InvalidArgument for a bad URL or header. The error's
//      address is the URL.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "io/http_message.h"
#include "io/net.h"

namespace weft {

class IoService;

struct HttpClientRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port][/path][?query]
  // Sent after Host, User-Agent, Accept and Connection, replacing those of
  // the same name. Content-Length and Transfer-Encoding are the client's.
  HttpHeaders headers;
  std::string body;  // sent with a Content-Length when not empty, or for POST/PUT/PATCH
  std::optional<std::chrono::nanoseconds> timeout;  // rule 1; none: wait as long as it takes
  std::size_t max_header_bytes = 64 * 1024;         // of the response; over: Protocol
  std::size_t max_body_bytes = 64 * 1024 * 1024;    // of the response; over: Protocol
};

using HttpResponseCallback = std::function<void(NetResult<HttpResponse> response)>;

// Any status the server sends is a response, 404 and 500 included; only a
// failure to get one is an error (rule 3). The callback runs once, on the
// I/O thread (at once on the calling thread with ShutDown after shutdown).
NetOperation http_request(IoService& io, HttpClientRequest request, HttpResponseCallback done);

NetOperation http_get(IoService& io, std::string url, HttpHeaders headers,
                      std::optional<std::chrono::nanoseconds> timeout, HttpResponseCallback done);
NetOperation http_post(IoService& io, std::string url, HttpHeaders headers, std::string body,
                       std::optional<std::chrono::nanoseconds> timeout, HttpResponseCallback done);

// The parts of an http:// URL. Exposed for tests.
struct HttpUrl {
  std::string host;  // "example.com", "127.0.0.1", "::1" (no brackets)
  std::uint16_t port = 80;
  std::string target;       // "/path?query", at least "/"
  std::string host_header;  // "example.com:8080", "[::1]:8080"; no port when 80
};
[[nodiscard]] NetResult<HttpUrl> parse_http_url(const std::string& url);

}  // namespace weft
