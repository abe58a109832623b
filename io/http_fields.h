// Conversions between Beast's header fields and io/'s HttpHeaders, shared
// by the HTTP client and server. Internal to io/ (includes Beast).
#pragma once

#include <string>
#include <string_view>

#include "io/beast.h"
#include "io/http_message.h"

namespace weft {

// The fields of a parsed message, names lowercased (http_message.h).
[[nodiscard]] HttpHeaders headers_from(const boost::beast::http::fields& fields);

// RFC 9110, section 5: a name is a token; a value has no CR, LF or NUL (so
// a caller's header cannot smuggle in another header or a second message).
[[nodiscard]] bool valid_field_name(std::string_view name) noexcept;
[[nodiscard]] bool valid_field_value(std::string_view value) noexcept;

// Beast 1.74 speaks boost::string_view.
[[nodiscard]] inline std::string_view to_std(boost::beast::string_view view) noexcept {
  return std::string_view(view.data(), view.size());
}

[[nodiscard]] bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept;

}  // namespace weft
