// Script exceptions: the class hierarchy, the heap object scripts catch,
// and the C++ exception that native code throws to raise one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <mutex>

#include "engine/object.h"
#include "scheduler/spin_lock.h"
#include "engine/value.h"

namespace weft {

enum class ExcClass : uint8_t {
#define EXCEPTION_CLASS(name, parent) name,
#include "engine/exception_classes.def"
#undef EXCEPTION_CLASS
};

const char* exc_class_name(ExcClass cls);
std::optional<ExcClass> exc_class_from_name(std::string_view name);
// True when `cls` is `ancestor` or derives from it.
bool exc_is_a(ExcClass cls, ExcClass ancestor);

// The value a script sees in `$ex`. Immutable once thrown, except that the
// VM fills `trace` when it is first raised; since one exception value may be
// thrown by several tasks at once, the trace is guarded by `lock_` (taken
// for a copy or a single store, nothing else).
class Exception final : public Obj {
 public:
  Exception(ExcClass cls, Value message, Value payload)
      : Obj(ObjType::Exception), cls_(cls), message_(std::move(message)),
        payload_(std::move(payload)) {}

  ExcClass cls() const { return cls_; }
  const Value& message() const { return message_; }  // a String
  const Value& payload() const { return payload_; }  // the thrown non-exception, or nil
  Value trace() const {  // an Array of Strings, or nil
    std::lock_guard guard(lock_);
    return trace_;
  }
  bool has_trace() const {
    std::lock_guard guard(lock_);
    return !trace_.is_nil();
  }
  // Sets the trace unless one is set already.
  void set_trace(Value trace) {
    std::lock_guard guard(lock_);
    if (trace_.is_nil()) trace_.swap_with(trace);
  }

  void release_children(DestroyWorklist& worklist) override;

 private:
  ExcClass cls_;
  Value message_;
  Value payload_;
  mutable SpinLock lock_;
  Value trace_;
};

Value make_exception(ExcClass cls, std::string_view message, Value payload = Value());

// Thrown by native functions and runtime helpers; the VM turns it into an
// Exception object at the instruction that raised it.
struct ScriptError {
  ExcClass cls;
  std::string message;
};

// Thrown by native code that already has an exception value to raise.
struct ScriptThrow {
  Value exception;
};

[[noreturn]] inline void throw_error(ExcClass cls, std::string message) {
  throw ScriptError{cls, std::move(message)};
}

}  // namespace weft
