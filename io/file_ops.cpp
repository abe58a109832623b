#include "io/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <memory>
#include <new>

namespace weft {

namespace {

constexpr std::size_t kReadBlock = 64 * 1024;

IoError too_large(const std::string& path, std::uint64_t max_bytes) {
  return IoError{EFBIG, "file is larger than the limit of " + std::to_string(max_bytes) + " bytes",
                 path};
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void UniqueFd::reset() noexcept {
  // Not retried on EINTR: Linux releases the descriptor even then, and a
  // retry could close one that another thread has just been given.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

IoResult<UniqueFd> open_file(const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return os_error(errno, path);
  return UniqueFd(fd);
}

IoResult<UniqueFd> open_for_reading(const std::string& path) {
  IoResult<UniqueFd> opened = open_file(path, O_RDONLY);
  if (!opened.ok()) return opened;
  // open(O_RDONLY) succeeds on a directory; read(2) would fail later with
  // the same EISDIR, but saying so at once is clearer.
  struct stat info;
  if (::fstat(opened.value().get(), &info) != 0) return os_error(errno, path);
  if (S_ISDIR(info.st_mode)) return os_error(EISDIR, path);
  return opened;
}

IoResult<std::string> read_whole_file(const std::string& path, std::uint64_t max_bytes) {
  IoResult<UniqueFd> opened = open_for_reading(path);
  if (!opened.ok()) return opened.error();
  const int fd = opened.value().get();
  struct stat info;
  if (::fstat(fd, &info) != 0) return os_error(errno, path);
  // A regular file's size is known: refuse before allocating. Others (st_size
  // 0 or meaningless) are capped as they are read.
  std::uint64_t expected = 0;
  if (S_ISREG(info.st_mode)) {
    expected = static_cast<std::uint64_t>(info.st_size);
    if (expected > max_bytes) return too_large(path, max_bytes);
  }
  const std::uint64_t limit =
      std::min<std::uint64_t>(max_bytes, std::numeric_limits<std::size_t>::max() - kReadBlock);
  try {
    std::string data;
    // One byte more than the expected size, so that the read that finds
    // the end does not need a larger buffer.
    data.resize(expected > 0 ? expected + 1 : kReadBlock);
    std::size_t length = 0;
    for (;;) {
      if (length > limit) return too_large(path, max_bytes);
      if (length == data.size()) {
        const std::size_t grown = std::max(length * 2, length + kReadBlock);
        data.resize(static_cast<std::size_t>(std::min<std::uint64_t>(grown, limit + 1)));
      }
      const ssize_t got = ::read(fd, data.data() + length, data.size() - length);
      if (got < 0) {
        if (errno == EINTR) continue;
        return os_error(errno, path);
      }
      if (got == 0) break;
      length += static_cast<std::size_t>(got);
    }
    data.resize(length);
    return data;
  } catch (const std::bad_alloc&) {
    return os_error(ENOMEM, path);
  } catch (const std::length_error&) {
    return os_error(ENOMEM, path);
  }
}

IoResult<void> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t wrote = ::write(fd, data.data(), data.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, path);
    }
    data.remove_prefix(static_cast<std::size_t>(wrote));
  }
  return {};
}

IoResult<void> close_file(UniqueFd& fd, bool sync, const std::string& path) {
  if (!fd.valid()) return {};
  int sync_error = 0;
  if (sync && ::fsync(fd.get()) != 0) sync_error = errno;
  // close(2) can report a deferred write error (NFS, a full disk); EINTR
  // still releases the descriptor on Linux and loses nothing written.
  const int raw = fd.release();
  const int close_error = ::close(raw) != 0 && errno != EINTR ? errno : 0;
  if (sync_error != 0) return os_error(sync_error, path);
  if (close_error != 0) return os_error(close_error, path);
  return {};
}

IoResult<void> write_whole_file(const std::string& path, std::string_view data, WriteMode mode,
                                bool sync) {
  const int flags = O_WRONLY | O_CREAT | (mode == WriteMode::Append ? O_APPEND : O_TRUNC);
  IoResult<UniqueFd> opened = open_file(path, flags);
  if (!opened.ok()) return opened.error();
  IoResult<void> wrote = write_all(opened.value().get(), data, path);
  IoResult<void> closed = close_file(opened.value(), sync, path);
  if (!wrote.ok()) return wrote;
  return closed;
}

std::string_view without_cr(std::string_view line) noexcept {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    if (end == std::string_view::npos) {
      lines.emplace_back(text);
      break;
    }
    lines.emplace_back(without_cr(text.substr(0, end)));
    text.remove_prefix(end + 1);
  }
  return lines;
}

IoResult<std::vector<std::string>> list_directory(const std::string& path) {
  // glibc's opendir opens with O_CLOEXEC.
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
  if (!dir) return os_error(errno, path);
  try {
    std::vector<std::string> names;
    for (;;) {
      errno = 0;  // readdir returns null both at the end and on an error
      const dirent* entry = ::readdir(dir.get());
      if (entry == nullptr) {
        if (errno != 0) return os_error(errno, path);
        break;
      }
      const std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  } catch (const std::bad_alloc&) {
    return os_error(ENOMEM, path);
  }
}

IoResult<void> remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return os_error(errno, path);
  return {};
}

bool path_exists(const std::string& path) noexcept {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0;
}

}  // namespace weft
