// The runtime: builtins, method tables, the output stream and the options
// of one embedding of Weft. There is no global runtime; everything that
// needs one is handed it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/function.h"
#include "engine/object.h"
#include "engine/value.h"

namespace weft {

class RegexCache;

// Thrown by `(exit code)`; the runner flushes output and ends with `code`.
struct ExitRequest {
  int code;
};

struct RuntimeOptions {
  std::vector<std::string> script_args;  // $args
  bool dump_bytecode = false;
  bool trace_instructions = false;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime();

  const RuntimeOptions& options() const { return options_; }

  // Builtins are immortal and resolved by name at compile time.
  uint32_t register_builtin(std::string name, Value callable);
  void register_native(std::string name, NativeFn fn, int min_args, int max_args);
  int64_t find_builtin(std::string_view name) const;
  const Value& builtin(uint32_t index) const { return builtins_[index]; }
  const std::string& builtin_name(uint32_t index) const { return builtin_names_[index]; }

  // Methods of built-in types: a Native or a Closure called with the
  // receiver as its first argument.
  void register_method(ObjType type, std::string name, Value callable);
  void register_native_method(ObjType type, std::string name, NativeFn fn, int min_args,
                              int max_args);
  const Value* find_method(ObjType type, std::string_view name) const;

  // Makes `obj` immortal and owned by the runtime.
  void adopt_immortal(Obj* obj);

  // Script output. Buffered; flush() writes it to stdout. Safe from any
  // thread (writes are serialized; one println is never interleaved).
  void write_out(std::string_view text);
  void flush_out();
  // Tests capture output instead of writing it.
  void capture_output(std::string* sink) { capture_ = sink; }

  RegexCache& regex_cache() { return *regex_cache_; }

 private:
  RuntimeOptions options_;
  std::vector<Value> builtins_;
  std::vector<std::string> builtin_names_;
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> builtin_index_;
  std::vector<std::unordered_map<std::string, Value, StringHash, std::equal_to<>>> methods_;
  std::vector<Obj*> immortals_;
  std::mutex out_lock_;
  std::string out_buffer_;
  std::string* capture_ = nullptr;
  std::unique_ptr<RegexCache> regex_cache_;
};

}  // namespace weft
