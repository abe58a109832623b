// TCP for scripts (LANGUAGE.md section 5) on io/tcp_connection.h and
// io/tcp_listener.h:
//
//   (tcp/connect_async host port ^timeout s) -> future of a TcpConnection
//   (conn .read_async ^timeout s) -> future of the bytes available, as a
//       String, or nil once the peer has closed its side
//   (conn .write_async text ^timeout s) -> future of nil once every byte is sent
//   (conn .close), conn/peer, conn/local
//   (tcp/listen ^port p handler) -> a TcpListener (listener/port,
//       listener/address, (listener .stop)); `handler` gets each
//       connection in a task of its own.
//
// Failures fail the future with NetworkException naming the address
// (TimeoutException for ^timeout). Each future is an operation future
// (engine/future.h rule 5): cancelling it cancels the socket operation. A
// listener keeps the program alive until it is stopped, as an HTTP server
// does (engine/stdlib/http.cpp).
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "engine/exception.h"
#include "engine/format.h"
#include "engine/future.h"
#include "engine/map.h"
#include "engine/resource.h"
#include "engine/runtime.h"
#include "engine/script_task.h"
#include "engine/stdlib/native_args.h"
#include "engine/stdlib/stdlib.h"
#include "engine/string.h"
#include "io/io_service.h"
#include "io/tcp_connection.h"
#include "io/tcp_listener.h"

namespace weft {

namespace {

class TcpConnectionObject final : public Resource {
 public:
  explicit TcpConnectionObject(TcpConnection connection)
      : Resource("TcpConnection"), connection_(std::move(connection)) {}
  Value field(std::string_view name) const override {
    if (name == "peer") return make_string(connection_.peer_address());
    if (name == "local") return make_string(connection_.local_address());
    return Value();
  }
  std::string describe() const override { return "TcpConnection " + connection_.peer_address(); }
  const TcpConnection& connection() const { return connection_; }
  Value write_async(Runtime& runtime, std::string data,
                    std::optional<std::chrono::nanoseconds> timeout) override;

 private:
  TcpConnection connection_;
};

class TcpListenerObject final : public ServiceResource {
 public:
  TcpListenerObject(TcpListener listener, Runtime& runtime)
      : ServiceResource("TcpListener", runtime), listener_(std::move(listener)) {}
  Value field(std::string_view name) const override {
    if (name == "port") return Value::integer(listener_.port());
    if (name == "address") return make_string(listener_.address());
    return Value();
  }
  std::string describe() const override { return "TcpListener " + listener_.address(); }
  void stop_service() override { listener_.stop(); }

 private:
  TcpListener listener_;
};

// Every byte handed to the kernel, in call order.
Value TcpConnectionObject::write_async(Runtime& runtime, std::string data,
                                       std::optional<std::chrono::nanoseconds> timeout) {
  runtime.count(RuntimeEvent::TcpOperation);
  Value future = make_future(runtime);
  if (runtime.tracing()) {
    runtime.trace_io_begin(*future.as<Future>(), "tcp write " + connection_.peer_address());
  }
  NetOperation op = connection_.write(
      std::move(data),
      [future](std::optional<NetError> error) mutable {
        Future* f = future.as<Future>();
        if (error) {
          (void)f->fail(network_failure(*error));
        } else {
          (void)f->complete(Value());
        }
        future = Value();
      },
      timeout);
  if (op.valid()) future.as<Future>()->set_operation([op] { op.cancel(); });
  return future;
}

const TcpConnection& connection_arg(const NativeCall& call, const char* method) {
  const Value& self = call.arg(0);
  if (!self.is(ObjType::Resource) ||
      std::string_view(self.as<Resource>()->kind()) != "TcpConnection") {
    throw_error(ExcClass::TypeException, std::string(method) + " needs a TcpConnection");
  }
  return static_cast<const TcpConnectionObject*>(self.as<Resource>())->connection();
}

Value connect_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::TcpOperation);
  const char* fn = "tcp/connect_async";
  std::string host = string_arg(call, 0, fn);
  uint16_t port = port_arg(call.arg(1), fn);
  Value future = make_future(call.runtime);
  if (call.runtime.tracing()) {
    call.runtime.trace_io_begin(*future.as<Future>(),
                                "tcp connect " + host + ":" + std::to_string(port));
  }
  NetOperation op = tcp_connect(
      call.runtime.io(), std::move(host), port,
      [future](NetResult<TcpConnection> result) mutable {
        Future* f = future.as<Future>();
        if (result.ok()) {
          (void)f->complete(Value::adopt(new TcpConnectionObject(std::move(result).value())));
        } else {
          (void)f->fail(network_failure(result.error()));
        }
        future = Value();
      },
      timeout_arg(call, fn));
  if (op.valid()) future.as<Future>()->set_operation([op] { op.cancel(); });
  return future;
}

Value read_async(NativeCall& call) {
  call.runtime.count(RuntimeEvent::TcpOperation);
  const TcpConnection& connection = connection_arg(call, "read_async");
  Value future = make_future(call.runtime);
  if (call.runtime.tracing()) {
    call.runtime.trace_io_begin(*future.as<Future>(), "tcp read " + connection.peer_address());
  }
  NetOperation op = connection.read_some(
      [future](NetResult<std::optional<std::string>> result) mutable {
        Future* f = future.as<Future>();
        if (!result.ok()) {
          (void)f->fail(network_failure(result.error()));
        } else if (result.value().has_value()) {
          (void)f->complete(make_string(std::move(*result.value())));
        } else {
          (void)f->complete(Value());  // end of stream
        }
        future = Value();
      },
      timeout_arg(call, "read_async"));
  if (op.valid()) future.as<Future>()->set_operation([op] { op.cancel(); });
  return future;
}

Value close(NativeCall& call) {
  connection_arg(call, "close").close();
  return Value();
}

Value listen(NativeCall& call) {
  call.runtime.count(RuntimeEvent::TcpOperation);
  const char* fn = "tcp/listen";
  Value handler = call.arg(0);
  if (!handler.is(ObjType::Closure) && !handler.is(ObjType::Native)) {
    throw_error(ExcClass::TypeException, std::string(fn) + " takes a handler function");
  }
  Value port = keyword_arg(call, "port");
  uint16_t chosen = port.is_nil() ? 0 : port_arg(port, fn);
  Value host = keyword_arg(call, "host");
  std::string address = host.is(ObjType::String) ? host.as<String>()->str() : "0.0.0.0";
  Runtime& runtime = call.runtime;
  NetResult<TcpListener> listener = tcp_listen(
      runtime.io(), chosen,
      [&runtime, handler](TcpConnection connection) {
        Value conn = Value::adopt(new TcpConnectionObject(std::move(connection)));
        // Each connection in a task of its own; a failure is reported as
        // any unawaited task's is.
        (void)ScriptTask::spawn_callback(runtime, handler, {conn}, handler);
      },
      address);
  if (!listener.ok()) {
    throw_error(ExcClass::NetworkException, std::string(fn) + ": " + listener.error().address +
                                                ": " + listener.error().message);
  }
  return Value::adopt(new TcpListenerObject(std::move(listener).value(), runtime));
}

}  // namespace

void register_tcp_builtins(Runtime& runtime) {
  runtime.register_native("tcp/connect_async", connect_async, 2, 2, {"timeout"});
  runtime.register_native("tcp/listen", listen, 1, 1, {"port", "host"});
  runtime.register_native_method(ObjType::Resource, "read_async", read_async, 1, 1, {"timeout"});
  runtime.register_native_method(ObjType::Resource, "close", close, 1, 1);
}

}  // namespace weft
