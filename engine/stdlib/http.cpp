// HTTP for scripts (LANGUAGE.md section 5) on io/http_client.h and
// io/http_server.h:
//
//   (http/get_async url ^timeout s ^headers {...})
//   (http/post_async url body ^timeout s ^headers {...})
//       -> future of {^status 200 ^headers {...} ^body "..."}; any status is
//          a response; a failure to get one fails it with NetworkException
//          (TimeoutException for ^timeout) naming the URL. Cancelling the
//          future (or the only task awaiting it) cancels the request.
//   (http/serve ^port 8080 handler) -> an HttpServer: `server/port`,
//       `server/address`, `(server .stop)`.
//
// Serving: the I/O thread hands each request to on_request, which wraps
// it (a RawRequest: one allocation) and starts a task running
// (__http_handle handler raw) (engine/prelude.cpp): the task makes the
// request map (__http_request), on its worker, and awaits the handler's
// result when that is a future. The I/O thread is the server's one
// serial stage, so the map's dozen allocations are kept off it. A waiter
// on the task's future turns its outcome into the response: the map's
// ^status ^headers ^body, or a 500 whose cause is written to stderr when
// the handler threw. No script code runs on the I/O thread. A running
// server keeps the program alive, as in Node: serve starts a task that
// awaits the server's `stopped` future, which .stop completes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "engine/array.h"
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
#include "io/http_client.h"
#include "io/http_server.h"
#include "io/io_service.h"

namespace weft {

namespace {

HttpHeaders headers_from(const Value& v, const char* fn) {
  HttpHeaders headers;
  if (v.is_nil()) return headers;
  if (!v.is(ObjType::Map))
    throw_error(ExcClass::TypeException, std::string(fn) + " ^headers takes a Map");
  for (const auto& [key, value] : v.as<Map>()->entries()) {
    headers.emplace_back(display(key), display(value));
  }
  return headers;
}

// A field that comes more than once keeps every value, joined by ", " in
// arrival order (RFC 9110, section 5.3), as Node and Go's Header.Values
// give them; one value per name would drop the others.
Value headers_to_map(const HttpHeaders& headers) {
  Value map = make_map();
  Map& m = *map.as<Map>();
  // Only this function holds the new map: no lock (object.h rule 6).
  m.reserve(headers.size());
  for (const auto& [name, value] : headers) {
    Value earlier;
    if (m.find(name, earlier, Reach::Sole) && earlier.is(ObjType::String)) {
      m.set(make_string(name), make_string(earlier.as<String>()->str() + ", " + value),
            Reach::Sole);
    } else {
      m.set(make_string(name), make_string(value), Reach::Sole);
    }
  }
  return map;
}

Value request_async(NativeCall& call, const char* fn, std::string method, std::string body) {
  HttpClientRequest request;
  request.method = std::move(method);
  request.url = string_arg(call, 0, fn);
  request.body = std::move(body);
  request.timeout = timeout_arg(call, fn);
  request.headers = headers_from(keyword_arg(call, "headers"), fn);
  call.runtime.count(RuntimeEvent::HttpRequestSent);
  Value future = make_future(call.runtime);
  if (call.runtime.tracing()) {
    call.runtime.trace_io_begin(*future.as<Future>(), request.method + " " + request.url);
  }
  NetOperation op = http_request(call.runtime.io(), std::move(request),
                                 [future](NetResult<HttpResponse> result) mutable {
                                   Future* f = future.as<Future>();
                                   if (result.ok()) {
                                     HttpResponse& response = result.value();
                                     Value map = make_map();
                                     Map* m = map.as<Map>();
                                     m->set("status", Value::integer(response.status));
                                     m->set("headers", headers_to_map(response.headers));
                                     m->set("body", make_string(std::move(response.body)));
                                     (void)f->complete(std::move(map));
                                   } else {
                                     (void)f->fail(network_failure(result.error()));
                                   }
                                   future = Value();
                                 });
  if (op.valid()) future.as<Future>()->set_operation([op] { op.cancel(); });
  return future;
}

Value get_async(NativeCall& call) {
  return request_async(call, "http/get_async", "GET", {});
}

Value post_async(NativeCall& call) {
  return request_async(call, "http/post_async", "POST", string_arg(call, 1, "http/post_async"));
}

class HttpServerObject final : public ServiceResource {
 public:
  HttpServerObject(HttpServer server, Runtime& runtime)
      : ServiceResource("HttpServer", runtime), server_(std::move(server)) {}
  Value field(std::string_view name) const override {
    if (name == "port") return Value::integer(server_.port());
    if (name == "address") return make_string(server_.address());
    return Value();
  }
  std::string describe() const override { return "HttpServer " + server_.address(); }
  void stop_service() override { server_.stop(); }

 private:
  HttpServer server_;
};

// Turns the handler task's outcome into the response (see the top).
class ResponseWaiter final : public Waiter {
 public:
  ResponseWaiter(Value future, HttpResponder responder)
      : future_(std::move(future)), responder_(std::move(responder)) {}
  void on_settled(Outcome outcome) noexcept override {
    try {
      (void)responder_.respond(make_response(outcome));
    } catch (...) {
      (void)responder_.respond(HttpResponse{500, {}, "internal server error\n"});
    }
    delete this;
  }

 private:
  HttpResponse make_response(Outcome outcome) {
    Future* f = future_.as<Future>();
    if (outcome != Outcome::Success) {
      // A cancelled handler (a timeout, which answered and said so, or the
      // server stopping) is not logged again.
      if (outcome == Outcome::Failure) {
        std::fprintf(stderr, "http/serve: the handler failed: %s\n",
                     describe_failure(f->result()).c_str());
      }
      return HttpResponse{500, {}, "internal server error\n"};
    }
    const Value& result = f->result();
    if (!result.is(ObjType::Map)) {
      std::fprintf(stderr, "http/serve: the handler gave %s, not a response map\n",
                   type_name(result).c_str());
      return HttpResponse{500, {}, "internal server error\n"};
    }
    const Map* m = result.as<Map>();
    HttpResponse response;
    const Value status = m->get("status");
    if (!status.is_nil() && !status.is_int()) {
      return refused("^status is " + type_name(status) + ", not an Int");
    }
    if (status.is_int()) {
      // Clamped so that the check below reports it, whatever its size.
      response.status = static_cast<int>(std::clamp<std::int64_t>(status.as_int(), -1, 1000));
    }
    Value body = m->get("body");
    response.body = body.is_nil() ? std::string() : display(body);
    try {
      response.headers = headers_from(m->get("headers"), "http/serve");
    } catch (const ScriptError& error) {
      return refused(error.message);
    }
    // One the server cannot send (a status or a field it refuses) is
    // reported by the server itself (on_refused_response, set below).
    return response;
  }

  // A response the handler gave that cannot be sent: a 500, and why on
  // stderr, as for a handler that throws.
  static HttpResponse refused(const std::string& why) {
    std::fprintf(stderr, "http/serve: the handler's response cannot be sent: %s\n", why.c_str());
    return HttpResponse{500, {}, "internal server error\n"};
  }

  Value future_;
  HttpResponder responder_;
};

// A request on its way from the I/O thread to its handler's task.
class RawRequest final : public Resource {
 public:
  explicit RawRequest(HttpRequest request)
      : Resource("HttpRequest"), request_(std::move(request)) {}
  Value field(std::string_view) const override { return Value(); }
  std::string describe() const override { return "HttpRequest"; }
  // Once, by the handler's task.
  HttpRequest take() { return std::move(request_); }

 private:
  HttpRequest request_;
};

Value request_map(HttpRequest request) {
  Value map = make_map();
  Map* m = map.as<Map>();
  // Only this function holds the new map: no lock (object.h rule 6).
  m->reserve(6);
  const auto set = [m](std::string_view key, Value value) {
    m->set(make_string(key), std::move(value), Reach::Sole);
  };
  set("method", make_string(std::move(request.method)));
  set("path", make_string(std::move(request.path)));
  set("query", make_string(std::move(request.query)));
  set("headers", headers_to_map(request.headers));
  set("body", make_string(std::move(request.body)));
  set("remote", make_string(std::move(request.remote_address)));
  return map;
}

// (__http_request raw): the request map of a RawRequest.
Value http_request(NativeCall& call) {
  const Value& raw = call.arg(0);
  auto* resource = raw.is(ObjType::Resource) ? raw.as<Resource>() : nullptr;
  auto* request = dynamic_cast<RawRequest*>(resource);
  if (request == nullptr) throw_error(ExcClass::TypeException, "__http_request takes a request");
  return request_map(request->take());
}

Value serve(NativeCall& call) {
  const char* fn = "http/serve";
  Value handler = call.arg(0);
  if (!handler.is(ObjType::Closure) && !handler.is(ObjType::Native)) {
    throw_error(ExcClass::TypeException, std::string(fn) + " takes a handler function");
  }
  HttpServerOptions options;
  Value port = keyword_arg(call, "port");
  if (!port.is_nil()) options.port = port_arg(port, fn);
  Value host = keyword_arg(call, "host");
  if (host.is(ObjType::String)) options.host = host.as<String>()->str();
  // A handler that has not answered within ^handler_timeout seconds
  // (default 30) gets a 503 sent for it and is cancelled.
  std::chrono::nanoseconds handler_timeout = std::chrono::seconds(30);
  if (keyword_arg(call, "handler_timeout").is_number()) {
    double seconds = keyword_arg(call, "handler_timeout").as_number();
    if (!(seconds > 0 && seconds <= 1e6)) {
      throw_error(ExcClass::ArgumentException,
                  std::string(fn) + ": ^handler_timeout must be between 0 and 1e6 seconds");
    }
    handler_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(seconds));
  }
  options.handler_timeout = handler_timeout;
  options.on_refused_response = [](const std::string& why) {
    std::fprintf(stderr, "http/serve: the handler's response cannot be sent: %s\n", why.c_str());
  };
  Runtime& runtime = call.runtime;
  Value handle = builtin_named(runtime, "__http_handle");
  NetResult<HttpServer> server = http_serve(
      runtime.io(), options,
      [&runtime, handler, handle, handler_timeout](HttpRequest request, HttpResponder responder) {
        runtime.count(RuntimeEvent::HttpRequestServed);
        Value raw = Value::adopt(new RawRequest(std::move(request)));
        Value task =
            ScriptTask::spawn_callback(runtime, handle, {handler, std::move(raw)}, handler);
        Future* f = task.as<Future>();
        f->mark_handled();  // the waiter reports a failure
        // ^handler_timeout: the server answers 503 for the handler (the
        // connection's own deadline, no timer per request), then this.
        responder.on_timeout([task, handler_timeout] {
          std::fprintf(stderr,
                       "http/serve: the handler did not answer within %.3g s; "
                       "answered 503 and cancelled it\n",
                       std::chrono::duration<double>(handler_timeout).count());
          (void)task.as<Future>()->cancel();
        });
        auto* waiter = new ResponseWaiter(task, std::move(responder));
        if (f->core().add_waiter(*waiter) == AddWaiterResult::AlreadySettled) {
          waiter->on_settled(f->outcome());
        }
      });
  if (!server.ok())
    throw_error(ExcClass::NetworkException,
                std::string(fn) + ": " + server.error().address + ": " + server.error().message);
  // The program lives while the server does (see the top).
  return Value::adopt(new HttpServerObject(std::move(server).value(), runtime));
}

}  // namespace

void register_http_builtins(Runtime& runtime) {
  runtime.register_native("http/get_async", get_async, 1, 1, {"headers", "timeout"});
  runtime.register_native("http/post_async", post_async, 2, 2, {"headers", "timeout"});
  runtime.register_native("http/serve", serve, 1, 1, {"port", "host", "handler_timeout"});
  runtime.register_native("__http_request", http_request, 1, 1);
}

}  // namespace weft
