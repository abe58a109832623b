// The one way io/ includes Boost.Beast (HTTP/1.1, header-only in Boost
// 1.74). io/asio.h comes first: it includes <utility> before any Asio header
// and selects the fenced-block implementation every translation unit must
// agree on (see there); Beast's own Asio includes then find both settled.
// Only the HTTP modules include this header, so the rest of io/ does not
// pay for Beast's templates.
#pragma once

// clang-format off
#include "io/asio.h"

// GCC 12 at -O2 with the sanitizers (the asan preset) reports the storage
// of an empty boost::optional in Beast's basic_parser as maybe used
// uninitialized once io/http_server.cpp calls put() itself: a false
// positive in Boost's code, silenced for Boost's headers only (the state
// of a diagnostic follows the source location it is reported at).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop
// clang-format on
