#include "io/file_service.h"

#include <new>
#include <utility>

#include "io/blocking_pool.h"
#include "io/file_ops.h"
#include "io/io_config.h"

namespace weft {

FileService::FileService(BlockingPool& pool, const IoConfig& config)
    : pool_(pool), max_file_bytes_(config.max_file_bytes), sync_writes_(config.sync_writes) {}

void FileService::read_file(std::string path, IoCallback<std::string> done) {
  pool_.submit(
      [path = std::move(path), done = std::move(done), max = max_file_bytes_](bool accepted) {
        if (!accepted) return done(shut_down_error(path));
        done(read_whole_file(path, max));
      });
}

void FileService::write_file(std::string path, std::string text, IoCallback<void> done) {
  pool_.submit([path = std::move(path), text = std::move(text), done = std::move(done),
                sync = sync_writes_](bool accepted) {
    if (!accepted) return done(shut_down_error(path));
    done(write_whole_file(path, text, WriteMode::Truncate, sync));
  });
}

void FileService::append_file(std::string path, std::string text, IoCallback<void> done) {
  pool_.submit([path = std::move(path), text = std::move(text), done = std::move(done),
                sync = sync_writes_](bool accepted) {
    if (!accepted) return done(shut_down_error(path));
    done(write_whole_file(path, text, WriteMode::Append, sync));
  });
}

void FileService::read_lines(std::string path, IoCallback<std::vector<std::string>> done) {
  pool_.submit(
      [path = std::move(path), done = std::move(done), max = max_file_bytes_](bool accepted) {
        if (!accepted) return done(shut_down_error(path));
        IoResult<std::string> text = read_whole_file(path, max);
        if (!text.ok()) return done(text.error());
        std::vector<std::string> lines;
        try {
          lines = split_lines(text.value());
        } catch (const std::bad_alloc&) {
          return done(os_error(ENOMEM, path));
        }
        done(std::move(lines));
      });
}

void FileService::list_dir(std::string path, IoCallback<std::vector<std::string>> done) {
  pool_.submit([path = std::move(path), done = std::move(done)](bool accepted) {
    if (!accepted) return done(shut_down_error(path));
    done(list_directory(path));
  });
}

void FileService::delete_file(std::string path, IoCallback<void> done) {
  pool_.submit([path = std::move(path), done = std::move(done)](bool accepted) {
    if (!accepted) return done(shut_down_error(path));
    done(remove_file(path));
  });
}

bool FileService::exists(const std::string& path) const {
  return path_exists(path);
}

FileWriter FileService::open_writer(std::string path, bool append) {
  return FileWriter(pool_, std::move(path), append ? WriteMode::Append : WriteMode::Truncate,
                    sync_writes_);
}

LineReader FileService::open_lines(std::string path) {
  return LineReader(pool_, std::move(path), max_file_bytes_);
}

}  // namespace weft
