// FileWriter: the protocol (rules 1-6) is at the top of io/file_writer.h.
#include "io/file_writer.h"

#include <fcntl.h>

#include <optional>
#include <utility>

#include "io/blocking_strand.h"

namespace weft {

struct FileWriter::State {
  State(BlockingPool& pool, std::string path, WriteMode mode, bool sync)
      : strand(pool), path(std::move(path)), mode(mode), sync(sync) {}

  // Strand jobs only (rule 2).
  void open() {
    const int flags = O_WRONLY | O_CREAT | (mode == WriteMode::Append ? O_APPEND : O_TRUNC);
    IoResult<UniqueFd> opened = open_file(path, flags);
    if (opened.ok()) {
      fd = std::move(opened).value();
    } else {
      open_error = opened.error();
    }
  }

  IoResult<void> write(const std::string& text) {
    if (open_error) return *open_error;
    if (closed) return IoError{EBADF, "writer is closed", path};
    return write_all(fd.get(), text, path);
  }

  IoResult<void> close() {
    if (open_error) return *open_error;
    if (closed) return {};
    closed = true;
    return close_file(fd, sync, path);
  }

  BlockingStrand strand;
  const std::string path;
  const WriteMode mode;
  const bool sync;

  // Strand jobs only; the mutex of the strand orders them (rule 2). The
  // destructor closes fd if it is still open (rule 5).
  UniqueFd fd;
  std::optional<IoError> open_error;
  bool closed = false;
};

FileWriter::FileWriter(BlockingPool& pool, std::string path, WriteMode mode, bool sync)
    : state_(std::make_shared<State>(pool, std::move(path), mode, sync)) {
  // Rule 1. A rejected open runs here, before any other job can exist.
  state_->strand.submit([state = state_](bool accepted) {
    if (!accepted) {
      state->open_error = shut_down_error(state->path);
      return;
    }
    state->open();
  });
}

void FileWriter::write(std::string text, IoCallback<void> done) {
  state_->strand.submit(
      [state = state_, text = std::move(text), done = std::move(done)](bool accepted) {
        if (!accepted) return done(shut_down_error(state->path));
        done(state->write(text));
      });
}

void FileWriter::close(IoCallback<void> done) {
  state_->strand.submit([state = state_, done = std::move(done)](bool accepted) {
    if (!accepted) return done(shut_down_error(state->path));
    done(state->close());
  });
}

const std::string& FileWriter::path() const {
  return state_->path;
}

}  // namespace weft
