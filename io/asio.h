// The one way Weft includes Boost.Asio. Files in io/ include this header and
// never a <boost/asio/...> header directly.
//
// Boost 1.74's boost/asio/awaitable.hpp uses std::exchange without including
// <utility>; under GCC 12 in C++20 mode the first file that pulls it in fails
// with "'exchange' is not a member of 'std'" (shared/design/PITFALLS.md). So
// <utility> comes first, and clang-format is told not to sort it below the
// Boost headers. Later io/ modules (files, TCP, HTTP, processes) add the Asio
// and Beast headers they need to the list below, after <utility>.
#pragma once

// clang-format off
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
// clang-format on
