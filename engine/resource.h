// A handle on something the runtime holds outside script values: an HTTP
// server (engine/stdlib/http.cpp), later connections and listeners. Each
// kind names itself (typeof, printing) and answers `r/field` reads; its
// methods are registered on ObjType::Resource and check the kind.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "engine/object.h"
#include "engine/value.h"

namespace weft {

class Runtime;

class Resource : public Obj {
 public:
  explicit Resource(const char* kind) : Obj(ObjType::Resource), kind_(kind) {}
  // "HttpServer"...: the type name scripts see.
  const char* kind() const { return kind_; }
  // `r/name`; nil for an unknown field. Any thread.
  virtual Value field(std::string_view name) const = 0;
  // How it prints: "<HttpServer 127.0.0.1:8080>".
  virtual std::string describe() const = 0;
  // `(r .stop)`: servers and listeners stop; other kinds have no such
  // method (TypeException). Any thread.
  virtual void stop();
  // `(r .write_async text ^timeout s)`: connections and file writers give
  // a future of nil (a file writer ignores the timeout); other kinds have
  // no such method (TypeException).
  virtual Value write_async(Runtime& runtime, std::string text,
                            std::optional<std::chrono::nanoseconds> timeout);
  void release_children(DestroyWorklist&) override {}

 private:
  const char* kind_;
};

// A server or listener: it keeps the program alive until it is stopped,
// as in Node. The constructor starts a task that awaits `stopped_`;
// stop() stops the service (stop_service) and completes `stopped_`.
class ServiceResource : public Resource {
 public:
  ServiceResource(const char* kind, Runtime& runtime);
  void stop() final;
  void release_children(DestroyWorklist& worklist) override;

 protected:
  virtual void stop_service() = 0;

 private:
  Value stopped_;
};

}  // namespace weft
