#include "engine/resource.h"

#include "engine/exception.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/runtime.h"
#include "engine/script_task.h"
#include "engine/stdlib/native_args.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"

namespace weft {

void Resource::stop() {
  throw_error(ExcClass::TypeException, std::string(kind_) + " has no method 'stop'");
}

Value Resource::write_async(Runtime&, std::string, std::optional<std::chrono::nanoseconds>) {
  throw_error(ExcClass::TypeException, std::string(kind_) + " has no method 'write_async'");
}

ServiceResource::ServiceResource(const char* kind, Runtime& runtime)
    : Resource(kind), stopped_(make_future(runtime)) {
  (void)ScriptTask::spawn_service_keeper(runtime, builtin_named(runtime, "__await_stop"),
                                         {stopped_}, kind);
}

void ServiceResource::stop() {
  stop_service();
  (void)stopped_.as<Future>()->complete(Value());
}

void ServiceResource::release_children(DestroyWorklist& worklist) {
  release_into(stopped_, worklist);
}

namespace {

Value resource_stop(NativeCall& call) {
  const Value& self = call.arg(0);
  if (!self.is(ObjType::Resource)) throw_error(ExcClass::TypeException, "stop needs a server");
  self.as<Resource>()->stop();
  return Value();
}

Value resource_write_async(NativeCall& call) {
  const Value& self = call.arg(0);
  const Value& text = call.arg(1);
  if (!text.is(ObjType::String)) {
    throw_error(ExcClass::TypeException, "write_async expects a String, got " + type_name(text));
  }
  return self.as<Resource>()->write_async(call.runtime, text.as<String>()->str(),
                                          timeout_arg(call, "write_async"));
}

}  // namespace

void register_resource_methods(Runtime& runtime) {
  runtime.register_native_method(ObjType::Resource, "stop", resource_stop, 1, 1);
  runtime.register_native_method(ObjType::Resource, "write_async", resource_write_async, 2, 2,
                                 {"timeout"});
}

}  // namespace weft
