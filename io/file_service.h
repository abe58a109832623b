// FileService: whole-file operations (read, write, append, read lines,
// list a directory, delete, exists) and the factories of the streaming
// FileWriter and LineReader. Owned by IoService::Impl (IoService::files()).
//
// Each operation is one job on the blocking pool and one IoService
// operation (io/blocking_pool.h, rule 1). Its callback runs exactly once:
// on a pool thread with the result, or at once on the calling thread with
// an ESHUTDOWN error if the service has shut down (rule 2). The callback
// should only complete a promise: while it runs, its pool thread serves no
// other file. FileService itself holds no mutable state, so it needs no
// protocol of its own.
//
// Durability: when a write, append or writer close reports success, the
// data has been written with write(2) and the file closed, so every reader
// on the machine sees it; with IoConfig::sync_writes it was also fsync'd
// first, so it survives a power loss. Off by default, as in Node and
// Python: an fsync costs milliseconds on real disks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/file_writer.h"
#include "io/io_result.h"
#include "io/line_reader.h"

namespace weft {

class BlockingPool;
struct IoConfig;

class FileService {
 public:
  FileService(BlockingPool& pool, const IoConfig& config);
  FileService(const FileService&) = delete;
  FileService& operator=(const FileService&) = delete;

  // The file's bytes (io/ does not check that they are UTF-8). EFBIG past
  // IoConfig::max_file_bytes, EISDIR for a directory, ENOENT, EACCES ...
  void read_file(std::string path, IoCallback<std::string> done);
  // Creates or truncates the file, writes text, closes it.
  void write_file(std::string path, std::string text, IoCallback<void> done);
  // Creates the file if missing and appends text (O_APPEND).
  void append_file(std::string path, std::string text, IoCallback<void> done);
  // The file's lines, split as io/file_ops.h split_lines says; the same
  // limit as read_file.
  void read_lines(std::string path, IoCallback<std::vector<std::string>> done);
  // The names in a directory, sorted bytewise, without "." and "..".
  void list_dir(std::string path, IoCallback<std::vector<std::string>> done);
  // Removes a file (not a directory: EISDIR).
  void delete_file(std::string path, IoCallback<void> done);

  // Synchronous, on the calling thread: one stat(2), which for a local file
  // costs about as much as handing a job to the pool would.
  [[nodiscard]] bool exists(const std::string& path) const;

  // An ordered writer; the file is opened (created, truncated unless
  // `append`) by its first job, which is queued now.
  [[nodiscard]] FileWriter open_writer(std::string path, bool append);
  // A streaming line reader; the file is opened by its first job, queued now.
  [[nodiscard]] LineReader open_lines(std::string path);

 private:
  BlockingPool& pool_;
  const std::uint64_t max_file_bytes_;
  const bool sync_writes_;
};

}  // namespace weft
