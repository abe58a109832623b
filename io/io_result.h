// IoError and IoResult<T>: how io/ reports the outcome of a file or process
// operation to its callback. Plain C++ values; the engine turns an IoError
// into a script IOError carrying the same message and path.
#pragma once

#include <cerrno>
#include <functional>
#include <string>
#include <utility>
#include <variant>

namespace weft {

struct IoError {
  // An errno value: ENOENT, EACCES, EISDIR, ENOTDIR, EFBIG (a size cap),
  // ECANCELED (a cancelled process), ESHUTDOWN (the service has shut down),
  // EINVAL (a malformed request) ...
  int code = 0;
  // The operating system's message for `code` (strerror), or a sentence of
  // io/'s own for the codes it raises itself (caps, cancel, shutdown).
  std::string message;
  // The file or directory path, or the program name of a process.
  std::string path;

  [[nodiscard]] bool cancelled() const noexcept { return code == ECANCELED; }
  // "path: message", or the message alone when there is no path.
  [[nodiscard]] std::string describe() const;
};

// The error `code` as the operating system describes it (thread-safe, unlike
// strerror), for `path`.
[[nodiscard]] IoError os_error(int code, std::string path);
// A request made after IoService::shutdown began.
[[nodiscard]] IoError shut_down_error(std::string path);

// A value or an IoError. value() on an error, or error() on a value, throws
// std::bad_variant_access.
template <typename T>
class [[nodiscard]] IoResult {
 public:
  IoResult(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  IoResult(IoError error) : state_(std::in_place_index<1>, std::move(error)) {}

  [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
  [[nodiscard]] T& value() & { return std::get<0>(state_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(state_)); }
  [[nodiscard]] const IoError& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, IoError> state_;
};

// Success without a value (a write, a delete), or an IoError. A plain
// IoError and a flag rather than std::optional<IoError>: GCC 12 reports a
// false "may be used uninitialized" inside optional's strings at -O2 in
// sanitizer builds, which -Werror turns into a failed build. error() on a
// success throws std::bad_variant_access, as for IoResult<T>.
template <>
class [[nodiscard]] IoResult<void> {
 public:
  IoResult() = default;
  IoResult(IoError error) : error_(std::move(error)), failed_(true) {}

  [[nodiscard]] bool ok() const noexcept { return !failed_; }
  [[nodiscard]] const IoError& error() const {
    if (!failed_) throw std::bad_variant_access();
    return error_;
  }

 private:
  IoError error_;
  bool failed_ = false;
};

// Every io/ operation reports through exactly one call of one of these.
template <typename T>
using IoCallback = std::function<void(IoResult<T>)>;

}  // namespace weft
