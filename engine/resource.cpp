#include "engine/resource.h"

#include "engine/exception.h"
#include "engine/runtime.h"
#include "engine/stdlib/stdlib.h"

namespace weft {

void Resource::stop() {
  throw_error(ExcClass::TypeException, std::string(kind_) + " has no method 'stop'");
}

namespace {

Value resource_stop(NativeCall& call) {
  const Value& self = call.arg(0);
  if (!self.is(ObjType::Resource)) throw_error(ExcClass::TypeException, "stop needs a server");
  self.as<Resource>()->stop();
  return Value();
}

}  // namespace

void register_resource_methods(Runtime& runtime) {
  runtime.register_native_method(ObjType::Resource, "stop", resource_stop, 1, 1);
}

}  // namespace weft
