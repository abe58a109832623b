// The asynchronous file and process functions of LANGUAGE.md section 5:
// io/read_async io/write_async io/append_async io/read_lines_async
// io/list_dir_async io/delete_async process/run_async, and (io/writer path
// ^append false), whose .write_async and .close_async run in call order
// (io/file_writer.h). Each starts one
// operation on the runtime's IoService (io/file_service.h,
// io/process_service.h) and gives a future that the operation's callback
// settles, on a blocking-pool thread or the I/O thread. Those callbacks only
// build the result and settle: no script code runs there.
//
// A failure fails the future with IOError "fn: path: system message". A
// process future is an operation future (engine/future.h rule 5):
// cancelling it, or cancelling the only task that awaits it, kills the
// child.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/map.h"
#include "engine/resource.h"
#include "engine/runtime.h"
#include "engine/stdlib/native_args.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"
#include "io/file_service.h"
#include "io/io_service.h"
#include "io/process_service.h"

namespace weft {

namespace {

Value io_failure(const char* fn, const IoError& error) {
  return make_exception(ExcClass::IOError, std::string(fn) + ": " + error.describe());
}

// A callback that settles `future` with convert(value), or fails it.
template <class T, class Convert>
IoCallback<T> settle_future(Value future, const char* fn, Convert convert) {
  return [future = std::move(future), fn, convert](IoResult<T> result) mutable {
    Future* f = future.as<Future>();
    if (result.ok()) {
      (void)f->complete(convert(std::move(result).value()));
    } else {
      (void)f->fail(io_failure(fn, result.error()));
    }
    future = Value();
  };
}

IoCallback<void> settle_nil(Value future, const char* fn) {
  return [future = std::move(future), fn](IoResult<void> result) mutable {
    Future* f = future.as<Future>();
    if (result.ok()) {
      (void)f->complete(Value());
    } else {
      (void)f->fail(io_failure(fn, result.error()));
    }
    future = Value();
  };
}

Value strings_to_array(std::vector<std::string> items) {
  std::vector<Value> values;
  values.reserve(items.size());
  for (std::string& item : items) values.push_back(make_string(std::move(item)));
  return make_array(std::move(values));
}

Value read_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  const char* fn = "io/read_async";
  std::string path = path_arg(call, 0, fn);
  Value future = make_future(call.runtime);
  if (call.runtime.tracing())
    call.runtime.trace_io_begin(*future.as<Future>(), std::string(fn) + " " + path);
  call.runtime.io().files().read_file(std::move(path),
                                      settle_future<std::string>(future, fn, [](std::string text) {
                                        return make_string(std::move(text));
                                      }));
  return future;
}

Value write_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  const char* fn = "io/write_async";
  std::string path = path_arg(call, 0, fn);
  std::string text = string_arg(call, 1, fn);
  Value future = make_future(call.runtime);
  if (call.runtime.tracing())
    call.runtime.trace_io_begin(*future.as<Future>(), std::string(fn) + " " + path);
  call.runtime.io().files().write_file(std::move(path), std::move(text), settle_nil(future, fn));
  return future;
}

Value append_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  const char* fn = "io/append_async";
  std::string path = path_arg(call, 0, fn);
  std::string text = string_arg(call, 1, fn);
  Value future = make_future(call.runtime);
  if (call.runtime.tracing())
    call.runtime.trace_io_begin(*future.as<Future>(), std::string(fn) + " " + path);
  call.runtime.io().files().append_file(std::move(path), std::move(text), settle_nil(future, fn));
  return future;
}

Value read_lines_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  const char* fn = "io/read_lines_async";
  std::string path = path_arg(call, 0, fn);
  Value future = make_future(call.runtime);
  if (call.runtime.tracing())
    call.runtime.trace_io_begin(*future.as<Future>(), std::string(fn) + " " + path);
  call.runtime.io().files().read_lines(
      std::move(path), settle_future<std::vector<std::string>>(future, fn, strings_to_array));
  return future;
}

Value list_dir_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  const char* fn = "io/list_dir_async";
  std::string path = path_arg(call, 0, fn);
  Value future = make_future(call.runtime);
  if (call.runtime.tracing())
    call.runtime.trace_io_begin(*future.as<Future>(), std::string(fn) + " " + path);
  call.runtime.io().files().list_dir(
      std::move(path), settle_future<std::vector<std::string>>(future, fn, strings_to_array));
  return future;
}

Value delete_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  const char* fn = "io/delete_async";
  std::string path = path_arg(call, 0, fn);
  Value future = make_future(call.runtime);
  if (call.runtime.tracing())
    call.runtime.trace_io_begin(*future.as<Future>(), std::string(fn) + " " + path);
  call.runtime.io().files().delete_file(std::move(path), settle_nil(future, fn));
  return future;
}

// (process/run_async cmd [args...]) or (process/run_async cmd arg1 arg2 ...)
Value run_process_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::ProcessStarted);
  const char* fn = "process/run_async";
  std::vector<std::string> argv{string_arg(call, 0, fn)};
  for (uint32_t i = 1; i < call.count; ++i) {
    const Value& arg = call.arg(i);
    if (arg.is(ObjType::Array)) {
      for (const Value& item : arg.as<Array>()->snapshot()) {
        if (!item.is(ObjType::String)) {
          throw_error(ExcClass::TypeException,
                      std::string(fn) + " arguments must be Strings, got " + type_name(item));
        }
        argv.push_back(item.as<String>()->str());
      }
    } else {
      argv.push_back(string_arg(call, i, fn));
    }
  }
  Value future = make_future(call.runtime);
  if (call.runtime.tracing())
    call.runtime.trace_io_begin(*future.as<Future>(), std::string(fn) + " " + argv[0]);
  ProcessHandle handle = call.runtime.io().processes().run(
      std::move(argv), settle_future<ProcessResult>(future, fn, [](ProcessResult result) {
        Value map = make_map();
        Map* m = map.as<Map>();
        m->set("code", Value::integer(result.code));
        m->set("stdout", make_string(std::move(result.out)));
        m->set("stderr", make_string(std::move(result.err)));
        return map;
      }));
  // Future rule 5: cancelling the future kills the child.
  if (handle.valid()) future.as<Future>()->set_operation([handle] { (void)handle.cancel(); });
  return future;
}

class FileWriterObject final : public Resource {
 public:
  explicit FileWriterObject(FileWriter writer)
      : Resource("FileWriter"), writer_(std::move(writer)) {}
  Value field(std::string_view name) const override {
    return name == "path" ? make_string(writer_.path()) : Value();
  }
  std::string describe() const override { return "FileWriter " + writer_.path(); }
  FileWriter& writer() { return writer_; }
  Value write_async(Runtime& runtime, std::string text,
                    std::optional<std::chrono::nanoseconds>) override {
    Value future = make_future(runtime);
    writer_.write(std::move(text), settle_nil(future, "write_async"));
    return future;
  }

 private:
  FileWriter writer_;
};

FileWriter& writer_arg(const NativeCall& call, const char* method) {
  const Value& self = call.arg(0);
  if (!self.is(ObjType::Resource) ||
      std::string_view(self.as<Resource>()->kind()) != "FileWriter") {
    throw_error(ExcClass::TypeException, std::string(method) + " needs a FileWriter");
  }
  return static_cast<FileWriterObject*>(self.as<Resource>())->writer();
}

// (io/writer path ^append false): the file is opened by the first write.
Value open_writer(NativeCall& call) {
  const char* fn = "io/writer";
  std::string path = path_arg(call, 0, fn);
  bool append = false;
  if (call.keywords != nullptr) append = call.keywords->get("append").truthy();
  return Value::adopt(
      new FileWriterObject(call.runtime.io().files().open_writer(std::move(path), append)));
}

Value writer_close_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  const char* fn = "close_async";
  FileWriter& writer = writer_arg(call, fn);
  Value future = make_future(call.runtime);
  writer.close(settle_nil(future, fn));
  return future;
}

// The reader behind (io/lines path): the prelude's io_lines feeds a
// channel from it, a chunk of lines per __next_lines.
class LineReaderObject final : public Resource {
 public:
  explicit LineReaderObject(LineReader reader)
      : Resource("LineReader"), reader_(std::move(reader)) {}
  ~LineReaderObject() override { reader_.close(); }
  Value field(std::string_view name) const override {
    return name == "path" ? make_string(reader_.path()) : Value();
  }
  std::string describe() const override { return "LineReader " + reader_.path(); }
  LineReader& reader() { return reader_; }

 private:
  LineReader reader_;
};

Value open_line_reader(NativeCall& call) {
  call.runtime.count(RuntimeEvent::FileOperation);
  std::string path = path_arg(call, 0, "io/lines");
  return Value::adopt(new LineReaderObject(call.runtime.io().files().open_lines(std::move(path))));
}

// (__next_lines reader n): a future of the next array of at most n lines,
// or of nil once the file has no line left.
Value next_lines(NativeCall& call) {
  const Value& self = call.arg(0);
  if (!self.is(ObjType::Resource) ||
      std::string_view(self.as<Resource>()->kind()) != "LineReader") {
    throw_error(ExcClass::TypeException, "__next_lines needs a LineReader");
  }
  int64_t count = call.arg(1).is_int() ? call.arg(1).as_int() : 1;
  Value future = make_future(call.runtime);
  static_cast<LineReaderObject*>(self.as<Resource>())
      ->reader()
      .next_chunk(static_cast<std::size_t>(std::max<int64_t>(count, 1)),
                  settle_future<LineChunk>(future, "io/lines", [](LineChunk chunk) {
                    if (chunk.end && chunk.lines.empty()) return Value();
                    return strings_to_array(std::move(chunk.lines));
                  }));
  return future;
}

}  // namespace

void register_io_async_builtins(Runtime& runtime) {
  runtime.register_native("__line_reader", open_line_reader, 1, 1);
  runtime.register_native("__next_lines", next_lines, 2, 2);
  runtime.register_native("io/writer", open_writer, 1, 1, {"append"});
  runtime.register_native_method(ObjType::Resource, "close_async", writer_close_async, 1, 1);
  runtime.register_native("io/read_async", read_async, 1, 1);
  runtime.register_native("io/write_async", write_async, 2, 2);
  runtime.register_native("io/append_async", append_async, 2, 2);
  runtime.register_native("io/read_lines_async", read_lines_async, 1, 1);
  runtime.register_native("io/list_dir_async", list_dir_async, 1, 1);
  runtime.register_native("io/delete_async", delete_async, 1, 1);
  runtime.register_native("process/run_async", run_process_async, 1, -1);
}

}  // namespace weft
