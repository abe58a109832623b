// Reading the arguments of a native function: the checks and messages the
// I/O bindings (file, io_async, http, tcp) share.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "engine/function.h"
#include "engine/value.h"

namespace weft {

class Runtime;
struct NetError;

// Argument `i` as text; TypeException "fn expects a String, got Int".
const std::string& string_arg(const NativeCall& call, uint32_t i, const char* fn);
// Argument `i` as a file path: a String without a NUL byte (the system
// would read the path only up to it, and open another file); IOError
// "fn: the path holds a NUL byte: abc\0def" otherwise.
const std::string& path_arg(const NativeCall& call, uint32_t i, const char* fn);
// The keyword argument `^name`, or nil.
Value keyword_arg(const NativeCall& call, std::string_view name);
// `^timeout` in seconds (Int or Float, 0 to 1e9), or none when not given.
std::optional<std::chrono::nanoseconds> timeout_arg(const NativeCall& call, const char* fn);
// A port number 0-65535; ArgumentException otherwise.
uint16_t port_arg(const Value& v, const char* fn);
// A network failure as the exception a script sees: TimeoutException for
// a timeout, CancellationException for a cancel, else NetworkException;
// the message names the address.
Value network_failure(const NetError& error);
// A builtin the runtime itself calls (a prelude function such as
// __await_stop).
Value builtin_named(Runtime& runtime, const char* name);

}  // namespace weft
