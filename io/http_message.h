// HTTP/1.1 messages as io/ hands them over: plain strings and lists of
// header pairs, nothing of Beast or of script values.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft {

// Header fields in the order they came, duplicates kept. Names that io/
// parsed (a request the server received, a response the client received)
// are lowercased, since field names are case-insensitive (RFC 9110,
// section 5.1): look them up as "content-type". Names a caller gives are
// sent as given.
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;   // "GET"
  std::string path;     // "/a/b", as sent (percent-encoding kept)
  std::string query;    // "x=1&y=2" (what follows '?'; empty without one)
  HttpHeaders headers;  // lowercased names
  std::string body;
  std::string remote_address;  // "127.0.0.1:53122"
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
};

// Why `response` cannot be sent as a final response ("status 99 is not
// from 200 to 999", "header name \"a b\" is not a token", ...), or "" when
// it can. The server answers such a response with a 500 instead.
[[nodiscard]] std::string response_problem(const HttpResponse& response);

// The value of the first header named `name` (compared without case), or
// nullptr.
[[nodiscard]] const std::string* find_header(const HttpHeaders& headers, std::string_view name);

}  // namespace weft
