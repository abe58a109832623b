// HttpHeaders helpers (io/http_message.h, io/http_fields.h).
#include "io/http_message.h"

#include <string>

#include "io/http_fields.h"

namespace weft {

namespace {

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_token_char(char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string response_problem(const HttpResponse& response) {
  if (response.status < 200 || response.status > 999) {
    return "status " + std::to_string(response.status) + " is not from 200 to 999";
  }
  for (const auto& [name, value] : response.headers) {
    if (!valid_field_name(name)) return "header name \"" + name + "\" is not a token";
    if (!valid_field_value(value)) {
      return "the value of header \"" + name + "\" holds a line break or a NUL";
    }
  }
  return "";
}

const std::string* find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (equals_ignoring_case(key, name)) return &value;
  }
  return nullptr;
}

HttpHeaders headers_from(const boost::beast::http::fields& fields) {
  HttpHeaders headers;
  for (const auto& field : fields) {
    std::string name(field.name_string());
    for (char& c : name) c = lower(c);
    headers.emplace_back(std::move(name), std::string(field.value()));
  }
  return headers;
}

bool valid_field_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

bool valid_field_value(std::string_view value) noexcept {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace weft
