// Synchronous file helpers (decision 31): io/read io/read_lines io/write
// io/append io/exists io/list_dir. Failures throw IOError with the
// system's message and the path: "io/read: No such file or directory: x.txt".
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/runtime.h"
#include "engine/stdlib/native_args.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"

namespace weft {

namespace {

[[noreturn]] void throw_io_error(const char* fn, const std::error_code& error,
                                 const std::string& path) {
  throw_error(ExcClass::IOError, std::string(fn) + ": " + error.message() + ": " + path);
}

[[noreturn]] void throw_errno(const char* fn, int error, const std::string& path) {
  throw_io_error(fn, std::error_code(error, std::generic_category()), path);
}

// Closes the file on every path out.
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

std::string read_file(const char* fn, const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) throw_errno(fn, errno, path);
  std::string text;
  char buffer[65536];
  for (;;) {
    size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, n);
    if (n < sizeof buffer) break;
  }
  if (std::ferror(file.get())) throw_errno(fn, errno, path);
  return text;
}

void write_file(const char* fn, const std::string& path, std::string_view text, const char* mode) {
  File file(std::fopen(path.c_str(), mode));
  if (!file) throw_errno(fn, errno, path);
  if (std::fwrite(text.data(), 1, text.size(), file.get()) != text.size()) {
    throw_errno(fn, errno, path);
  }
  std::FILE* raw = file.release();
  if (std::fclose(raw) != 0) throw_errno(fn, errno, path);
}

Value read(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  return make_string(read_file("io/read", path_arg(call, 0, "io/read")));
}

// Lines without their "\n" (or "\r\n"); a final newline ends the last line
// rather than starting an empty one.
Value read_lines(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  std::string text = read_file("io/read_lines", path_arg(call, 0, "io/read_lines"));
  std::string_view rest = text;
  std::vector<Value> lines;
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(make_string(line));
  }
  return make_array(std::move(lines));
}

Value write(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  write_file("io/write", path_arg(call, 0, "io/write"), string_arg(call, 1, "io/write"), "wb");
  return Value();
}

Value append(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  write_file("io/append", path_arg(call, 0, "io/append"), string_arg(call, 1, "io/append"), "ab");
  return Value();
}

Value exists(NativeCall& call) {
  std::error_code error;
  bool found = std::filesystem::exists(path_arg(call, 0, "io/exists"), error);
  return Value::boolean(found && !error);
}

// Sorted names, without "." and "..".
Value list_dir(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  const std::string& path = path_arg(call, 0, "io/list_dir");
  std::error_code error;
  std::filesystem::directory_iterator it(path, error);
  if (error) throw_io_error("io/list_dir", error, path);
  std::vector<std::string> names;
  while (it != std::filesystem::directory_iterator()) {
    names.push_back(it->path().filename().string());
    it.increment(error);
    if (error) throw_io_error("io/list_dir", error, path);
  }
  std::sort(names.begin(), names.end());
  std::vector<Value> items;
  items.reserve(names.size());
  for (std::string& name : names) items.push_back(make_string(std::move(name)));
  return make_array(std::move(items));
}

}  // namespace

void register_file_builtins(Runtime& runtime) {
  runtime.register_native("io/read", read, 1, 1);
  runtime.register_native("io/read_lines", read_lines, 1, 1);
  runtime.register_native("io/write", write, 2, 2);
  runtime.register_native("io/append", append, 2, 2);
  runtime.register_native("io/exists", exists, 1, 1);
  runtime.register_native("io/list_dir", list_dir, 1, 1);
}

}  // namespace weft
