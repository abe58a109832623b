#include "io/io_result.h"

#include <system_error>

namespace weft {

std::string IoError::describe() const {
  if (path.empty()) return message;
  return path + ": " + message;
}

IoError os_error(int code, std::string path) {
  // std::system_category().message uses strerror_r: safe on any thread.
  return IoError{code, std::system_category().message(code), std::move(path)};
}

IoError shut_down_error(std::string path) {
  return IoError{ESHUTDOWN, "the I/O service has shut down", std::move(path)};
}

}  // namespace weft
