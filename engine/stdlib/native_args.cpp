#include "engine/stdlib/native_args.h"

#include "engine/exception.h"
#include "engine/format.h"
#include "engine/map.h"
#include "engine/runtime.h"
#include "engine/string.h"
#include "io/net.h"

namespace weft {

const std::string& string_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const Value& v = call.arg(i);
  if (!v.is(ObjType::String)) {
    throw_error(ExcClass::TypeException,
                std::string(fn) + " expects a String, got " + type_name(v));
  }
  return v.as<String>()->str();
}

const std::string& path_arg(const NativeCall& call, uint32_t i, const char* fn) {
  const std::string& path = string_arg(call, i, fn);
  if (path.find('\0') != std::string::npos) {
    std::string shown;
    for (char c : path) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
    throw_error(ExcClass::IOError, std::string(fn) + ": the path holds a NUL byte: " + shown);
  }
  return path;
}

Value keyword_arg(const NativeCall& call, std::string_view name) {
  return call.keywords == nullptr ? Value() : call.keywords->get(name);
}

std::optional<std::chrono::nanoseconds> timeout_arg(const NativeCall& call, const char* fn) {
  Value t = keyword_arg(call, "timeout");
  if (t.is_nil()) return std::nullopt;
  if (!t.is_int() && !t.is_float()) {
    throw_error(ExcClass::TypeException, std::string(fn) + " ^timeout takes seconds");
  }
  double seconds = t.is_int() ? static_cast<double>(t.as_int()) : t.as_float();
  if (!(seconds >= 0) || seconds > 1e9) {
    throw_error(ExcClass::ArgumentException, std::string(fn) + " ^timeout out of range");
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(seconds * 1e9));
}

uint16_t port_arg(const Value& v, const char* fn) {
  if (!v.is_int() || v.as_int() < 0 || v.as_int() > 65535) {
    throw_error(ExcClass::ArgumentException, std::string(fn) + " port must be 0-65535");
  }
  return static_cast<uint16_t>(v.as_int());
}

Value network_failure(const NetError& error) {
  ExcClass cls = error.kind == NetErrorKind::TimedOut    ? ExcClass::TimeoutException
                 : error.kind == NetErrorKind::Cancelled ? ExcClass::CancellationException
                                                         : ExcClass::NetworkException;
  return make_exception(cls, error.address + ": " + error.message);
}

Value builtin_named(Runtime& runtime, const char* name) {
  int64_t index = runtime.find_builtin(name);
  if (index < 0) throw_error(ExcClass::RuntimeException, std::string("internal: no ") + name);
  return runtime.builtin(static_cast<uint32_t>(index));
}

}  // namespace weft
