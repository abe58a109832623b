// FileWriter: an ordered writer, the io/writer of the language. Writes reach
// the file in the order of the write() calls, and close() comes after them.
//
// Implementation overview
// =======================
// The writer's State (the descriptor, the open error, the closed flag) is
// touched only by jobs of its BlockingStrand (io/blocking_strand.h), which
// run one at a time in call order; the strand's mutex orders each job's
// writes before the next job's reads. So State needs no lock of its own.
// path, mode and sync are immutable.
//
// Rules
// -----
//   1. Open. The constructor queues the open as the strand's first job. If
//      it fails, the error is kept, and every later write and every close
//      report it, so a writer nobody writes to still shows its failure.
//   2. Order. write() and close() queue one job each; the jobs run in the
//      order of the calls (calls from one thread, or calls the caller has
//      ordered), each callback after the previous one returned. Callbacks
//      run on a pool thread.
//   3. Each write is one write_all of its text (short writes retried). A
//      failed write is reported to its own callback; later writes are still
//      attempted.
//   4. Close. close() fsyncs if IoConfig::sync_writes, closes, and reports
//      either error. After it, writes fail with EBADF ("writer is closed")
//      and another close() succeeds doing nothing.
//   5. Dropping. Handles are shared: copies refer to one writer. When the
//      last handle and the last queued job are gone without a close(), the
//      State's destructor closes the descriptor, ignoring errors, on the
//      thread that dropped it last.
//   6. Shutdown. A write or close after IoService shutdown began gets
//      ESHUTDOWN at once on the calling thread (strand rule 1); accepted
//      ones complete first (shutdown waits for them).
//
// Lifetime: a handle may be dropped at any time, but must not be used after
// its IoService is destroyed.
#pragma once

#include <memory>
#include <string>

#include "io/file_ops.h"
#include "io/io_result.h"

namespace weft {

class BlockingPool;

class FileWriter {
 public:
  // Refers to no file; write and close must not be called on it.
  FileWriter() noexcept = default;

  // Appends text after everything written before (rule 2). Any thread.
  void write(std::string text, IoCallback<void> done);
  // Rule 4. Any thread.
  void close(IoCallback<void> done);

  [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
  [[nodiscard]] const std::string& path() const;

 private:
  friend class FileService;
  FileWriter(BlockingPool& pool, std::string path, WriteMode mode, bool sync);

  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace weft
