// The one way io/ includes Boost.Beast (HTTP/1.1, header-only in Boost
// 1.74). io/asio.h comes first: it includes <utility> before any Asio header
// and selects the fenced-block implementation every translation unit must
// agree on (see there); Beast's own Asio includes then find both settled.
// Only the HTTP modules include this header, so the rest of io/ does not
// pay for Beast's templates.
#pragma once

// clang-format off
#include "io/asio.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
// clang-format on
