// println print str typeof freeze frozen? exit assert
#include <unordered_set>
#include <vector>

#include "engine/array.h"
#include "engine/exception.h"
#include "engine/format.h"
#include "engine/map.h"
#include "engine/runtime.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"

namespace weft {

namespace {

std::string join_displays(const NativeCall& call, std::string_view separator) {
  std::string out;
  for (uint32_t i = 0; i < call.count; ++i) {
    if (i > 0) out += separator;
    append_display(out, call.args[i]);
  }
  return out;
}

Value println(NativeCall& call) {
  std::string line = join_displays(call, " ");
  line += '\n';
  call.runtime.write_out(line);
  return Value();
}

Value print(NativeCall& call) {
  call.runtime.write_out(join_displays(call, " "));
  return Value();
}

Value str(NativeCall& call) {
  if (call.count == 1 && call.args[0].is(ObjType::String)) return call.args[0];
  return make_string(join_displays(call, ""));
}

Value type_of(NativeCall& call) {
  return make_string(type_name(call.arg(0)));
}

bool is_mutable_container(const Value& v) {
  return (v.is(ObjType::Array) || v.is(ObjType::Map)) && !v.as_object()->is_frozen();
}

std::vector<Value> children_of(const Value& v) {
  if (v.is(ObjType::Array)) return v.as<Array>()->snapshot();
  return v.as<Map>()->values();
}

// Freezes depth first, children before their container, so that a task
// that sees a container frozen sees everything in it frozen too (the
// acquire/release pairing of Obj::is_frozen). Cycles are cut by `seen`.
// After a container is frozen its items are read again: an item added by
// another task between the snapshot and the freeze is frozen as well.
void deep_freeze(const Value& root) {
  struct Frame {
    Value container;
    std::vector<Value> children;
    size_t next = 0;
  };
  std::unordered_set<Obj*> seen{root.as_object()};
  std::vector<Frame> stack;
  stack.push_back(Frame{root, children_of(root)});
  while (!stack.empty()) {
    Frame& top = stack.back();
    if (top.next < top.children.size()) {
      Value child = top.children[top.next++];
      if (is_mutable_container(child) && seen.insert(child.as_object()).second) {
        std::vector<Value> grandchildren = children_of(child);
        stack.push_back(Frame{std::move(child), std::move(grandchildren)});
      }
      continue;
    }
    if (top.container.is(ObjType::Array)) {
      top.container.as<Array>()->freeze();  // array.h rule 5
    } else {
      top.container.as_object()->set_flag(kFrozen);
    }
    std::vector<Value> late;
    for (Value& child : children_of(top.container)) {
      if (is_mutable_container(child) && seen.count(child.as_object()) == 0) {
        late.push_back(std::move(child));
      }
    }
    if (late.empty()) {
      stack.pop_back();
    } else {
      top.children = std::move(late);
      top.next = 0;
    }
  }
}

Value freeze(NativeCall& call) {
  Value v = call.arg(0);
  if (is_mutable_container(v)) deep_freeze(v);
  return v;
}

// Everything but an unfrozen array or map is immutable already.
Value is_frozen(NativeCall& call) {
  const Value& v = call.arg(0);
  if (v.is(ObjType::Array) || v.is(ObjType::Map)) {
    return Value::boolean(v.as_object()->is_frozen());
  }
  return Value::boolean(true);
}

Value exit_program(NativeCall& call) {
  const Value& code = call.arg(0);
  if (!code.is_nil() && !code.is_int()) {
    throw_error(ExcClass::TypeException, "exit expects an Int, got " + type_name(code));
  }
  // A process status is one byte: 256 would read as success.
  if (code.is_int() && (code.as_int() < 0 || code.as_int() > 255)) {
    throw_error(ExcClass::ArgumentException,
                "exit status must be 0 to 255, got " + std::to_string(code.as_int()));
  }
  call.runtime.flush_out();
  throw ExitRequest{code.is_int() ? static_cast<int>(code.as_int()) : 0};
}

Value assert_true(NativeCall& call) {
  if (call.arg(0).truthy()) return Value();
  const Value& message = call.arg(1);
  throw_error(ExcClass::AssertionException,
              message.is_nil() ? std::string("assertion failed") : display(message));
}

}  // namespace

void register_core_builtins(Runtime& runtime) {
  runtime.register_native("println", println, 0, -1);
  runtime.register_native("print", print, 0, -1);
  runtime.register_native("str", str, 0, -1);
  runtime.register_native("typeof", type_of, 1, 1);
  runtime.register_native("freeze", freeze, 1, 1);
  runtime.register_native("frozen?", is_frozen, 1, 1);
  runtime.register_native("exit", exit_program, 0, 1);
  runtime.register_native("assert", assert_true, 1, 2);
}

}  // namespace weft
