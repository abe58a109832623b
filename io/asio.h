// The one way Weft includes Boost.Asio. Files in io/ include this header and
// never a <boost/asio/...> header directly.
//
// Boost 1.74's boost/asio/awaitable.hpp uses std::exchange without including
// <utility>; under GCC 12 in C++20 mode the first file that pulls it in fails
// with "'exchange' is not a member of 'std'" (shared/design/PITFALLS.md). So
// <utility> comes first, and clang-format is told not to sort it below the
// Boost headers. Later io/ modules (files, TCP, HTTP, processes) add the Asio
// and Beast headers they need to the list below, after <utility>.
//
// Under ThreadSanitizer, GCC 12 rejects std::atomic_thread_fence
// ("not supported with -fsanitize=thread", an error with -Werror), and
// Asio's std_fenced_block uses it around every handler invocation. Those
// fences order memory on the thread that runs the handler; the hand-off of
// a handler between threads goes through the scheduler's mutex, which TSan
// does see, and TSan does not model standalone fences anyway (PITFALLS.md).
// So TSan builds select Asio's null_fenced_block: TSan loses nothing it
// could check. This header is Asio's only include point, so every
// translation unit of a build sees the same choice.
#pragma once

#if defined(__SANITIZE_THREAD__) && !defined(BOOST_ASIO_DISABLE_FENCED_BLOCK)
#define BOOST_ASIO_DISABLE_FENCED_BLOCK 1
#endif

// clang-format off
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
// clang-format on
