#include "engine/exception.h"

#include "engine/string.h"

namespace weft {

namespace {

constexpr const char* kNames[] = {
#define EXCEPTION_CLASS(name, parent) #name,
#include "engine/exception_classes.def"
#undef EXCEPTION_CLASS
};

constexpr ExcClass kParents[] = {
#define EXCEPTION_CLASS(name, parent) ExcClass::parent,
#include "engine/exception_classes.def"
#undef EXCEPTION_CLASS
};

}  // namespace

const char* exc_class_name(ExcClass cls) { return kNames[static_cast<int>(cls)]; }

std::optional<ExcClass> exc_class_from_name(std::string_view name) {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (name == kNames[i]) return static_cast<ExcClass>(i);
  }
  return std::nullopt;
}

bool exc_is_a(ExcClass cls, ExcClass ancestor) {
  for (;;) {
    if (cls == ancestor) return true;
    ExcClass parent = kParents[static_cast<int>(cls)];
    if (parent == cls) return false;
    cls = parent;
  }
}

void Exception::release_children(DestroyWorklist& worklist) {
  release_into(message_, worklist);
  release_into(payload_, worklist);
  release_into(trace_, worklist);
}

Value make_exception(ExcClass cls, std::string_view message, Value payload) {
  return Value::adopt(new Exception(cls, make_string(message), std::move(payload)));
}

}  // namespace weft
