// LineReader: a file's lines, read ahead a chunk at a time, for the io/lines
// channel of the language. Only one read block (64 KiB) and the current
// line are held in memory beside the chunk being returned, so a file larger
// than memory flows through.
//
// Implementation overview
// =======================
// Like FileWriter, the reader's State (the descriptor, the read buffer, the
// end and error flags) is touched only by jobs of its BlockingStrand
// (io/blocking_strand.h), one at a time in call order, ordered by the
// strand's mutex; path and max_line_bytes are immutable.
//
// The buffer holds bytes read and not yet returned: [start, size). Bytes in
// [start, scanned) are known to hold no '\n', so a long line is scanned
// once. Consumed bytes are dropped before each read, keeping the buffer at
// one line plus one block.
//
// Rules
// -----
//   1. Open. The constructor queues the open as the strand's first job; an
//      open error (ENOENT, EACCES, EISDIR ...) is reported by the first
//      next_chunk.
//   2. Chunks. next_chunk(n) returns up to n lines (n = 0 counts as 1),
//      split as io/file_ops.h split_lines says, in file order across calls.
//      `end` is true once no line is left; the chunk that carries it may be
//      empty, and every later call returns an empty chunk with `end`.
//   3. Errors stick. A read error, or a line longer than max_line_bytes
//      (EFBIG), is returned by the call that meets it, unless that call has
//      lines already: then those lines come first and the error comes with
//      the next call. Every later call returns the same error.
//   4. Close. close() is queued after the pending chunks and releases the
//      descriptor; later next_chunk calls get EBADF. Dropping the last
//      handle (with no job queued) closes it too, on the dropping thread.
//   5. Shutdown. After IoService shutdown began, next_chunk gets ESHUTDOWN
//      at once on the calling thread (strand rule 1).
//
// Lifetime: a handle may be dropped at any time, but must not be used after
// its IoService is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/io_result.h"

namespace weft {

class BlockingPool;

struct LineChunk {
  std::vector<std::string> lines;
  bool end = false;  // no line is left after these (rule 2)
};

class LineReader {
 public:
  // Refers to no file; next_chunk and close must not be called on it.
  LineReader() noexcept = default;

  // Rule 2. The callback runs on a pool thread. Any thread.
  void next_chunk(std::size_t max_lines, IoCallback<LineChunk> done);
  // Rule 4. Any thread.
  void close();

  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  [[nodiscard]] const std::string& path() const;

 private:
  friend class FileService;
  LineReader(BlockingPool& pool, std::string path, std::uint64_t max_line_bytes);

  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace weft
