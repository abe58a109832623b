// LineReader: the protocol (rules 1-5) is at the top of io/line_reader.h.
#include "io/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <new>
#include <optional>
#include <string_view>
#include <utility>

#include "io/blocking_strand.h"
#include "io/file_ops.h"

namespace weft {

namespace {

constexpr std::size_t kReadBlock = 64 * 1024;

}  // namespace

struct LineReader::State {
  State(BlockingPool& pool, std::string path, std::uint64_t max_line_bytes)
      : strand(pool), path(std::move(path)), max_line_bytes(max_line_bytes) {}

  // Strand jobs only, from here to next().
  void open() {
    IoResult<UniqueFd> opened = open_for_reading(path);
    if (opened.ok()) {
      fd = std::move(opened).value();
    } else {
      error = opened.error();
    }
  }

  IoResult<LineChunk> next(std::size_t max_lines) {
    if (error) return *error;
    if (closed) return IoError{EBADF, "reader is closed", path};
    if (max_lines == 0) max_lines = 1;
    LineChunk chunk;
    try {
      while (chunk.lines.size() < max_lines) {
        const std::size_t newline = buffer.find('\n', scanned);
        if (newline != std::string::npos) {
          const std::string_view line(buffer.data() + start, newline - start);
          chunk.lines.emplace_back(without_cr(line));
          start = scanned = newline + 1;
          continue;
        }
        scanned = buffer.size();
        if (at_eof) {
          if (start < buffer.size()) chunk.lines.emplace_back(buffer, start);
          start = scanned = buffer.size();
          break;
        }
        if (buffer.size() - start > max_line_bytes) {
          error = IoError{
              EFBIG,
              "line is longer than the limit of " + std::to_string(max_line_bytes) + " bytes",
              path};
          break;
        }
        if (!read_block()) break;
      }
    } catch (const std::bad_alloc&) {
      error = os_error(ENOMEM, path);
    }
    // Rule 3: lines already taken come before the error.
    if (error && chunk.lines.empty()) return *error;
    chunk.end = !error && at_eof && start == buffer.size();
    return chunk;
  }

  // Drops the consumed bytes and appends one block; false on a read error
  // (kept in `error`).
  bool read_block() {
    if (start > 0) {
      buffer.erase(0, start);
      scanned -= start;
      start = 0;
    }
    const std::size_t old_size = buffer.size();
    buffer.resize(old_size + kReadBlock);
    ssize_t got;
    do {
      got = ::read(fd.get(), buffer.data() + old_size, kReadBlock);
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      const int code = errno;
      buffer.resize(old_size);
      error = os_error(code, path);
      return false;
    }
    buffer.resize(old_size + static_cast<std::size_t>(got));
    if (got == 0) at_eof = true;
    return true;
  }

  void close() {
    closed = true;
    fd.reset();
    buffer = std::string();
  }

  BlockingStrand strand;
  const std::string path;
  const std::uint64_t max_line_bytes;

  // Strand jobs only; the strand's mutex orders them.
  UniqueFd fd;
  std::string buffer;
  std::size_t start = 0;    // first byte not yet returned
  std::size_t scanned = 0;  // [start, scanned) holds no '\n'
  bool at_eof = false;
  bool closed = false;
  std::optional<IoError> error;  // sticky (rule 3)
};

LineReader::LineReader(BlockingPool& pool, std::string path, std::uint64_t max_line_bytes)
    : state_(std::make_shared<State>(pool, std::move(path), max_line_bytes)) {
  // Rule 1. A rejected open runs here, before any other job can exist.
  state_->strand.submit([state = state_](bool accepted) {
    if (!accepted) {
      state->error = shut_down_error(state->path);
      return;
    }
    state->open();
  });
}

void LineReader::next_chunk(std::size_t max_lines, IoCallback<LineChunk> done) {
  state_->strand.submit([state = state_, max_lines, done = std::move(done)](bool accepted) {
    if (!accepted) return done(shut_down_error(state->path));
    done(state->next(max_lines));
  });
}

void LineReader::close() {
  state_->strand.submit([state = state_](bool accepted) {
    if (accepted) state->close();
  });
}

const std::string& LineReader::path() const {
  return state_->path;
}

}  // namespace weft
