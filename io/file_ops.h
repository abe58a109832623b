// Blocking file primitives: the system calls behind FileService,
// FileWriter and LineReader, run on a pool thread (io/blocking_pool.h).
// No shared state. None throws: every failure, allocation included, is an
// IoError with the operating system's message and the path.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/io_result.h"

namespace weft {

// Owns one file descriptor; closes it on destruction, ignoring errors (use
// close_file to see them).
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] bool valid() const noexcept { return fd_ >= 0; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC added, retried on EINTR.
[[nodiscard]] IoResult<UniqueFd> open_file(const std::string& path, int flags, mode_t mode = 0666);
// Opens for reading a file that must not be a directory (EISDIR).
[[nodiscard]] IoResult<UniqueFd> open_for_reading(const std::string& path);

// The whole file. EFBIG, before anything is allocated when the size is
// known, if it holds more than max_bytes; the same, after reading
// max_bytes + 1, for a file whose size is not known up front (a pipe, a
// device, /proc). ENOMEM if the memory cannot be had.
[[nodiscard]] IoResult<std::string> read_whole_file(const std::string& path,
                                                    std::uint64_t max_bytes);

// Writes all of data (retrying short writes and EINTR).
[[nodiscard]] IoResult<void> write_all(int fd, std::string_view data, const std::string& path);
// fsync if `sync`, then close; reports either's error. fd is empty after.
[[nodiscard]] IoResult<void> close_file(UniqueFd& fd, bool sync, const std::string& path);

enum class WriteMode { Truncate, Append };
// Creates the file (mode 0666 less the umask) if missing, writes data,
// closes it (fsync first if `sync`).
[[nodiscard]] IoResult<void> write_whole_file(const std::string& path, std::string_view data,
                                              WriteMode mode, bool sync);

// Lines end at "\n" or "\r\n" (the terminator is not part of the line); a
// last line without a terminator counts; a final terminator does not start
// an empty line. "" has no lines, "\n" one empty line.
[[nodiscard]] std::vector<std::string> split_lines(std::string_view text);
// A line cut at "\n", without its "\r" if it ended in "\r\n".
[[nodiscard]] std::string_view without_cr(std::string_view line) noexcept;

// The names in a directory, without "." and "..", sorted bytewise.
[[nodiscard]] IoResult<std::vector<std::string>> list_directory(const std::string& path);

// unlink(2): a file, a link or a special file; a directory gives EISDIR.
[[nodiscard]] IoResult<void> remove_file(const std::string& path);

// True if stat(2) succeeds (symbolic links followed).
[[nodiscard]] bool path_exists(const std::string& path) noexcept;

}  // namespace weft
